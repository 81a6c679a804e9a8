"""The published ASV site renders our history in a real browser, offline.

`asv publish` over the recorded fixture (two real releases), the libraries
vendored in (`mlxbench publish` does the same), served on localhost and opened
in headless Chromium: the graph of a benchmark must be drawn by flot with one
point per release that ran. Skipped where Chromium or its driver is missing;
.ci/run installs both.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from asv_project import ASV

from mlxbench.history import releases, timeline
from mlxbench.report import site

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "results"
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (CHROMIUM and DRIVER), reason="needs Debian's chromium and chromium-driver (.ci/run installs them)"
    ),
]

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--window-size=1280,900",
)


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("site")
    timeline.sync(work / "timeline.git", releases.load())
    shutil.copytree(FIXTURE, work / "results")
    conf = {
        "version": 1,
        "project": "mlxbench",
        "repo": str(work / "timeline.git"),
        "dvcs": "git",
        "branches": ["main"],
        "build_command": [],
        "environment_type": "virtualenv",
        "benchmark_dir": str(ROOT / "benchmarks"),
        "results_dir": "results",
        "html_dir": "html",
    }
    (work / "asv.conf.json").write_text(json.dumps(conf))
    proc = subprocess.run([ASV, "publish"], cwd=work, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert site.vendor(work / "html") == [], "a page still loads a library from the network"
    return work / "html"


@pytest.fixture(scope="module")
def server(published):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(published))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


GRAPH_POINTS = """
if (typeof $ === 'undefined' || !$.asv || !$.asv.main_json) return null;
var plot = $('#main-graph').data('plot');
if (!plot) return null;
return plot.getData().map(function (s) {
    return [s.label, s.data.filter(function (p) { return p[1] !== null; }).length];
});
"""


def graph(browser, url: str, timeout: float = 30.0) -> list[list]:
    browser.get("about:blank")  # a fresh load: a hash change alone leaves the previous graph up for a while
    browser.get(url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        series = browser.execute_script(GRAPH_POINTS)
        if series:
            return series
        time.sleep(0.2)
    raise AssertionError(f"no graph rendered at {url}")


def test_graph_has_a_point_per_release_run(browser, server, tmp_path):
    series = graph(browser, f"{server}/#ops.ReLU.time_mlx_cpu")
    assert {label for label, _ in series} == {"variant-4x3x8", "variant-2x5x7"}
    assert len(series) == 2 and all(points == 2 for _, points in series), series  # v0.2.0 and v0.32.4
    tags = browser.execute_script("return Object.keys($.asv.main_json.tags)")
    assert {"v0.2.0", "v0.32.4"} <= set(tags)
    browser.save_screenshot(str(tmp_path / "graph.png"))
    assert (tmp_path / "graph.png").read_bytes()[:4] == b"\x89PNG"


def test_a_release_without_the_api_leaves_a_gap(browser, server):
    series = graph(browser, f"{server}/#ops.LayerNorm.time_mlx_cpu")
    assert series and all(points == 1 for _, points in series), series  # only v0.32.4 has mx.fast
