"""The figures a machine's pinned history must show (issue 17): stable controls, low floors, a planted change found.

    .venv/bin/python tools/history_checks.py "AMD EPYC (2C+24GB) 35c790"
    .venv/bin/python tools/history_checks.py "AMD EPYC (2C+24GB) 35c790" --plant Softmax --at v0.30.0

- **controls**: torch is pinned, so each torch_cpu variant measures one torch at
  every commit: max/min of its median across the commits is the machine's
  drift (the share within 1.3x, and the median);
- **floors**: the noise floor of each consecutive pair of the mlx_cpu history
  (the share at or under 15%);
- **sensitivity**: on a copy of the results, the op's mlx_cpu results from the
  given release on are made ``--factor`` slower (medians, intervals, quartiles
  and samples); the cells the history table flags are listed beside those it
  flags on the untouched copy: the planted step should be the only new one.

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

SCALED = ("result", "stats_ci_99_a", "stats_ci_99_b", "stats_q_25", "stats_q_75")


def control_spread(loaded: results.ResultSet, machine: str, backend: str = "torch_cpu") -> list[float]:
    """max/min of each variant's median across the commits that measured it."""
    by_variant: dict[tuple[str, str], list[float]] = {}
    for m in loaded.measurements:
        if m.machine == machine and m.backend == backend and m.kind == "time" and m.ok and m.torch:
            by_variant.setdefault((m.op, m.variant), []).append(float(m.value))
    return [max(v) / min(v) for v in by_variant.values() if len(v) > 1]


def flagged(report: Report, series: str, backend: str) -> set[tuple[str, str]]:
    """(op, step) of every consecutive-release change the history table calls beyond the noise."""
    table = report.history(series, backend)
    points = list(table.meta["points"])
    steps = {f"{a}->{b}" for a, b in zip(points, points[1:])}
    out = set()
    for row in table.rows:
        for column, cell in zip(table.columns, row):
            step = column.name.removesuffix(" change")
            if step in steps and isinstance(cell, Change) and cell.beats_noise:
                out.add((str(row[0]), step))
    return out


def plant(results_dir: Path, machine: str, commits: set[str], op: str, backend: str, factor: float) -> int:
    """Scale one benchmark's results at ``commits`` by ``factor`` in place; the number of files changed."""
    changed = 0
    for path in (results_dir / machine).glob("*-*.json"):
        doc = json.loads(path.read_text())
        name = benchmark_names.build(op, benchmark_names.TIME, backend)
        if doc.get("commit_hash") not in commits or name not in doc["results"]:
            continue
        columns = doc["result_columns"]
        entry = dict(zip(columns, doc["results"][name]))
        for key in SCALED:
            if entry.get(key) is not None:
                entry[key] = [None if v is None else v * factor for v in entry[key]]
        if entry.get("samples") is not None:
            entry["samples"] = [None if s is None else [x * factor for x in s] for s in entry["samples"]]
        doc["results"][name] = [entry.get(c) for c in columns[: len(doc["results"][name])]]
        path.write_text(json.dumps(doc))
        changed += 1
    return changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("machine")
    parser.add_argument("--results", type=Path, default=asv_project.repository().results_dir)
    parser.add_argument("--plant", default="Softmax", help="the op to slow down (default: Softmax)")
    parser.add_argument("--at", help="the first release it is slower at (default: the middle of the history)")
    parser.add_argument("--factor", type=float, default=1.10)
    parser.add_argument("--backend", default="mlx_cpu")
    args = parser.parse_args()

    tags = asv_project.repository().tags
    loaded = results.load(args.results, tags)
    spread = sorted(control_spread(loaded, args.machine))
    within = sum(r <= 1.3 for r in spread)
    print(
        f"controls: torch_cpu, {len(spread)} variants; max/min across the commits: "
        f"median {statistics.median(spread):.2f}, "
        f"90th percentile {statistics.quantiles(spread, n=10)[-1]:.2f}, max {spread[-1]:.2f}; "
        f"within 1.3x: {within} ({within / len(spread):.0%})"
    )
    report = Report(loaded, [args.machine])
    (series,) = [s for s in report.series if report.mode(s) == "pinned"]
    table = report.history(series, args.backend)
    points = list(table.meta["points"])
    steps = [f"{a}->{b}" for a, b in zip(points, points[1:])]
    floors = {k: v["fraction"] for k, v in table.meta["noise_floors"].items() if k in steps}
    low = sum(f <= 0.15 for f in floors.values())
    print(
        f"floors: {len(floors)} consecutive pairs of the {args.backend} history; "
        f"median {statistics.median(floors.values()):.1%}, "
        f"max {max(floors.values()):.1%}; at or under 15%: {low} ({low / len(floors):.0%})"
    )
    print("  " + "; ".join(f"{k} {v:.1%}" for k, v in floors.items()))

    at = args.at or points[len(points) // 2]
    planted_from = {tags[p] for p in points[points.index(at) :]}
    before = flagged(report, series, args.backend)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(shutil.copytree(args.results, Path(tmp) / "results"))
        files = plant(copy, args.machine, planted_from, args.plant, args.backend, args.factor)
        after = flagged(Report(results.load(copy, tags), [args.machine]), series, args.backend)
    step = steps[points.index(at) - 1]
    verdict = "OK" if after - before == {(args.plant, step)} and before <= after else "MISSED"
    print(
        f"sensitivity: {args.plant} on {args.backend} made x{args.factor:g} from {at} on ({files} result files); "
        f"newly flagged: {sorted(after - before) or 'nothing'}; "
        f"no longer flagged: {sorted(before - after) or 'nothing'}; "
        f"expected: [({args.plant!r}, {step!r})] -> {verdict}"
    )
    print(f"(flagged on the untouched history: {len(before)} step(s): {sorted(before)})")


if __name__ == "__main__":
    main()
