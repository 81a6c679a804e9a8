"""Whether this host can hold a pinned history's torch controls within 1.3x: its own noise, before a long run.

    .venv/bin/python tools/host_noise.py               # 120 s; nothing else may run
    .venv/bin/python tools/host_noise.py --seconds 60 --op ReLU:16x128x1024

One process times each named benchmark (default: torch_cpu variants that
missed issue 17's target, and an L2-resident one beside them) in turns of
``--window`` seconds and reads the machine's CPU counters around it. It prints
each benchmark's window medians, and what a ``--commits`` x ``--rounds``
history drawn from those windows would read. Writes nothing. The story:
docs/measurements/host-noise-2026-12-02.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlxbench.catalog import CATALOG  # noqa: E402
from mlxbench.harness import asv_suite, load, versions  # noqa: E402
from mlxbench.harness.backends import Prepared  # noqa: E402

DEFAULT_BENCHMARKS = (
    "ReLU:32x16x1024",  # 2 MB in, 2 MB out: within the core's L2, the contrast
    "ReLU:16x128x1024",
    "ScatterSum:64x16_2x100000",
    "Sum:16x64x64x64-axis0",
    "Concat:64x16384_64x16384-axis0",
)
LIMIT = 1.3


@dataclass
class Windows:
    """One benchmark's sampling windows: each window's call times, in order."""

    name: str
    call: Prepared
    times: list[list[float]]

    def run_window(self, seconds: float) -> None:
        timed, clock, out = self.call.timed, time.perf_counter, []
        end = clock() + seconds
        while (start := clock()) < end:
            timed()
            out.append(clock() - start)
        self.times.append(out)


def prepare(spec: str, backend: str, preset: str) -> Windows:
    """``OP:VARIANT``'s call on ``backend``, prepared as its benchmark's setup prepares it."""
    op_name, _, variant_id = spec.partition(":")
    op = CATALOG[op_name]
    ids = [v.id for v in op.variants(preset)]
    if variant_id not in ids:
        raise SystemExit(f"{op_name} has no variant {variant_id!r} in preset {preset}; it has: {', '.join(ids)}")
    return Windows(spec, asv_suite.prepare(op, variant_id, backend, preset), [])


def history_draws(windows: list[list[float]], commits: int, rounds: int, draws: int, seed: int = 0) -> np.ndarray:
    """max/min across ``commits`` values, each the median of ``rounds`` windows' pooled calls drawn at random."""
    rng = np.random.default_rng(seed)
    out = np.empty(draws)
    for d in range(draws):
        values = [
            float(np.median(np.concatenate([windows[i] for i in rng.integers(0, len(windows), rounds)])))
            for _ in range(commits)
        ]
        out[d] = max(values) / min(values)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--op", action="append", help="OP:VARIANT of the default preset (repeatable)")
    parser.add_argument("--backend", default="torch_cpu", help="the backend to time (default: torch_cpu)")
    parser.add_argument("--seconds", type=float, default=120.0, help="how long to sample, all benchmarks (120)")
    parser.add_argument("--window", type=float, default=0.1, help="seconds per window (0.1, a history round's cap)")
    parser.add_argument("--commits", type=int, default=28, help="commits of the history drawn (28)")
    parser.add_argument("--rounds", type=int, default=2, help="windows per commit, the history's rounds (2)")
    parser.add_argument("--draws", type=int, default=500, help="histories drawn (500)")
    args = parser.parse_args()
    versions.pin_torch_threads()
    benchmarks = [prepare(spec, args.backend, "default") for spec in (args.op or DEFAULT_BENCHMARKS)]
    print(f"{args.backend} at {versions.torch_threads()} thread(s); {args.seconds:.0f} s of {args.window} s windows")
    before, started = load.read(), time.monotonic()
    while time.monotonic() - started < args.seconds:
        for b in benchmarks:
            b.run_window(args.window)
    after = load.read()
    if before is not None and after is not None:
        seen = load.between(before, after)
        print(f"others' CPU {seen.others:.3f} cores, steal {seen.steal:.3f} cores over {seen.seconds:.0f} s")
    for b in benchmarks:
        windows = [w for w in b.times if w]
        medians = [statistics.median(w) for w in windows]
        p10, p50, p90 = np.percentile(medians, [10, 50, 90]) * 1e6
        spread = history_draws(windows, args.commits, args.rounds, args.draws)
        print(
            f"{b.name}: {len(medians)} windows, median us p10 {p10:.0f} p50 {p50:.0f} p90 {p90:.0f}, "
            f"max/min {max(medians) / min(medians):.2f}; a history of {args.commits} commits x {args.rounds} "
            f"round(s): max/min median {np.median(spread):.2f}, within {LIMIT}x in {np.mean(spread <= LIMIT):.0%} "
            "of draws"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
