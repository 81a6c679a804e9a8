"""``mlxbench migrate``: older results made current (a dry run unless --apply).

Results of the MLX-only timeline move onto the stack timeline, and this host's
folders named under its former per-home host id take the name its hardware
gives it now (:mod:`mlxbench.history.renames`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mlxbench.errors import UsageError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "migrate",
        help="move older results onto the stack timeline and this host's current name (a dry run unless --apply)",
        description="Move results recorded against the first, MLX-only timeline onto the MLX commits of the stack "
        "timeline (what would move is reported unless --apply).",
    )
    p.add_argument(
        "results", nargs="*", help="ASV results directories (default: every preset's results directory that exists)"
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--apply", action="store_true", help="move the files (default: report what would move)")
    mode.add_argument("--dry-run", action="store_true", help="report what would move, write nothing (the default)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Migrate (or, unless ``--apply``, dry-run) each results directory and print what moved and what was left, why.

    1 when a file was left: it needs re-measuring (or a look), and a script should notice.
    """
    from mlxbench.catalog import PRESETS
    from mlxbench.history import asv_project, machine, migrate, renames

    presets = (asv_project.repository(p).results_dir for p in PRESETS)
    dirs = [Path(r) for r in args.results] or [d for d in presets if d.is_dir()]
    if missing := [str(d) for d in dirs if not d.is_dir()]:
        raise UsageError(f"no results directory at {', '.join(missing)}")
    tags = asv_project.repository().tags
    info, former = machine.describe(), machine.legacy_hosts()
    left = 0
    for results_dir in dirs:
        renamed = renames.rename(results_dir, info, former, dry_run=not args.apply)
        done = migrate.migrate(results_dir, tags, dry_run=not args.apply)
        print(f"{results_dir}:" + ("" if args.apply else "  (dry run: nothing written; --apply moves the files)"))
        lines = renamed.lines(dry_run=not args.apply) + done.lines(dry_run=not args.apply)
        print("\n".join(f"  {line}" for line in lines))
        left += len(done.left) + len(renamed.left)
    return 1 if left else 0
