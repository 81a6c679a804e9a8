"""The site without a browser: tables as HTML, the chip pages' files and links, ASV's scripts patched.

The browser test (test_site.py) loads all of it in Chromium; this one checks
what can be read from the files, and runs wherever the suite runs.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import asv
import pytest

from mlxbench.report import pages, render, site
from mlxbench.report.formatting import Change, Column, Table
from mlxbench.report.tables import Report
from mlxbench.stack import releases, timeline
from mlxbench.store import results

FIXTURE = Path(__file__).parent / "fixtures" / "results"
ASV_WWW = Path(asv.__file__).parent / "www"


class Cells(HTMLParser):
    """Each table row's cells as text, and every link and image."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.links: list[str] = []
        self.images: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "a":
            self.links.append(dict(attrs)["href"] or "")
        elif tag == "img":
            self.images.append(dict(attrs)["src"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parsed(text: str) -> Cells:
    cells = Cells()
    cells.feed(text)
    return cells


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> results.ResultSet:
    tags = timeline.sync(tmp_path_factory.mktemp("timeline") / "t.git", releases.load())
    return results.load(FIXTURE, tags)


def test_html_prints_what_markdown_prints_with_the_noise_marked():
    table = Table(
        "history",
        "History: <chip>",
        ["a `code` note"],
        [Column("Operation", "text"), Column("v1", "ms"), Column("v2", "ms"), Column("v1->v2", "change", inline=True)],
        [["Softmax", 2.0, 3.0, Change(50.0, True)], ["ReLU", 1.0, 1.01, Change(1.0, False)], ["Sort", None, 1.0, None]],
    )
    text = render.html(table)
    assert "History: &lt;chip&gt;" in text and "a <code>code</code> note" in text
    assert parsed(text).rows == [
        ["Operation", "v1", "v2"],
        ["Softmax", "2.00", "3.00 (+50%)"],
        ["ReLU", "1.00", "1.01 (~)"],
        ["Sort", "n/a", "1.00"],
    ]
    assert '<span class="change up">+50%</span>' in text
    assert '<span class="change noise" title="+1%: within the noise">~</span>' in text  # the number on hover
    assert render.render([table], "html") == text


def test_html_links_the_cells_a_page_asks_for():
    table = Table("average", "t", [], [Column("Operation", "text"), Column("cpu", "ms")], [["ReLU", 1.0]])
    links = parsed(render.html(table, lambda row, i: f"#{row[0]}-{i}")).links
    assert links == ["#ReLU-0", "#ReLU-1"]


def test_chip_pages_for_the_fixture(loaded, tmp_path):
    ceilings = {"fixture-cpu": {}}
    written = pages.write(tmp_path / "chips", loaded, ceilings, "tiny")
    index, page = written
    assert index.name == "index.html" and page.name == pages.page_name("fixture-cpu") == "fixture-cpu.html"
    doc = parsed(page.read_text())
    report = Report(loaded, preset="tiny")
    expected = render.html(report.average("fixture-cpu", "v0.32.4"))
    assert parsed(expected).rows == doc.rows[: len(parsed(expected).rows)]  # the report's own table, first
    graph = "../index.html#ops.{}.time_{}?machine=fixture-cpu"
    assert graph.format("LayerNorm", "mlx_cpu") in doc.links and graph.format("Softmax", "torch_cpu") in doc.links
    assert all((page.parent / src).is_file() for src in doc.images) and len(doc.images) == 4
    assert "Ceilings" not in page.read_text()  # not calibrated: no section
    assert not re.search(r"https?://", page.read_text() + index.read_text())  # nothing from the network
    assert (tmp_path / "chips" / pages.CSS).is_file()
    assert parsed(index.read_text()).rows[1][:3] == ["fixture-cpu", "torch 2.13.0 pinned", "v0.32.4"]


def test_a_virtual_machine_is_labelled_and_its_reports_say_so(loaded, tmp_path):
    vm = dataclasses.replace(loaded, machines={"fixture-cpu": {"machine": "fixture-cpu", "virtual": "kvm"}})
    pages.write(tmp_path, vm, {}, "tiny")
    assert '<span class="badge">virtual machine (kvm)</span>' in (tmp_path / "fixture-cpu.html").read_text()
    assert "fixture-cpu (virtual machine (kvm))" in (tmp_path / "index.html").read_text()
    notes = Report(vm, preset="tiny").average("fixture-cpu", "v0.32.4").notes
    assert "Measured in a virtual machine (kvm): the numbers describe the VM, not the bare chip." in notes
    assert not any(
        "virtual machine" in note for note in Report(loaded, preset="tiny").average("fixture-cpu", "v0.32.4").notes
    )
    assert pages.virtual_label({"virtual": "unknown"}) == "virtual machine"
    assert pages.virtual_label({}) is None


@pytest.fixture
def www(tmp_path) -> Path:
    """ASV's page templates, as `asv publish` copies them, with one benchmark measured and one never."""
    html = tmp_path / "html"
    shutil.copytree(ASV_WWW, html)
    (html / "graphs" / "summary").mkdir(parents=True)
    (html / "graphs" / "summary" / "ops.ReLU.time_mlx_cpu.json").write_text("[[3, 0.001], [9, null]]")
    (html / "graphs" / "summary" / "ops.ReLU.time_mlx_gpu.json").write_text("[[3, null]]")
    return html


def test_every_patch_applies_to_the_pinned_asv_once(www):
    site.readable(www)
    for patch in site.PATCHES:
        text = (www / patch.file).read_text()
        assert patch.new in text, patch.why
    index = (www / "index.html").read_text()
    assert index.count('src="mlxbench-site.js"') == 1 and 'href="chips/index.html"' in index
    data = re.search(r"window\.MLXBENCH_SITE = (.*);</script>", index)
    assert data and json.loads(data.group(1)) == {"measured": ["ops.ReLU.time_mlx_cpu"]}  # GPU: n/a only
    before = {p.name: p.read_bytes() for p in www.glob("*.*")}
    site.readable(www)  # a second pass changes nothing
    assert {p.name: p.read_bytes() for p in www.glob("*.*")} == before
    assert all((www / name).is_file() for name in site.SITE_FILES)


def test_another_asv_is_refused_by_name(www):
    path = www / "regressions.js"
    path.write_text(path.read_text().replace(".text(commit_b));", ".text(commit_b) );"))
    with pytest.raises(site.SiteError, match=r"regressions\.js of asv .* has 0 instead of 2 place\(s\)"):
        site.readable(www)


def test_asv_conf_loads_the_site_plugin():
    conf = (Path(__file__).resolve().parent.parent / "asv.conf.json").read_text()
    assert '".mlxbench.report.site"' in conf


def test_a_site_without_results_still_gets_its_chips_index(tmp_path):
    (tmp_path / "results").mkdir()
    (index,) = site.chip_pages(tmp_path / "html", tmp_path / "results", {}, None)
    text = index.read_text()
    assert "No machine has results here yet" in text and "nothing readable in" in text


def test_machine_names_that_differ_only_in_case_or_punctuation_get_their_own_pages(loaded, tmp_path):
    names = ["AMD EPYC (2C+24GB) 3fd159", "AMD EPYC 2C 24GB 3fd159", "amd epyc (2c+24gb) 3fd159", "fixture-cpu"]
    assert len({pages.page_name(n) for n in names}) == len(names)
    assert all(re.fullmatch(r"[a-z0-9-]+\.html", pages.page_name(n)) for n in names)
    twins = ["Lab Mac (M4)", "Lab Mac M4"]
    measurements = [dataclasses.replace(m, machine=twin) for m in loaded.measurements for twin in twins]
    info = {twin: {**loaded.machines["fixture-cpu"], "machine": twin} for twin in twins}
    written = pages.write(tmp_path, dataclasses.replace(loaded, measurements=measurements, machines=info), {}, "tiny")
    assert {p.name for p in written} == {"index.html", *(pages.page_name(t) for t in twins)}
    assert all(twin in (tmp_path / pages.page_name(twin)).read_text() for twin in twins)
