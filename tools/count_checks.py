"""The figures a machine's counted history must show (issue 29): steady controls, the known step, a planted one.

    .venv/bin/python tools/count_checks.py "AMD EPYC (2C+24GB) 35c790"
    .venv/bin/python tools/count_checks.py "AMD EPYC (2C+24GB) 35c790" --plant ReLU --at v0.30.0
    .venv/bin/python tools/count_checks.py --aa run1.json run2.json [--backend torch_cpu]

- **control**: torch is pinned, so each counted torch_cpu variant counts one
  torch at every commit: max/min of its instructions across the commits (the
  share at or under 1.001);
- **steps**: every counted change beyond 0.1% between consecutive releases on
  the MLX backends, per op (the Sigmoid step at v0.29.3 among them);
- **sensitivity**: on a copy of the results, the op's mlx_cpu instructions at
  one release are made ``--factor`` larger; the changes the counted table flags
  are listed beside those it flags on the untouched copy;
- **A/A** (``--aa``): two result files of one release and machine, every
  counted value of the first against the second's.

Reads the results; writes nothing but a temporary copy.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlxbench.harness import benchmark_names  # noqa: E402
from mlxbench.history import asv_project  # noqa: E402
from mlxbench.report.formatting import Change  # noqa: E402
from mlxbench.report.tables import Report  # noqa: E402
from mlxbench.store import results  # noqa: E402

CONTROL_LIMIT = 1.001


def control_spread(loaded: results.ResultSet, machine: str, backend: str = "torch_cpu") -> dict[str, float]:
    """max/min of each counted variant's instructions across the commits that counted it (two or more)."""
    by_variant: dict[str, list[float]] = {}
    for m in loaded.measurements:
        if m.machine == machine and m.backend == backend and m.kind == benchmark_names.INSTRUCTIONS and m.ok:
            by_variant.setdefault(f"{m.op} {m.variant}", []).append(float(m.value))
    return {k: max(v) / min(v) for k, v in by_variant.items() if len(v) > 1}


def flagged(report: Report, series: str, backend: str) -> dict[tuple[str, str], float]:
    """(op, step) -> percent of every consecutive-release change the counted table calls beyond 0.1%."""
    table = report.counted(series, backend)
    points = list(table.meta["points"])
    steps = {f"{a}->{b}" for a, b in zip(points, points[1:])}
    out = {}
    for row in table.rows:
        for column, cell in zip(table.columns, row):
            step = column.name.removesuffix(" change")
            if step in steps and isinstance(cell, Change) and cell.beats_noise:
                out[(str(row[0]), step)] = float(cell)
    return out


def plant(root: Path, machine: str, commit: str, op: str, backend: str, factor: float) -> None:
    """The op's instructions at ``commit`` made ``factor`` larger, in place."""
    (path,) = (root / machine).glob(f"{commit[:8]}-*.json")
    doc = json.loads(path.read_text())
    column = doc["result_columns"].index("result")
    entry = doc["results"][benchmark_names.build(op, benchmark_names.INSTRUCTIONS, backend)]
    entry[column] = [v * factor if isinstance(v, (int, float)) else v for v in entry[column]]
    path.write_text(json.dumps(doc))


def aa(first: Path, second: Path, backends: list[str] | None = None) -> None:
    """Every counted value of ``first`` against ``second``'s (one release, one machine), of one counting method's
    revision on both sides (the benchmark's version), on ``backends`` (default: all)."""
    docs = [json.loads(p.read_text()) for p in (first, second)]
    ratios = []
    column, version = (docs[0]["result_columns"].index(c) for c in ("result", "version"))
    for name, values in docs[0]["results"].items():
        if not benchmark_names.is_counted(name) or name not in docs[1]["results"]:
            continue
        if backends and not name.endswith(tuple(f"_{b}" for b in backends)):
            continue
        if values[version] != docs[1]["results"][name][version]:
            print(f"  skipped {name}: versions {values[version]} and {docs[1]['results'][name][version]}")
            continue
        for a, b in zip(values[column], docs[1]["results"][name][column]):
            if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a > 0:
                ratios.append((abs(b / a - 1), name))
    worst = max(ratios)
    within = sum(r <= 0.001 for r, _ in ratios)
    print(f"A/A: {len(ratios)} counted values; {within} within 0.1% ({within / len(ratios):.1%}); ")
    print(f"  median |ratio - 1| {statistics.median(r for r, _ in ratios):.5%}, worst {worst[0]:.4%} ({worst[1]})")
    for kind in benchmark_names.COUNTED:
        own = [r for r, n in ratios if f".{kind}_" in n]
        if own:
            print(f"  {kind}: worst {max(own):.4%} over {len(own)} values")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("machine", nargs="?")
    parser.add_argument("--plant", help="an op whose mlx_cpu instructions to make --factor larger at --at")
    parser.add_argument("--at", help="the release to plant the change at")
    parser.add_argument("--factor", type=float, default=1.01)
    parser.add_argument("--aa", nargs=2, type=Path, metavar="FILE", help="two result files of one release")
    parser.add_argument("--backend", action="append", help="--aa: only this backend's counts (repeatable)")
    parser.add_argument("--results", type=Path, help="a results directory (default: the repository's)")
    args = parser.parse_args()
    if args.aa:
        aa(*args.aa, args.backend)
        return 0
    project = asv_project.repository()
    results_dir = args.results or project.results_dir
    loaded = results.load(results_dir, project.tags)
    spread = control_spread(loaded, args.machine)
    steady = sum(s <= CONTROL_LIMIT for s in spread.values())
    print(
        f"control: {len(spread)} counted torch_cpu variants across the commits; {steady} "
        f"({steady / max(1, len(spread)):.1%}) with max/min <= {CONTROL_LIMIT}; "
        f"worst {max(spread.values(), default=1):.5f}"
    )
    for variant, ratio in sorted(spread.items(), key=lambda item: -item[1]):
        if ratio > CONTROL_LIMIT:
            print(f"  over: {variant} {ratio:.5f}")
    report = Report(loaded, [args.machine], metric="instructions", mode="pinned")
    (series,) = report.series
    for backend in report.counted_backends(series):
        found = flagged(report, series, backend)
        print(f"{backend}: {len(found)} counted changes beyond 0.1% between consecutive releases")
        for (op, step), pct in sorted(found.items(), key=lambda item: item[0][1]):
            print(f"  {op:<10} {step:<18} {pct:+.2f}%")
    if args.plant:
        before = flagged(report, series, "mlx_cpu")
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(shutil.copytree(results_dir, Path(tmp) / "results"))
            plant(copy, args.machine, project.tags[args.at], args.plant, "mlx_cpu", args.factor)
            after = flagged(
                Report(results.load(copy, project.tags), [args.machine], metric="instructions", mode="pinned"),
                series,
                "mlx_cpu",
            )
        new = sorted(set(after) - set(before))
        print(f"planted x{args.factor} on {args.plant} mlx_cpu at {args.at}: newly flagged {new}")
        print(f"  flagged before and not after: {sorted(set(before) - set(after))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
