"""The published site in a real browser, offline: ASV's graphs made readable, and the chip pages.

`asv publish` over the recorded fixture (two real releases) plus a made-up
second machine (a VM with results at 20 neighbouring timeline commits, and a
step up halfway, so tag labels crowd and a regression exists), with this
repository's plugin loaded as asv.conf.json loads it: the libraries vendored
in, ASV's scripts patched, the chip pages written. Served on localhost and
opened in headless Chromium: graphs drawn by flot with one point per release
that ran, tag labels that do not overlap, the legend beside the plot, no empty
grid boxes, regressions named by tag, chip pages with every table cell and
image, and no console error anywhere. Skipped where Chromium or its driver is
missing; .ci/run installs both.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from asv_project import ASV

from mlxbench.report import pages, site
from mlxbench.stack import releases, timeline

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "results"
CHROMIUM = shutil.which("chromium") or shutil.which("google-chrome")  # Debian's, or GitHub's Ubuntu runners'
DRIVER = shutil.which("chromedriver")
VM = "fixture-vm abc123"
CROWD = [c.tag for c in timeline.plan()[40:60]]
"""20 neighbouring timeline commits (MLX and torch releases) the made-up VM has results at."""

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


def add_vm(results: Path, tags: dict[str, str]) -> None:
    """A second machine: the fixture's v0.32.4 results copied to :data:`CROWD`, 3x slower from the middle on."""
    info = {"machine": VM, "config": "Fixture chip (2C+4GB)", "host": "abc123", "virtual": "kvm", "version": 1}
    (results / VM).mkdir()
    (results / VM / "machine.json").write_text(json.dumps(info))
    (source,) = (results / "fixture-cpu").glob(f"{tags['v0.32.4'][:8]}-*.json")
    doc = json.loads(source.read_text())
    for i, tag in enumerate(CROWD):
        factor = 3.0 if i >= len(CROWD) // 2 else 1.0
        params = {**doc["params"], **{k: v for k, v in info.items() if k != "version"}}  # as ASV copies them
        copy = dict(doc, commit_hash=tags[tag], params=params)
        copy["results"] = {
            name: [[v * factor if isinstance(v, float) else v for v in value[0]], *value[1:]]
            for name, value in doc["results"].items()
        }
        (results / VM / f"{tags[tag][:8]}-{doc['env_name']}.json").write_text(json.dumps(copy))


CEILINGS = {
    "backend": "mlx_cpu",
    "bandwidth_gbs": {"2097152": 40.0, "268435456": 4.0},
    "gflops": 8.0,
    "matmul_n": 1024,
    "mlx": "0.32.4",
    "torch": "2.13.0",
    "measured_at": "2026-11-24T03:30:15+0000",
}


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("site")
    tags = timeline.sync(work / "timeline.git", releases.load())
    shutil.copytree(FIXTURE, work / "results")
    add_vm(work / "results", tags)
    (work / "results" / "fixture-cpu" / "ceilings.jsonl").write_text(json.dumps(CEILINGS) + "\n")
    conf = {
        "version": 1,
        "project": "mlxbench",
        "repo": str(work / "timeline.git"),
        "dvcs": "git",
        "branches": ["main"],
        "build_command": [],
        "environment_type": "virtualenv",
        "plugins": [".mlxbench.report.site"],  # as asv.conf.json loads it
        "mlxbench_preset": "tiny",
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
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(published)))
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
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def console_errors(browser) -> list[str]:
    """The page's console errors since the last call (a missing file, a script error)."""
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def wait_for(browser, script: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = browser.execute_script(script)
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for: {script}")


GRAPH_POINTS = """
if (typeof $ === 'undefined' || !$.asv || !$.asv.main_json) return null;
var plot = $('#main-graph').data('plot');
if (!plot) return null;
return plot.getData().map(function (s) {
    return [s.label, s.data.filter(function (p) { return p[1] !== null; }).length];
});
"""


def graph(browser, url: str) -> list[list]:
    browser.get("about:blank")  # a fresh load: a hash change alone leaves the previous graph up for a while
    browser.get(url)
    return wait_for(browser, GRAPH_POINTS)


BOXES = """
return $(arguments[0]).filter(':visible').map(function () {
    var r = this.getBoundingClientRect();
    return {text: $(this).text(), title: this.title || '', left: r.left, right: r.right, top: r.top, bottom: r.bottom};
}).get();
"""


def overlap(a: dict, b: dict) -> bool:
    return a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] and b["top"] < a["bottom"]


def test_graph_has_a_point_per_release_run(browser, server, tmp_path):
    series = graph(browser, f"{server}/#ops.ReLU.time_mlx_cpu?machine=fixture-cpu")
    assert {label for label, _ in series} == {"variant-4x3x8", "variant-2x5x7"}
    assert len(series) == 2 and all(points == 2 for _, points in series), series  # v0.2.0 and v0.32.4
    tags = browser.execute_script("return Object.keys($.asv.main_json.tags)")
    assert {"v0.2.0", "v0.32.4"} <= set(tags)
    labels = browser.execute_script(BOXES, "#main-graph .mlxbench-tag")
    assert [b["text"] for b in labels] == ["v0.2.0", "v0.32.4"]  # only the tags this machine has points at
    assert browser.execute_script("return $('#range').val()") == "v0.2.0..v0.32.4"  # asv run takes tags
    browser.save_screenshot(str(tmp_path / "graph.png"))
    assert (tmp_path / "graph.png").read_bytes()[:4] == b"\x89PNG"
    assert console_errors(browser) == []


def test_a_release_without_the_api_leaves_a_gap(browser, server):
    series = graph(browser, f"{server}/#ops.LayerNorm.time_mlx_cpu?machine=fixture-cpu")
    assert series and all(points == 1 for _, points in series), series  # only v0.32.4 has mx.fast


def test_tag_labels_never_overlap_and_the_hidden_ones_show_on_hover(browser, server):
    series = graph(browser, f"{server}/#ops.ReLU.time_mlx_cpu")
    assert len(series) == 4  # two machines, two variants each
    labels = browser.execute_script(BOXES, "#main-graph .mlxbench-tag")
    shown = [b["text"] for b in labels]
    assert 2 <= len(shown) < len(CROWD) + 2, shown  # crowded: thinned, but the ends stay
    assert shown[-1] == "v0.32.4" and "v0.2.0" in shown
    for i, a in enumerate(labels):
        assert not any(overlap(a, b) for b in labels[i + 1 :]), labels
    on_hover = {tag for b in labels for tag in re.split(r", then |, ", b["title"])}
    assert set(CROWD) | {"v0.2.0", "v0.32.4"} <= on_hover  # every tag with a point: a label, or in one's title
    plain = browser.execute_script(
        "return $('#main-graph > div').filter(function () { return !$(this).hasClass('mlxbench-tag') "
        "&& Object.keys($.asv.main_json.tags).indexOf($(this).text()) >= 0; }).length"
    )
    assert plain == 0  # no label of ASV's own left


def test_the_legend_sits_beside_the_plot_and_names_what_differs(browser, server):
    graph(browser, f"{server}/#ops.ReLU.time_mlx_cpu")
    (plot,) = browser.execute_script(BOXES, "#main-graph canvas.flot-base")
    entries = browser.execute_script(BOXES, "#mlxbench-legend td.legendLabel")
    assert len(entries) == 4
    assert not any(overlap(plot, e) for e in entries)
    texts = [e["text"] for e in entries]
    assert all(t.startswith("machine-") and "; variant-" in t for t in texts), texts
    assert not any(key in t for t in texts for key in ("config-", "host-", "virtual-")), texts  # the machine's own
    browser.find_element("id", "show-legend").click()  # legend off: the plot takes the width back
    wait_for(browser, "return !$('#graph').hasClass('mlxbench-with-legend')")
    assert console_errors(browser) == []


def test_the_grid_has_a_box_per_benchmark_with_a_number_only(browser, server):
    browser.get("about:blank")
    browser.get(f"{server}/#/")
    names = wait_for(
        browser,
        "var b = $('.benchmark-container'); return b.length ? b.map(function () "
        "{ return $(this).attr('href').slice(1); }).get() : null;",
    )
    fixture = json.loads(next((FIXTURE / "fixture-cpu").glob("*-*.json")).read_text())
    assert sorted(names) == sorted(fixture["results"])  # 4 ops x 3 CPU backends x time/peakmem, no GPU boxes
    time.sleep(1)  # the boxes load their summaries as they scroll in
    assert console_errors(browser) == []
    assert browser.execute_script("return $('#nav-li-chips a').attr('href')") == "chips/index.html"


def test_regressions_are_named_by_release(browser, server):
    browser.get("about:blank")
    browser.get(f"{server}/#regressions")
    cells = wait_for(
        browser,
        "return $('#regressions-body tbody tr').map(function () { return $(this).children().eq(2).text(); }).get();",
    )
    # The made-up VM's 3x step is one commit: ASV names it alone (a range where more commits lie between).
    assert CROWD[len(CROWD) // 2] in cells, cells
    assert not any(re.search(r"\b[0-9a-f]{8}\b", c) for c in cells), cells
    assert console_errors(browser) == []


TABLES = """
return Array.from(document.querySelectorAll('table.report')).map(function (table) {
    var width = table.querySelectorAll('thead tr th').length;
    return Array.from(table.querySelectorAll('tbody tr')).map(function (row) {
        var cells = Array.from(row.children);
        return [cells.length === width, cells.filter(function (c) { return c.textContent.trim() === ''; }).length];
    });
});
"""
IMAGES = (
    "return Array.from(document.images).map(function (i) { return [i.getAttribute('src'), i.complete && "
    "i.naturalWidth > 0]; });"
)


def texts(browser, selector: str, attribute: str | None = None) -> list[str]:
    """The text (or an attribute) of each element ``selector`` finds, in document order (the chip pages: no jQuery)."""
    read = f"e.getAttribute('{attribute}')" if attribute else "e.textContent"
    return browser.execute_script(
        f"return Array.from(document.querySelectorAll(arguments[0])).map(function (e) {{ return {read}; }});",
        selector,
    )


def check_page(browser, url: str) -> None:
    """Every table row has a cell per heading, none empty; every image loaded; no console error."""
    browser.get("about:blank")
    browser.get(url)
    wait_for(browser, "return document.readyState === 'complete'")
    tables = browser.execute_script(TABLES)
    assert tables and all(rows for rows in tables), url
    assert all(full and not empty for rows in tables for full, empty in rows), (url, tables)
    assert all(loaded for _, loaded in browser.execute_script(IMAGES)), browser.execute_script(IMAGES)
    assert console_errors(browser) == [], url


def test_the_chips_index_lists_each_machine_under_its_configuration(browser, server, published):
    check_page(browser, f"{server}/chips/index.html")
    assert texts(browser, "section.chips h3") == ["Fixture chip (2C+4GB)", "fixture-cpu"]
    rows = browser.execute_script(
        "return Array.from(document.querySelectorAll('table.chips tbody tr')).map(function (r) { "
        "return Array.from(r.children).map(function (c) { return c.textContent; }); });"
    )
    assert rows[0][:3] == [f"{VM} (virtual machine (kvm))", "torch 2.13.0 pinned", CROWD[-1]]
    assert rows[1][:4] == ["fixture-cpu", "torch 2.13.0 pinned", "v0.32.4", "mlx v0.32.4, torch 2.13.0 (pinned)"]
    assert rows[1][4] == next(c.release.date[:10] for c in timeline.plan() if c.tag == "v0.32.4")
    assert texts(browser, "table.chips a", "href") == [pages.page_name(VM), pages.page_name("fixture-cpu")]


def test_a_chip_page_has_its_tables_plots_and_links_into_asv(browser, server, tmp_path):
    url = f"{server}/chips/{pages.page_name('fixture-cpu')}"
    check_page(browser, url)
    assert texts(browser, "section.table", "class") == [
        "table average",
        "table history",
        "table history",
        "table history",
        "table race",
        "table ceilings",
        "table average",  # the roofline shares
    ]
    assert browser.execute_script("return document.images.length") == 4  # backends, two MLX histories, the race
    link = texts(browser, "table.average a", "href")[0]
    assert link == "../index.html#ops.LayerNorm.time_mlx_cpu?machine=fixture-cpu"
    browser.save_screenshot(str(tmp_path / "chip.png"))
    series = graph(browser, f"{server}/chips/{link}")  # into ASV's graph of that op, this machine only
    assert len(series) == 2 and all(points == 1 for _, points in series), series
    assert console_errors(browser) == []


def test_a_chip_page_reads_on_a_phone(browser, server):
    browser.set_window_size(390, 844)
    try:
        browser.get(f"{server}/chips/{pages.page_name(VM)}")
        wait_for(browser, "return document.readyState === 'complete'")
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
        assert texts(browser, ".badge") == ["virtual machine (kvm)"]
        widths = browser.execute_script("return Array.from(document.images).map(function (i) { return i.width; });")
        assert widths and max(widths) <= 390
    finally:
        browser.set_window_size(1280, 900)


def test_the_front_page_opened_from_disk_says_how_to_view_it(browser, published, server):
    browser.get((published / "index.html").as_uri())
    notice = wait_for(browser, "var p = document.querySelector('.mlxbench-from-disk'); return p && p.textContent;")
    assert "asv preview" in notice and "chip pages" in notice
    browser.get(f"{server}/index.html")
    wait_for(browser, "return typeof $ !== 'undefined' && $.asv && $.asv.main_json;")
    assert browser.execute_script("return document.querySelector('.mlxbench-from-disk');") is None  # served: none
