"""``mlxbench bench``: the main job, this machine at the installed MLX release, then that release's tables."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import TYPE_CHECKING

from mlxbench import selection
from mlxbench.commands import options, output
from mlxbench.errors import UsageError

if TYPE_CHECKING:
    from mlxbench.history.main_job import MainJobOutcome, MainJobPlan
    from mlxbench.report.formatting import Table


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
    options.add_metric(p, "what to measure")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Plan and run the main job, print what it measured and its tables, then the closing lines; ASV's status."""
    from mlxbench.history import asv_project, main_job

    preset = selection.preset(args.preset)
    project = asv_project.repository(preset, trial=args.quick)
    outcome = measure(
        main_job.plan(project, options.selection(args, preset), rerun=args.rerun, metric=args.metric), args.detailed
    )
    results = output.machine_results(project, args.machine)
    if outcome.code == 0 and outcome.measured and args.quick and outcome.plan is not None:
        output.trial_closing(outcome.plan.machine_dir, outcome.plan.config)
    elif outcome.code == 0 and outcome.measured:
        output.closing([results], output.after_measuring(results, preset))
    elif outcome.code == 0:  # nothing new: nothing to submit, the kept results publish as they are
        output.unchanged(results, f"mlxbench publish{output.preset_flag(preset)}")
    return outcome.code


def measure(p: MainJobPlan, detailed: bool = False) -> MainJobOutcome:
    """Run a planned main job (:func:`mlxbench.history.main_job.run`), its progress on stderr, then its tables."""
    from mlxbench.history import main_job

    output.skipped(p.unavailable)
    outcome = main_job.run(p, output.progress)
    done = outcome.plan
    if done is not None and not outcome.measured:
        print(
            f"nothing new measured: {done.machine['machine']!r} already has mlx {done.tag} for every selected op "
            f"and backend in {output.shown(done.results_dir / done.machine['machine'])} (kept as it is); "
            f"`mlxbench bench{output.preset_flag(done.preset)} --rerun` measures it again",
            file=sys.stderr,
        )
    if done is not None:
        print(summary(done, detailed))
    return outcome


def summary(p: MainJobPlan, detailed: bool = False) -> str:
    """The average table of what this run selected, at this release, in its own series (and the detailed one)."""
    from mlxbench.report import render
    from mlxbench.report.tables import Report
    from mlxbench.store import results

    name = p.machine["machine"]
    try:
        loaded = results.only_series(results.load(p.results_dir, p.tags), p.series)
        report = Report(
            loaded,
            [name],
            [b.name for b in p.backends],
            p.tag,
            metric=p.metric,
            ops=[op.name for op in p.ops],
            preset=p.preset,
        )
    except UsageError as exc:
        return f"no results of {p.tag} to show: {exc}"
    kinds = (report.average, report.detailed) if detailed else (report.average,)
    threads = p.machine.get("torch_threads")
    tables = [headed(kind(s, p.tag), p.project.trial, threads) for s in report.series for kind in kinds]
    return render.render(tables, "markdown") if tables else f"no results of {p.tag} in {', '.join(p.series)}"


def headed(table: Table, trial: bool, threads: object = None) -> Table:
    """``table`` with what a reader of the run needs in its heading: torch's ``threads``, and a trial's mark."""
    title = table.title
    if isinstance(threads, int) and "thread" not in title:
        title = f"{title}, torch {threads} thread{'s' if threads > 1 else ''}"
    if trial:
        title = f"Trial (--quick: one sample per benchmark, not history): {title}"
    return replace(table, title=title)
