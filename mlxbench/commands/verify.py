"""``mlxbench verify``: every selected op on every selected backend against a float64 reference."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mlxbench import selection
from mlxbench.catalog.spec import Op
from mlxbench.commands import options, output
from mlxbench.harness.verify import Row, progress_lines, skipped, verify


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "verify",
        help="compare every op on every backend with a float64 reference",
        description="Run every selected op on every selected backend and compare it with a float64 reference "
        "within the op's tolerance. Exit 1 on any disagreement: a benchmark of two different functions is worthless.",
    )
    options.add_selection(p)
    p.add_argument("--seed", type=int, default=0, help="input seed (default: 0)")
    p.add_argument("--all", action="store_true", help="print every check, not only the failures")
    p.set_defaults(func=run)


def _verify_table(rows: Sequence[Row], every: bool) -> Table | None:
    """The checks that failed (every check that ran with ``every``); None when there is nothing to list."""
    shown = [r for r in rows if r.status != "skipped" and (every or r.failed)]
    if not shown:
        return None
    table = Table(title="verification against float64" + ("" if every else ": failures"))
    for col in ("op", "variant", "backend", "error", "tolerance", "ok"):
        table.add_column(col, justify="right" if col == "error" else "left")
    for r in shown:
        ok = "ok" if r.status == "ok" else f"[red]FAIL[/red] {escape(r.detail)}"
        table.add_row(r.op, r.variant, r.backend, r.error, r.tolerance, ok)
    return table


def backend_lines(rows: Sequence[Row]) -> list[str]:
    """One line per backend that ran: its checks passed and failed, over how many ops."""
    out = []
    for backend in dict.fromkeys(r.backend for r in rows if r.status != "skipped"):
        mine = [r for r in rows if r.backend == backend and r.status != "skipped"]
        failed = sum(r.failed for r in mine)
        ops = len({r.op for r in mine})
        verdict = f"{failed} FAILED" if failed else "all ok"
        out.append(f"{backend}: {len(mine) - failed} of {len(mine)} checks ok over {ops} ops ({verdict})")
    return out


def run(args: argparse.Namespace) -> int:
    """Verify with progress on stderr (a bar on a terminal, a line per op in a log), then the table; 1 on a failure.

    No selected backend runnable here is bad input, refused before any op runs (exit 2, as bench does).
    """
    from mlxbench.history import asv_run

    preset = selection.preset(args.preset)
    ops = selection.ops(args.op, preset)
    backends = selection.backends(args.backend)
    asv_run.runnable(backends)
    out, err = output.console(), output.console(stderr=True)
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
    if (table := _verify_table(rows, args.all)) is not None:
        out.print(table)
    for line in backend_lines(rows):
        out.print(escape(line))
    failed = sum(r.failed for r in rows)
    passed = sum(r.status == "ok" for r in rows)
    for line in skipped(rows):
        out.print(f"  {escape(line)}")
    if passed + failed == 0:
        err.print("nothing was verified: no selected backend can run here")
        return 1
    return 1 if failed else 0
