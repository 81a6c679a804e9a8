"""``mlxbench publish``: the static site, ASV's graphs readable and offline, and a page per chip."""

from __future__ import annotations

import argparse

from mlxbench import selection
from mlxbench.commands import options, output


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "publish",
        help="the static site: ASV's graphs, readable and offline, and a page per chip",
        description="asv publish (through the plugin the ASV configuration loads): ASV's graphs with the libraries "
        "copied in so they render offline, release labels that do not overlap, and chips/: a page per machine with its "
        "tables and plots, and an index of the chips.",
    )
    options.add_preset(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Publish the preset's site, then name its pages and how to serve them; asv publish's exit status."""
    from mlxbench.history import asv_project, asv_run
    from mlxbench.report import site

    preset = selection.preset(args.preset)
    project = asv_project.repository(preset)
    _ = project.tags  # the timeline ASV's pages read: synced before asv publish reads it
    asv_run.ensure_benchmarks_json(project)
    config, html = project.config, project.html_dir
    code = site.publish(config.parent, html)
    if code == 0:
        chips = html / site.CHIPS_DIR
        pages = sorted(p for p in chips.glob("*.html") if p.name != "index.html")
        serve = "asv preview" + ("" if preset == "default" else f" --config {output.shown(config)}")
        output.closing(
            [html / "index.html", chips / "index.html", *pages],
            f"{serve} (ASV's graphs at http://127.0.0.1:8080; the chip pages also open from disk)",
        )
    return code
