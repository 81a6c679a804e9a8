"""``mlxbench``: the catalog, its verification, and benchmarking with ASV.

Exit status: 0 success, 1 a verification failed, 2 bad input (the message
names the valid choices).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mlxbench import selection
from mlxbench.catalog import PRESETS
from mlxbench.catalog.spec import Op
from mlxbench.errors import UsageError
from mlxbench.harness import versions, work
from mlxbench.harness.backends import BACKENDS
from mlxbench.harness.verify import Row, progress_lines, skipped, verify


def _console(stderr: bool = False) -> Console:
    # Piped output keeps full rows instead of wrapping to 80 columns.
    probe = Console(stderr=stderr)
    return probe if probe.is_terminal else Console(stderr=stderr, width=200)


def _shown(path: Path | str) -> str:
    """A path as the user can type it: relative to the working directory where it lies under it."""
    path = Path(path).absolute()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _closing(paths: Sequence[Path | str], next_command: str | None) -> None:
    """The last lines of a command that wrote files: each path, then the command to run next.

    On stderr, so stdout stays the command's own output (a report piped to a file).
    Every command that writes for the user ends with it: bench, history, publish, report --plots.
    """
    err = _console(stderr=True)
    for path in paths:
        err.print(f"wrote {escape(_shown(path))}", highlight=False, soft_wrap=True)
    if next_command:
        err.print(f"next: {escape(next_command)}", highlight=False, soft_wrap=True)


def _preset_flag(preset: str) -> str:
    return "" if preset == "default" else f" --preset {preset}"


def _machine_results(preset: str, machine_name: str | None) -> Path:
    """Where bench and history file this machine's results (``--machine`` or the chip-and-host name)."""
    from mlxbench.history import layout, machine

    return layout.results_dir(preset) / (machine_name or machine.describe()["machine"])


def version_text() -> str:
    """``mlxbench --version``: this package, the MLX and torch it measures, the ASV it runs, the Python under it."""
    from importlib.metadata import PackageNotFoundError, version

    import mlxbench

    try:
        asv = version("asv")
    except PackageNotFoundError:
        asv = "(not installed)"
    return "\n".join(
        [
            f"mlxbench {mlxbench.__version__}",
            f"mlx {versions.mlx_version()}",
            f"torch {versions.torch_version()}",
            f"asv {asv}",
            f"python {platform.python_version()} ({platform.system()} {platform.machine()})",
        ]
    )


class _VersionAction(argparse.Action):
    """``--version``, answered only when asked: importing torch to read its version takes seconds."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: Any, values: Any, option_string: Any = None) -> None:
        print(version_text())
        parser.exit()


def backend_status() -> dict[str, dict[str, Any]]:
    status = {}
    for name, backend in BACKENDS.items():
        reason = backend.unavailable()
        status[name] = {"available": reason is None, "reason": reason}
    return status


def _work_json(op: Op, variant) -> dict[str, Any]:
    w = work.of(op, variant)
    return {"in_bytes": w.in_bytes, "out_bytes": w.out_bytes, "flops": w.flops, "footprint_bytes": w.footprint}


def catalog_json(ops: Sequence[Op], preset: str) -> dict[str, Any]:
    """The ``mlxbench list --json`` document (a contract other tools read)."""
    return {
        "preset": preset,
        "versions": {"mlx": versions.mlx_version(), "torch": versions.torch_version()},
        "ops": [
            {
                "op": op.name,
                "variants": [
                    {
                        "id": v.id,
                        "shapes": {k: list(s) for k, s in v.shapes.items()},
                        "params": dict(v.params),
                        **_work_json(op, v),
                    }
                    for v in op.variants(preset)
                ],
            }
            for op in ops
        ],
        "backends": backend_status(),
    }


def cmd_list(args: argparse.Namespace) -> int:
    preset = selection.preset(args.preset)
    ops = selection.ops(None)
    doc = catalog_json(ops, preset)
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    out = _console()
    table = Table(
        title=f"ops in preset {preset!r}: bytes moved (inputs read + output written), FLOPs, process footprint"
    )
    for col in ("op", "variant", "MB moved", "MFLOP", "footprint MB"):
        table.add_column(col, justify="left" if col in ("op", "variant") else "right")
    for entry in doc["ops"]:
        for i, v in enumerate(entry["variants"]):
            table.add_row(
                entry["op"] if i == 0 else "",
                v["id"],
                f"{(v['in_bytes'] + v['out_bytes']) / 1e6:.3g}",
                f"{v['flops'] / 1e6:.3g}" if v["flops"] else "-",
                f"{v['footprint_bytes'] / 1e6:.3g}",
            )
    out.print(table)
    backends = Table(title=f"backends (mlx {doc['versions']['mlx']}, torch {doc['versions']['torch']})")
    backends.add_column("backend")
    backends.add_column("available")
    for name, state in doc["backends"].items():
        backends.add_row(name, "yes" if state["available"] else escape(f"no: {state['reason']}"))
    out.print(backends)
    return 0


def _verify_table(rows: Sequence[Row]) -> Table:
    """Every check that ran; skipped backends get one line each under the table instead."""
    table = Table(title="verification against float64")
    for col in ("op", "variant", "backend", "error", "tolerance", "ok"):
        table.add_column(col, justify="right" if col == "error" else "left")
    for r in rows:
        if r.status != "skipped":
            ok = "ok" if r.status == "ok" else f"[red]FAIL[/red] {escape(r.detail)}"
            table.add_row(r.op, r.variant, r.backend, r.error, r.tolerance, ok)
    return table


def cmd_verify(args: argparse.Namespace) -> int:
    preset = selection.preset(args.preset)
    ops = selection.ops(args.op)
    backends = selection.backends(args.backend)
    out, err = _console(), _console(stderr=True)
    if not err.is_terminal:  # a log: a line per op instead of a bar that never draws
        rows = verify(ops, preset, backends, seed=args.seed, on_variant=progress_lines(ops, err.print))
    else:
        total = sum(len(op.variants(preset)) for op in ops)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=err, transient=True) as progress:
            task = progress.add_task("verifying", total=total)

            def advance(op: Op, variant) -> None:
                progress.update(task, description=f"{op.name} {variant.id}")
                progress.advance(task)

            rows = verify(ops, preset, backends, seed=args.seed, on_variant=advance)
    out.print(_verify_table(rows))
    failed = sum(r.failed for r in rows)
    passed = sum(r.status == "ok" for r in rows)
    out.print(f"{passed} ok, {failed} failed")
    for line in skipped(rows):
        out.print(f"  {escape(line)}")
    if passed + failed == 0:
        err.print("nothing was verified: no selected backend can run here")
        return 1
    return 1 if failed else 0


def cmd_releases(args: argparse.Namespace) -> int:
    from mlxbench.history import asv_run
    from mlxbench.stack import releases, timeline

    if args.action == "refresh":
        for framework, added in releases.refresh().items():
            names = f": {', '.join(r.version for r in added)}" if added else ""
            print(f"{framework}: {len(added)} new release(s){names} ({releases.CATALOG_PATHS[framework]})")
        return 0
    if args.action == "sync":
        conf = asv_run.asv_conf()
        tags = asv_run.sync_timeline(conf)
        print(f"timeline: {len(tags)} releases, newest {next(reversed(tags))} ({asv_run.ROOT / conf['repo']})")
        return 0
    plan = timeline.plan()
    table = Table(title="The MLX-PyTorch timeline: one commit per release, oldest first, each pinning both")
    for col in ("tag", "released", "mlx", "torch", "installs here"):
        table.add_column(col)
    for c in plan:
        here = "yes" if c.release.installs_here() else f"no {c.framework} wheel for this platform"
        table.add_row(c.tag, c.release.date[:10], c.mlx or "-", c.torch or "-", here)
    _console().print(table)
    in_plan = {c.tag for c in plan}
    if older := [r.version for r in releases.load("torch") if r.tag not in in_plan]:
        print(f"no commit (not the newest torch when uploaded): torch {', '.join(older)}")
    return 0


def cmd_machine(args: argparse.Namespace) -> int:
    from mlxbench.history import machine

    info = machine.register(args.name)
    print(info["machine"] if args.name_only else json.dumps(info, indent=2))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from mlxbench.history import asv_run

    preset = selection.preset(args.preset)
    code = asv_run.run(
        preset,
        selection.ops(args.op),
        selection.backends(args.backend),
        args.machine,
        args.quick,
        rerun=args.rerun,
    )
    if code == 0:
        _closing([_machine_results(preset, args.machine)], f"mlxbench publish{_preset_flag(preset)}")
    return code


def cmd_compare(args: argparse.Namespace) -> int:
    from mlxbench.history import compare

    return compare.run(
        args.base,
        args.head,
        selection.preset(args.preset),
        selection.ops(args.op),
        selection.backends(args.backend),
        rounds=args.rounds,
        fail_above=args.fail_above,
        machine_name=args.machine,
        quick=args.quick,
    )


def cmd_history(args: argparse.Namespace) -> int:
    from mlxbench.history import history_run

    preset = selection.preset(args.preset)
    plan = history_run.plan(
        preset,
        selection.ops(args.op),
        selection.backends(args.backend),
        args.range,
        args.framework,
        timeline_mode=args.timeline,
        machine_name=args.machine,
        rerun=args.rerun,
        quick=args.quick,
    )
    code = history_run.run(plan, dry_run=args.dry_run)
    if code == 0 and not args.dry_run:
        _closing([_machine_results(preset, args.machine)], f"mlxbench publish{_preset_flag(preset)}")
    return code


def cmd_submit(args: argparse.Namespace) -> int:
    from mlxbench.history import layout, submit

    preset = selection.preset(args.preset)
    if preset != layout.DEFAULT_PRESET:
        raise UsageError(f"only the default preset's results are submitted; {preset!r} results stay on this machine")
    return submit.run(layout.results_dir(preset), args.machine, args.keep_samples)


def cmd_migrate(args: argparse.Namespace) -> int:
    from mlxbench.history import migrate

    return migrate.run(args.results, args.apply)


REPORT_TABLES = ("average", "detailed", "history", "race")
"""`mlxbench report --table` choices, all by default (here, so the parser does not import the report)."""


def cmd_report(args: argparse.Namespace) -> int:
    from mlxbench.harness import ceilings
    from mlxbench.history import asv_run, layout
    from mlxbench.report import plots, readme, render
    from mlxbench.report.tables import Report
    from mlxbench.store import results

    fmt = args.format
    if fmt not in render.FORMATS:
        raise UsageError(f"unknown format {fmt!r}; valid formats: {', '.join(render.FORMATS)}")
    preset = selection.preset(args.preset)
    if args.update_readme and preset != layout.DEFAULT_PRESET:
        raise UsageError(f"the README shows the default preset's results, not {preset!r}: leave out --preset")
    results_dir = Path(args.results) if args.results else layout.results_dir(preset)
    loaded = results.load(results_dir, asv_run.sync_timeline(asv_run.asv_conf()))
    err = _console(stderr=True)
    for problem in loaded.problems:
        err.print(f"[yellow]warning:[/yellow] {escape(problem)}")
    # Ceilings are the machine's, not a preset's: `mlxbench calibrate` keeps them beside the default results.
    ceilings_dir = Path(args.results) if args.results else layout.results_dir(layout.DEFAULT_PRESET)
    ceilings_by_machine = {m: ceilings.load(ceilings_dir / m) for m in loaded.machines}
    report = Report(
        loaded,
        args.machine,
        args.backend,
        args.release,
        args.mean,
        args.metric,
        ceilings_by_machine,
        preset=preset,
        mode=args.mode,
    )
    # Writing plots or the README is the point of such a run: the tables print only when asked (--print).
    if args.print or not (args.plots or args.update_readme):
        print(render.render(report.tables(args.table or list(REPORT_TABLES)), fmt, loaded.problems))
    written: list[Path] = []
    if args.plots:
        written += plots.write(report, Path(args.plots))
    if args.update_readme:
        readme.update(asv_run.ROOT / "README.md", report, asv_run.ROOT / "docs")
        written.append(asv_run.ROOT / "README.md")
    if written:
        _closing(written, None)
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from mlxbench.harness import ceilings
    from mlxbench.history import asv_run, machine

    backends = [b for b in selection.backends(args.backend) if b.unavailable() is None]
    if not backends:
        raise UsageError("none of the selected backends can run on this machine")
    name = machine.check_name(args.machine) if args.machine is not None else machine.describe()["machine"]
    machine_dir = asv_run.ROOT / asv_run.asv_conf()["results_dir"] / name
    measured = []
    err = _console(stderr=True)
    for backend in backends:
        with err.status(f"calibrating {backend.name}: copy bandwidth, then matmul throughput"):
            measured.append(ceilings.measure(backend))
        c = measured[-1]
        sizes = ", ".join(f"{int(b) / 2**20:g} MB {g:.1f}" for b, g in c.bandwidth_gbs.items())
        err.print(f"{backend.name}: GB/s by bytes moved: {sizes}; {c.gflops:.1f} GFLOP/s (matmul n={c.matmul_n})")
    print(f"appended {len(measured)} ceilings to {ceilings.save(machine_dir, measured)}")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from mlxbench.history import asv_run, layout
    from mlxbench.report import site

    preset = selection.preset(args.preset)
    asv_run.sync_timeline(asv_run.asv_conf())
    config = layout.asv_config(preset)
    asv_run.ensure_benchmarks_json(preset, config)
    html = layout.html_dir(preset)
    code = site.publish(config.parent, html)
    if code == 0:
        chips = html / site.CHIPS_DIR
        pages = sorted(p for p in chips.glob("*.html") if p.name != "index.html")
        serve = "asv preview" + ("" if preset == "default" else f" --config {_shown(config)}")
        _closing(
            [html / "index.html", chips / "index.html", *pages],
            f"{serve} (ASV's graphs at http://127.0.0.1:8080; the chip pages also open from disk)",
        )
    return code


def _add_preset(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default="default", help=f"one of {', '.join(PRESETS)} (default: default)")


def _add_selection(p: argparse.ArgumentParser) -> None:
    """--preset, --op, --backend: the same spelling for every command that runs ops."""
    _add_preset(p)
    p.add_argument("--op", action="append", help="an op name (repeatable; default: all)")
    p.add_argument("--backend", action="append", help="a backend name (repeatable; default: all available)")


DESCRIPTIONS = {
    "list": "The catalog: every op of the preset with its variants (shapes, bytes moved, FLOPs, process footprint), "
    "and which backends this machine can run, with the reason for each it cannot.",
    "verify": "Run every selected op on every selected backend and compare it with a float64 reference within the "
    "op's tolerance. Exit 1 on any disagreement: a benchmark of two different functions is worthless.",
    "bench": "The main job: verify, register this machine, and benchmark it with ASV at the installed MLX release "
    "(one series with `asv run`'s, samples recorded); ends with that release's tables. Results go to "
    "results/<machine>/ (other presets: .asv/presets/<preset>/results/).",
    "compare": "Measure two releases of the timeline now, in interleaved rounds (A then B, then B then A), and print "
    "only the changes that beat the noise. The same release twice records this machine's repeatability.",
    "history": "This machine's history across the timeline: asv run over the commits where a framework changed and "
    "whose release installs here; what is already measured is kept.",
    "submit": "Make this machine's results ready to commit: each variant keeps an evenly spaced sketch of its "
    "samples (ASV's statistics untouched), then prints the git command that adds them.",
    "migrate": "Move results recorded against the first, MLX-only timeline onto the MLX commits of the stack "
    "timeline (what would move is reported unless --apply).",
    "report": "Tables from ASV's results: average per chip at the newest release, detailed per variant, each "
    "backend's history across its framework's releases, and MLX against torch over time; a change within the "
    "noise prints ~. Markdown, csv, json or html; PNG plots with --plots.",
    "calibrate": "Measure each backend's copy bandwidth and matmul throughput here, for the roofline shares "
    "(report --metric roofline and the chip pages).",
    "publish": "asv publish (through the plugin asv.conf.json loads): ASV's graphs with the libraries copied in so "
    "they render offline, release labels that do not overlap, and chips/: a page per machine with its tables and "
    "plots, and an index of the chips.",
    "releases": "The MLX and PyTorch release catalogs and the git timeline ASV benchmarks: one commit per release of "
    "either framework, each pinning both.",
    "machine": "Register this machine with ASV under its chip configuration and a hash of its host "
    '("<config> <host>"), with its cores, memory, GPU, threads and whether it is a virtual machine.',
}
"""Each subcommand's ``--help`` description: what it does and where its output goes."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlxbench", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action=_VersionAction, help="the versions of mlxbench, MLX, torch, ASV and Python")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="ops, their variants, and backends with availability")
    _add_preset(p)
    p.add_argument("--json", action="store_true", help="one JSON object: ops, variants, backends")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("verify", help="compare every op on every backend with a float64 reference")
    _add_selection(p)
    p.add_argument("--seed", type=int, default=0, help="input seed (default: 0)")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("bench", help="benchmark this machine at the installed MLX release (asv run)")
    _add_selection(p)
    p.add_argument("--machine", help="ASV machine name (default: named after the chip and host)")
    p.add_argument("--quick", action="store_true", help="one sample per benchmark (asv --quick)")
    p.add_argument("--rerun", action="store_true", help="measure again what this machine already has at this release")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser(
        "compare", help="measure two releases in interleaved rounds; print only the changes beyond the noise"
    )
    p.add_argument("base", help="the release to compare against, e.g. v0.31.1")
    p.add_argument("head", help="the release to test, e.g. v0.32.4 (the same release: measure repeatability)")
    _add_selection(p)
    p.add_argument("--rounds", type=int, default=2, help="interleaved rounds, at least 2 (default: 2)")
    p.add_argument(
        "--fail-above",
        type=float,
        metavar="FACTOR",
        help="exit 1 when a change beyond the noise is a slowdown above FACTOR (e.g. 1.2)",
    )
    p.add_argument("--machine", help="ASV machine name (default: named after the chip and host)")
    p.add_argument("--quick", action="store_true", help="one sample, one round: checks the set-up, measures nothing")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser(
        "history",
        help="this machine's history: asv run over the commits where a framework changed and that install here",
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
    _add_selection(p)
    p.add_argument(
        "--timeline",
        action="store_true",
        help="each commit's own torch (a configuration without torch in the matrix) instead of the pinned one",
    )
    p.add_argument("--machine", help="ASV machine name (default: named after the chip and host)")
    p.add_argument("--rerun", action="store_true", help="measure again what this machine already has")
    p.add_argument("--quick", action="store_true", help="one sample per benchmark (asv --quick): checks the set-up")
    p.add_argument("--dry-run", action="store_true", help="print the commits and ASV's command; run nothing")
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("submit", help="thin this machine's samples for a commit and print the git command")
    _add_preset(p)
    p.add_argument("--machine", help="ASV machine name (default: this machine's)")
    p.add_argument("--keep-samples", type=int, default=200, help="samples kept per variant (default: 200)")
    p.set_defaults(func=cmd_submit)

    p = sub.add_parser(
        "migrate", help="move results of the MLX-only timeline onto the stack timeline (a dry run unless --apply)"
    )
    p.add_argument(
        "results", nargs="*", help="ASV results directories (default: every preset's results directory that exists)"
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--apply", action="store_true", help="move the files (default: report what would move)")
    mode.add_argument("--dry-run", action="store_true", help="report what would move, write nothing (the default)")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("report", help="average, detailed and history tables (and plots) from ASV results")
    _add_preset(p)
    p.add_argument(
        "--results", help="an ASV results directory (default: the preset's, results/ or .asv/presets/<preset>/results)"
    )
    p.add_argument(
        "--table",
        action="append",
        choices=REPORT_TABLES,
        help="which tables (repeatable; default: all four; race: the MLX/torch time ratio over time)",
    )
    p.add_argument("--format", default="markdown", help="markdown (default), csv, json or html")
    p.add_argument(
        "--machine",
        action="append",
        help="a machine name, or a chip configuration that only one machine has (repeatable; default: all)",
    )
    p.add_argument("--backend", action="append", help="a backend, e.g. mlx_cpu or cpu (repeatable; default: all)")
    p.add_argument("--release", help="a release (v0.31.1) or an inclusive range (v0.20.0..v0.31.1)")
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
        help="time (ms, default), bandwidth (GB/s), flops (GFLOP/s), roofline (%% of the calibrated ceiling) "
        "or memory (peak MB per process)",
    )
    p.add_argument("--plots", metavar="DIR", help="write PNG plots to DIR (the tables then print only with --print)")
    p.add_argument("--update-readme", action="store_true", help="rewrite README.md's results section (plots in docs/)")
    p.add_argument("--print", action="store_true", help="print the tables as well when --plots or --update-readme")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("calibrate", help="measure each backend's bandwidth and matmul ceilings (for --metric roofline)")
    p.add_argument("--backend", action="append", help="a backend name (repeatable; default: all available)")
    p.add_argument("--machine", help="ASV machine name (default: named after the chip)")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("publish", help="the static site: ASV's graphs, readable and offline, and a page per chip")
    _add_preset(p)
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("releases", help="the MLX and PyTorch release catalogs and their git timeline")
    p.add_argument(
        "action",
        nargs="?",
        choices=["list", "sync", "refresh"],
        default="list",
        help="list (default); sync: create/update the timeline repo; refresh: update both catalogs from the index",
    )
    p.set_defaults(func=cmd_releases)

    p = sub.add_parser("machine", help="register this machine with ASV, named after its chip and host")
    p.add_argument("--name", help="override the generated name")
    p.add_argument("--name-only", action="store_true", help="print only the machine's name")
    p.set_defaults(func=cmd_machine)

    for name in MEASURING:
        sub.choices[name].add_argument(
            "--no-wait",
            action="store_true",
            help="refuse at once when another measurement holds this machine (default: wait for it)",
        )
    for name, command in sub.choices.items():
        command.description = command.description or DESCRIPTIONS.get(name)
    return parser


MEASURING = ("bench", "history", "compare", "calibrate")
"""The commands that measure: each holds the machine's measurement lock (:mod:`mlxbench.history.lock`)."""


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command in MEASURING and not getattr(args, "dry_run", False):
            from mlxbench.history import lock

            command = ["mlxbench", *(sys.argv[1:] if argv is None else argv)]
            with lock.measuring(command, wait=not args.no_wait):
                return args.func(args)
        return args.func(args)
    except UsageError as exc:
        print(f"mlxbench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"mlxbench: {args.command} interrupted: results ASV saved before now are kept (it saves a commit's "
            "results when that commit's benchmarks end); the lock is released",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
