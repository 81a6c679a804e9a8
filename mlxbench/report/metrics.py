"""What a table cell shows for one measurement: time, achieved rate, or roofline share.

``time`` is milliseconds. ``bandwidth`` is GB/s and ``flops`` GFLOP/s, from
the work each variant declares (:mod:`mlxbench.harness.work`) divided by its median
time. ``roofline`` is the share of the fastest time this backend's measured
ceilings allow (:mod:`mlxbench.harness.ceilings`), shown with the rate of whichever
ceiling binds (GB/s for memory-bound variants, GFLOP/s for compute-bound ones).
``memory`` is the peak resident memory of the benchmark process (ASV ``peakmem_``).
``instructions`` is callgrind's count of one warm call in millions (ASV ``track_instructions_``; CPU backends).
"""

from __future__ import annotations

from dataclasses import dataclass

from mlxbench.catalog import CATALOG, VARIANTS
from mlxbench.harness import work
from mlxbench.harness.ceilings import Ceiling

METRICS = ("time", "bandwidth", "flops", "roofline", "memory", "instructions")
UNITS = {
    "time": "ms",
    "bandwidth": "GB/s",
    "flops": "GFLOP/s",
    "roofline": "% of roofline",
    "memory": "MB",
    "instructions": "M instructions",
}


@dataclass(frozen=True)
class Roofline:
    """A variant's place under the roofline: its achieved rate against the binding ceiling."""

    share: float
    """Percent of the fastest possible time (100 = at the ceiling)."""
    rate: float
    bound: str  # "memory" (rate in GB/s) or "compute" (rate in GFLOP/s)


def work_of(op: str, variant: str) -> work.Work | None:
    v = VARIANTS.get((op, variant))
    return None if v is None else work.of(CATALOG[op], v)


def rate(metric: str, op: str, variant: str, ms: float) -> float | None:
    """GB/s or GFLOP/s for one median; None where the variant is unknown or does no FLOPs."""
    w = work_of(op, variant)
    if w is None:
        return None
    amount = w.bytes if metric == "bandwidth" else w.flops
    return amount / (ms * 1e-3) / 1e9 if amount else None


def roofline(op: str, variant: str, ms: float, ceiling: Ceiling) -> Roofline | None:
    w = work_of(op, variant)
    if w is None:
        return None
    fastest, bound = ceiling.roofline_seconds(w.bytes, w.flops)
    achieved = (w.bytes if bound == "memory" else w.flops) / (ms * 1e-3) / 1e9
    return Roofline(share=100.0 * fastest / (ms * 1e-3), rate=achieved, bound=bound)
