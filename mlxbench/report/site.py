"""The published ASV site: offline, readable, and with a page per chip.

``asv publish`` writes pages that load jQuery, flot and bootstrap from CDNs, so
on a machine without internet (this project's CI, a laptop on a plane) no
graph renders. :func:`vendor` copies the same libraries, shipped in
``mlxbench/report/site_assets``, next to the pages and points the pages at them.
Subresource-integrity attributes go with the CDN address: they pin the CDN's
bytes, and the npm builds of the same versions differ in minification.

ASV 0.6's pages also do not scale to this project's timeline (about 90 tags,
several series per chip, GPU benchmarks most machines never ran):
:func:`readable` adds ``mlxbench-site.js`` and ``.css`` and points ASV's
scripts at them in a few named places (:data:`PATCHES`, checked against the
pinned ASV): thinned tag labels, the legend beside the graph, no grid boxes
for benchmarks without a number, release tags instead of hashes. Pages and
URLs stay ASV's. :mod:`mlxbench.report.pages` then writes ``chips/``.

All of it runs inside ``asv publish`` itself: the ASV configuration loads this
module as a plugin, and :class:`ChipPages`, an ASV output publisher, runs after ASV's
own. ``asv publish``, ``asv gh-pages`` and ``mlxbench publish`` therefore make
the same site, and ``asv preview`` serves it. The module imports only ASV at
load time: ASV loads plugins for every command.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asv.publishing import OutputPublisher

ASSETS = Path(__file__).resolve().parent / "site_assets"
VENDOR_DIR = "vendor"
CHIPS_DIR = "chips"
SITE_FILES = ("mlxbench-site.js", "mlxbench-site.css")

CDN_FILES = {
    "https://code.jquery.com/jquery-3.3.1.min.js": "jquery-3.3.1.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.min.js": "jquery.flot.js",
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.time.min.js": "jquery.flot.time.js",
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.selection.min.js": "jquery.flot.selection.js",
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.categories.min.js": "jquery.flot.categories.js",
    "https://cdn.jsdelivr.net/npm/flot-orderbars@1.0.0/js/jquery.flot.orderBars.js": "jquery.flot.orderBars.js",
    "https://cdnjs.cloudflare.com/ajax/libs/stupidtable/1.0.1/stupidtable.min.js": "stupidtable.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/blueimp-md5/2.19.0/js/md5.min.js": "md5.min.js",
    "https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/js/bootstrap.min.js": "bootstrap.min.js",
    "https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/css/bootstrap.min.css": "bootstrap.min.css",
}
_TAG = re.compile(r'<(script|link)\b[^>]*?(?:src|href)="(?P<url>https?://[^"]+)"[^>]*>')


class SiteError(RuntimeError):
    """ASV's pages are not the ones :data:`PATCHES` was written for (another ASV than the pinned one)."""


@dataclass(frozen=True)
class Patch:
    """Replace ``old`` (found exactly ``count`` times) by ``new`` in ASV's ``file``, for the reason ``why``."""

    file: str
    old: str
    new: str
    why: str
    count: int = 1


_TAG_LABELS = """            $.each($.asv.main_json.tags, function(tag, revision) {
                var x = get_x_from_revision(revision);
                if (x >= xmin && x <= xmax) {
                    var p = plot.pointOffset({x: x, y: 0});

                    graph_div.append(
                        "<div style='position:absolute;" +
                            "left:" + p.left + "px;" +
                            "top: -2ex;" +
                            "color:#666;background:white;padding-left:0.25em;font-size:smaller;'>" + tag + "</div>");
                }
            });
"""

PATCHES = (
    Patch(
        "graphdisplay.js",
        _TAG_LABELS,
        "            $.asv.mlxbench.tag_labels(graph_div, plot, $.asv.mlxbench.shown_tags(orig_graphs), "
        "get_x_from_revision);\n",
        "tag labels: only tags with a point on the graph, none overlapping, the rest on hover",
    ),
    Patch(
        "graphdisplay.js",
        "            $.each($.asv.main_json.tags, function(tag, revision) {\n"
        "                var x = get_x_from_revision(revision);\n"
        "                markings.push(",
        "            $.each($.asv.mlxbench.shown_tags(orig_graphs), function(tag, revision) {\n"
        "                var x = get_x_from_revision(revision);\n"
        "                markings.push(",
        "a grid line per tag with a point on the graph, not per release of either framework",
    ),
    Patch(
        "graphdisplay.js",
        '$.asv.pretty_unit(y, unit) + " @ " + commit_hash);',
        '$.asv.pretty_unit(y, unit) + " @ " + $.asv.mlxbench.commit_name(commit_hash));',
        "a point's tooltip names its release",
    ),
    Patch(
        "graphdisplay.js",
        "result = get_commit_hash(min) + '^!';",
        "result = $.asv.mlxbench.commit_name(get_commit_hash(min)) + '^!';",
        "the commits box names releases (asv run takes tags as well as hashes)",
    ),
    Patch(
        "graphdisplay.js",
        'result = first_commit + ".." + last_commit;',
        "result = $.asv.mlxbench.commit_range(first_commit, last_commit);",
        "the commits box names releases (asv run takes tags as well as hashes)",
    ),
    Patch(
        "regressions.js",
        ".text(commit_a + '..' + commit_b)",
        ".text($.asv.mlxbench.commit_range(commit_a, commit_b))",
        "regressions name the releases between which they happened",
        count=4,
    ),
    Patch(
        "regressions.js",
        ".text(commit_b));",
        ".text($.asv.mlxbench.commit_name(commit_b)));",
        "regressions name the releases between which they happened",
        count=2,
    ),
    Patch(
        "summarylist.js",
        "commit_a.text(commit_1 + '...' + commit_2);",
        "commit_a.text($.asv.mlxbench.commit_range(commit_1, commit_2));",
        "the list's last change names releases",
    ),
    Patch(
        "summarylist.js",
        "commit_a.text(commit_2);",
        "commit_a.text($.asv.mlxbench.commit_name(commit_2));",
        "the list's last change names releases",
    ),
    Patch(
        "summarygrid.js",
        "        $.each(main_json.benchmarks, function(bm_name, bm) {\n",
        "        $.each(main_json.benchmarks, function(bm_name, bm) {\n"
        "            if (!$.asv.mlxbench.measured(bm_name)) {\n"
        "                return;  // no machine has a number for it: no empty box\n"
        "            }\n",
        "no grid box for a benchmark no machine has a number for",
    ),
    Patch(
        "index.html",
        '<li id="nav-li-regressions"><a href="#/regressions">Regressions</a></li>',
        '<li id="nav-li-regressions"><a href="#/regressions">Regressions</a></li>\n'
        f'\t<li id="nav-li-chips"><a href="{CHIPS_DIR}/index.html">Chips</a></li>',
        "a link to the chip pages",
    ),
)


def _local_tag(match: re.Match[str]) -> str:
    url = match["url"]
    if url not in CDN_FILES:
        return match[0]
    local = f"{VENDOR_DIR}/{CDN_FILES[url]}"
    if match[1] == "script":
        return f'<script type="text/javascript" src="{local}">'
    return f'<link rel="stylesheet" href="{local}">'


def vendor(html_dir: Path) -> list[str]:
    """Copy the libraries into ``html_dir/vendor`` and rewrite every page; returns the CDN addresses left."""
    html_dir = Path(html_dir)
    target = html_dir / VENDOR_DIR
    target.mkdir(exist_ok=True)
    for name in set(CDN_FILES.values()):
        shutil.copyfile(ASSETS / name, target / name)
    left: set[str] = set()
    for page in html_dir.glob("*.html"):
        text = _TAG.sub(_local_tag, page.read_text())
        page.write_text(text)
        left.update(m["url"] for m in _TAG.finditer(text))
    return sorted(left)


def measured(html_dir: Path) -> list[str]:
    """Benchmarks some machine has a number for: ASV's summary graph of each has a point that is not null."""
    names = []
    for path in sorted((Path(html_dir) / "graphs" / "summary").glob("*.json")):
        points = json.loads(path.read_text())
        if any(value is not None for _, value in points):
            names.append(path.stem)
    return names


FROM_DISK_TEXT = (
    "Opened from disk: a browser refuses the data this page loads from files. Run <code>asv preview</code> "
    "(or <code>python -m http.server --directory html</code>) and open the address it prints; the "
    f'<a href="{CHIPS_DIR}/index.html">chip pages</a> open from disk as they are.'
)
FROM_DISK = (
    'if (location.protocol === "file:") { document.addEventListener("DOMContentLoaded", function () { '
    'var p = document.createElement("p"); p.className = "mlxbench-from-disk"; '
    f"p.innerHTML = {json.dumps(FROM_DISK_TEXT)}; document.body.insertBefore(p, document.body.firstChild); }}); }}"
)
"""ASV's front page fetches its data, which browsers refuse over file://: it says so in one line, and how to view."""


def readable(html_dir: Path) -> None:
    """Add mlxbench's layer to ASV's published pages in ``html_dir`` (once; a second call changes nothing).

    Raises :class:`SiteError` when ASV's scripts are not the ones the patches
    were written for, naming the patch and the ASV version.
    """
    html_dir = Path(html_dir)
    index = html_dir / "index.html"
    if SITE_FILES[0] in index.read_text():
        return
    for name in SITE_FILES:
        shutil.copyfile(ASSETS / name, html_dir / name)
    texts: dict[str, str] = {}
    for patch in PATCHES:
        text = texts.get(patch.file) or (html_dir / patch.file).read_text()
        found = text.count(patch.old)
        if found != patch.count:
            from asv import __version__

            raise SiteError(
                f"{patch.file} of asv {__version__} has {found} instead of {patch.count} place(s) for the patch "
                f"'{patch.why}'; mlxbench/report/site.py is written for the asv version pyproject.toml pins"
            )
        texts[patch.file] = text.replace(patch.old, patch.new)
    data = json.dumps({"measured": measured(html_dir)})
    head = (
        f"    <script>window.MLXBENCH_SITE = {data};</script>\n"
        f"    <script>{FROM_DISK}</script>\n"
        f'    <link href="{SITE_FILES[1]}" rel="stylesheet" type="text/css"/>\n'
        f'    <script type="text/javascript" src="{SITE_FILES[0]}"></script>\n'
        "  </head>"
    )
    texts["index.html"] = texts["index.html"].replace("  </head>", head, 1)
    for name, text in texts.items():
        (html_dir / name).write_text(text)


def chip_pages(html_dir: Path, results_dir: Path, tags: dict[str, str], preset: str | None) -> list[Path]:
    """``html_dir/chips``: the chips index and a page per machine (:mod:`mlxbench.report.pages`); the pages written.

    ``tags`` maps each timeline tag to its commit, oldest first. Unreadable
    files are skipped as the report skips them, and listed on the index.
    """
    from mlxbench.errors import UsageError
    from mlxbench.report import pages
    from mlxbench.store import ceilings, results

    try:
        loaded = results.load(results_dir, tags)
    except UsageError as exc:  # nothing measured yet: ASV's pages still publish, and the index says why
        return pages.write_empty(Path(html_dir) / CHIPS_DIR, str(exc))
    calibrated = {machine: ceilings.load(results_dir / machine, loaded.problems) for machine in loaded.machines}
    return pages.write(Path(html_dir) / CHIPS_DIR, loaded, calibrated, preset)


class ChipPages(OutputPublisher):
    """The last step of ``asv publish`` (the plugin the ASV configuration loads): vendor, readable layer, chip pages."""

    name = "mlxbench"
    button_label = "Chips"
    description = "mlxbench's page per chip"
    order = math.inf

    @classmethod
    def publish(cls, conf: Any, repo: Any, benchmarks: Any, graphs: Any, revisions: dict[str, int]) -> None:
        from asv.console import log

        html_dir = Path(conf.html_dir)
        left = vendor(html_dir)
        if left:
            log.warning("still loaded from the network: " + ", ".join(left))
        readable(html_dir)
        tags = dict(sorted(repo.get_tags().items(), key=lambda item: revisions.get(item[1], -1)))
        written = chip_pages(html_dir, Path(conf.results_dir), tags, getattr(conf, "mlxbench_preset", None))
        log.info(f"mlxbench: {len(written) - 1} chip page(s), index {written[0]}")


def publish(root: Path, html_dir: Path) -> int:
    """``asv publish`` in ``root`` (whose configuration loads this module as a plugin); returns asv's exit status."""
    code = subprocess.call([str(Path(sys.executable).with_name("asv")), "publish"], cwd=root)
    if code == 0 and not (Path(html_dir) / CHIPS_DIR / "index.html").exists():
        print(
            f'{root}\'s ASV configuration does not load mlxbench.report.site ("plugins"): '
            "the site has neither the offline libraries nor the chip pages",
            file=sys.stderr,
        )
        return 1
    return code
