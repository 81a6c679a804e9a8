"""``mlxbench releases``: the MLX and PyTorch release catalogs and the git timeline ASV benchmarks."""

from __future__ import annotations

import argparse

from rich.table import Table

from mlxbench.commands import output


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "releases",
        help="the MLX and PyTorch release catalogs and their git timeline",
        description="The MLX and PyTorch release catalogs and the git timeline ASV benchmarks: one commit per "
        "release of either framework, each pinning both.",
    )
    p.add_argument(
        "action",
        nargs="?",
        choices=["list", "sync", "refresh"],
        default="list",
        help="list (default); sync: create/update the timeline repo; refresh: update both catalogs from the index",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Refresh the catalogs, sync the timeline repository, or (list) print the timeline's commits."""
    from mlxbench.history import asv_project
    from mlxbench.stack import releases, timeline

    if args.action == "refresh":
        for framework, added in releases.refresh().items():
            names = f": {', '.join(r.version for r in added)}" if added else ""
            print(f"{framework}: {len(added)} new release(s){names} ({releases.CATALOG_PATHS[framework]})")
        return 0
    if args.action == "sync":
        project = asv_project.repository()
        tags = project.tags
        print(f"timeline: {len(tags)} releases, newest {next(reversed(tags))} ({project.repo})")
        return 0
    plan = timeline.plan()
    table = Table(title="The MLX-PyTorch timeline: one commit per release, oldest first, each pinning both")
    for col in ("tag", "released", "mlx", "torch", "installs here"):
        table.add_column(col)
    for c in plan:
        here = "yes" if c.release.installs_here() else f"no {c.framework} wheel for this platform"
        table.add_row(c.tag, c.release.date[:10], c.mlx or "-", c.torch or "-", here)
    output.console().print(table)
    in_plan = {c.tag for c in plan}
    if older := [r.version for r in releases.load("torch") if r.tag not in in_plan]:
        print(f"no commit (not the newest torch when uploaded): torch {', '.join(older)}")
    return 0
