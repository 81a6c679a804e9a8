"""``mlxbench history``: this machine's history across the timeline, then its summary and history table."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from mlxbench import selection
from mlxbench.commands import options, output
from mlxbench.errors import UsageError

if TYPE_CHECKING:
    from mlxbench.history.history_run import HistoryPlan


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "history",
        help="this machine's history: asv run over the commits where a framework changed and that install here",
        description="This machine's history across the timeline: asv run over the commits where a framework "
        "changed and whose release installs here; what is already measured is kept.",
    )
    p.add_argument(
        "range",
        nargs="?",
        help="timeline tags or hashes: A..B, A.., ..B or one commit, or several joined by commas "
        "(torch-v2.12.1,torch-v2.14.1; default: the whole timeline)",
    )
    p.add_argument(
        "--framework",
        help="mlx, torch or all: whose commits to run (default: mlx where the configuration pins torch, else all)",
    )
    options.add_selection(p)
    p.add_argument(
        "--timeline",
        action="store_true",
        help="each commit's own torch (a configuration without torch in the matrix) instead of the pinned one",
    )
    p.add_argument("--machine", help="ASV machine name (default: named after the chip and host)")
    p.add_argument("--rerun", action="store_true", help="measure again what this machine already has")
    p.add_argument("--quick", action="store_true", help="one sample per benchmark (asv --quick): checks the set-up")
    p.add_argument("--dry-run", action="store_true", help="print the commits and ASV's command; run nothing")
    options.add_metric(p, "what to measure at each commit")
    p.add_argument(
        "--every-commit",
        action="store_true",
        help="counted: every backend at every commit, also where its count cannot move (torch between its "
        "builds, mx.compile where the stored counts show it changes nothing): the control",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Plan the history, run it (or describe it: ``--dry-run``) and print what it measured; ASV's exit status."""
    from mlxbench.history import asv_project, history_run

    preset = selection.preset(args.preset)
    project = asv_project.repository(preset, timeline=args.timeline, trial=args.quick)
    plan = history_run.plan(
        project,
        options.selection(args, preset),
        args.range,
        args.framework,
        rerun=args.rerun,
        metric=args.metric,
        every_commit=args.every_commit,
    )
    code = measure(plan, dry_run=args.dry_run)
    if code == 0 and not args.dry_run:
        if args.quick:
            output.trial_closing(plan.machine_dir, plan.config)
        else:
            results = output.machine_results(project, args.machine)
            output.closing([results], output.after_measuring(results, preset))
    return code


def measure(p: HistoryPlan, dry_run: bool = False, call: Callable[..., int] | None = None) -> int:
    """Run a planned history and print its summary and history table (``dry_run``: the plan); ASV's exit status.

    ``call`` runs ASV in place of :func:`mlxbench.history.lock.call` (the tests' fake ASV).
    """
    from mlxbench.history import history_run, lock

    output.skipped(p.unavailable)
    if dry_run:
        print(history_run.describe(p))
        return 0
    ran = history_run.run(p, output.progress, call or lock.call)
    if ran.plan is not None:
        print(f"{ran.summary}\n\n{history_tables(ran.plan)}")
    return ran.code


def history_tables(p: HistoryPlan) -> str:
    """This machine's history tables (this run's series, the selected ops and backends), or why there are none."""
    from mlxbench.report import render
    from mlxbench.report.tables import Report
    from mlxbench.store import results

    try:
        loaded = results.only_series(results.load(p.results_dir, p.tags), p.series)
        report = Report(
            loaded, [p.machine["machine"]], [b.name for b in p.backends], ops=[op.name for op in p.ops], preset=p.preset
        )
        return render.render(report.tables(["counted" if p.counted else "history"]), "markdown")
    except UsageError as exc:
        return f"no history table: {exc}"
