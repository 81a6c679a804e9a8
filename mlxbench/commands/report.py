"""``mlxbench report``: tables (and plots, and the README's section) from ASV's results."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape

from mlxbench import selection
from mlxbench.catalog.spec import DTYPES
from mlxbench.commands import options, output
from mlxbench.errors import UsageError

REPORT_TABLES = ("average", "detailed", "history", "race", "counted", "dtypes")
"""`mlxbench report --table` choices, all by default (here, so the parser does not import the report)."""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report",
        help="average, detailed and history tables (and plots) from ASV results",
        description="Tables from ASV's results: average per chip at the newest release, detailed per variant, each "
        "backend's history across its framework's releases, and MLX against torch over time; a change within the "
        "noise prints ~. Markdown, csv, json or html; PNG plots with --plots.",
    )
    options.add_preset(p)
    p.add_argument(
        "--results", help="an ASV results directory (default: the preset's, results/ or .asv/presets/<preset>/results)"
    )
    p.add_argument(
        "--table",
        action="append",
        choices=REPORT_TABLES,
        help="which tables (repeatable; default: all; race: the MLX/torch time ratio over time; dtypes: bfloat16 "
        "against float16 per backend, where a machine measured both: the models preset)",
    )
    p.add_argument("--format", default="markdown", help="markdown (default), csv, json or html")
    p.add_argument(
        "--machine",
        action="append",
        help="a machine name, or a chip configuration that only one machine has (repeatable; default: all)",
    )
    p.add_argument("--backend", action="append", help="a backend, e.g. mlx_cpu or cpu (repeatable; default: all)")
    p.add_argument("--release", help="a release (v0.31.1) or an inclusive range (v0.20.0..v0.31.1)")
    p.add_argument(
        "--dtype",
        choices=DTYPES,
        help="only results in this dtype (default: every dtype, each in tables of its own: never averaged together)",
    )
    p.add_argument("--mean", default="geometric", help="how variants aggregate: geometric (default) or arithmetic")
    p.add_argument(
        "--mode",
        choices=["pinned", "timeline"],
        help="only environments that pin torch, or only those where each commit brings its own (default: both, "
        "as separate series)",
    )
    p.add_argument(
        "--metric",
        default="time",
        help="what the average and detailed tables show: time (ms, default), bandwidth (GB/s), flops (GFLOP/s), "
        "roofline (%% of the calibrated ceiling), memory (peak MB per process) or instructions (millions per call, "
        "counted by callgrind: `bench --metric instructions`); --metric instructions shows the counted tables only",
    )
    p.add_argument("--plots", metavar="DIR", help="write PNG plots to DIR (the tables then print only with --print)")
    p.add_argument("--update-readme", action="store_true", help="rewrite README.md's results section (plots in docs/)")
    p.add_argument("--print", action="store_true", help="print the tables as well when --plots or --update-readme")
    p.set_defaults(func=run)


def check_plots_folder(folder: Path) -> None:
    """UsageError, before anything is loaded, where ``--plots`` names a file or a folder under a file."""
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        where = "is a file" if existing == folder else f"is under {output.shown(existing)}, a file"
        raise UsageError(f"--plots {output.shown(folder)} {where}: name a folder for the PNG plots (it is created)")


def run(args: argparse.Namespace) -> int:
    """Load the results (their problems as warnings on stderr), then print the tables, write plots or the README."""
    from mlxbench.history import asv_project
    from mlxbench.report import plots, readme, render
    from mlxbench.report.tables import Report
    from mlxbench.store import ceilings, results

    fmt = args.format
    if fmt not in render.FORMATS:
        raise UsageError(f"unknown format {fmt!r}; valid formats: {', '.join(render.FORMATS)}")
    if args.plots:
        check_plots_folder(Path(args.plots))
    preset = selection.preset(args.preset)
    if args.update_readme and preset != asv_project.DEFAULT_PRESET:
        raise UsageError(f"the README shows the default preset's results, not {preset!r}: leave out --preset")
    project = asv_project.repository(preset)
    results_dir = Path(args.results) if args.results else project.results_dir
    loaded = results.load(results_dir, project.tags)
    # Ceilings are the machine's, not a preset's: `mlxbench calibrate` keeps them beside the default results.
    ceilings_dir = Path(args.results) if args.results else asv_project.repository().results_dir
    ceilings_by_machine = {m: ceilings.load(ceilings_dir / m, loaded.problems) for m in loaded.machines}
    err = output.console(stderr=True)
    for problem in loaded.problems:
        err.print(f"[yellow]warning:[/yellow] {escape(problem)}")
    release_range, clipped = selection.release_range(args.release, loaded.releases, list(project.tags))
    for line in clipped:
        err.print(f"note: {escape(line)}", highlight=False)
    report = Report(
        loaded,
        args.machine,
        args.backend,
        release_range,
        args.mean,
        args.metric,
        ceilings_by_machine,
        preset=preset,
        mode=args.mode,
        dtype=args.dtype,
    )
    # Writing plots or the README is the point of such a run: the tables print only when asked (--print).
    if args.print or not (args.plots or args.update_readme):
        default = ["average", "detailed", "counted"] if args.metric == "instructions" else list(REPORT_TABLES)
        print(render.render(report.tables(args.table or default), fmt, loaded.problems))
    written: list[Path] = []
    if args.plots:
        written += plots.write(report, Path(args.plots))
    if args.update_readme:
        readme.update(asv_project.ROOT / "README.md", report, asv_project.ROOT / "docs")
        written.append(asv_project.ROOT / "README.md")
    if written:
        output.closing(written, None)
    return 0
