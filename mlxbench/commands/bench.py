"""``mlxbench bench``: the main job, this machine at the installed MLX release, then that release's tables."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mlxbench import selection
from mlxbench.catalog.spec import Op
from mlxbench.commands import options, output
from mlxbench.errors import UsageError

if TYPE_CHECKING:
    from mlxbench.history.asv_run import Plan


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bench",
        help="benchmark this machine at the installed MLX release (asv run)",
        description="The main job: verify, register this machine, and benchmark it with ASV at the installed MLX "
        "release (one series with `asv run`'s, samples recorded); ends with that release's tables. Results go to "
        "results/<machine>/ (other presets: .asv/presets/<preset>/results/).",
    )
    options.add_selection(p)
    p.add_argument("--machine", help="ASV machine name (default: named after the chip and host)")
    p.add_argument("--quick", action="store_true", help="one sample per benchmark (asv --quick)")
    p.add_argument("--rerun", action="store_true", help="measure again what this machine already has at this release")
    p.add_argument("--detailed", action="store_true", help="also print the per-variant table (default: the average)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Verify, plan and run the main job (:func:`mlxbench.history.asv_run.run`), print its tables; ASV's status."""
    from mlxbench.history import asv_run

    preset = selection.preset(args.preset)
    ops = selection.ops(args.op, preset)
    ran = asv_run.run(preset, ops, selection.backends(args.backend), args.machine, args.quick, rerun=args.rerun)
    if ran.plan is not None and not ran.measured:
        print(
            f"nothing new measured: {ran.plan.machine['machine']!r} already has mlx {ran.plan.tag} in "
            f"{output.shown(ran.plan.results_dir / ran.plan.machine['machine'])} (kept as it is); "
            f"`mlxbench bench{output.preset_flag(preset)} --rerun` measures it again",
            file=sys.stderr,
        )
    if ran.plan is not None:
        print(summary(ran.plan, ops, preset, detailed=args.detailed))
    if ran.code == 0 and ran.measured and args.quick and ran.plan is not None:
        output.trial_closing(ran.plan.results_dir / ran.plan.machine["machine"], ran.plan.config)
    elif ran.code == 0 and ran.measured:
        output.closing([output.machine_results(preset, args.machine)], f"mlxbench publish{output.preset_flag(preset)}")
    return ran.code


def summary(p: Plan, ops: Sequence[Op], preset: str, detailed: bool = False) -> str:
    """The average table of what this run selected, at this release, in its own series (and the detailed one)."""
    from mlxbench.report import render
    from mlxbench.report.tables import Report
    from mlxbench.store import results

    name = p.machine["machine"]
    try:
        loaded = results.only_series(results.load(p.results_dir, p.tags), p.series)
        report = Report(loaded, [name], [b.name for b in p.backends], p.tag, ops=[op.name for op in ops], preset=preset)
    except UsageError as exc:
        return f"no results of {p.tag} to show: {exc}"
    kinds = (report.average, report.detailed) if detailed else (report.average,)
    tables = [kind(s, p.tag) for s in report.series for kind in kinds]
    return render.render(tables, "markdown") if tables else f"no results of {p.tag} in {', '.join(p.series)}"
