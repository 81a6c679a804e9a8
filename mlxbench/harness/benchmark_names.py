"""The names ASV gives the suite's benchmarks, ``ops.<Op>.<kind>_<backend>``: built, parsed and selected here only.

Every other module builds a name with :func:`build`, reads one with
:func:`parse` and selects benchmarks for ``asv run -b`` with
:func:`selection_regex`; a new kind of benchmark is one entry of :data:`KINDS`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlxbench.catalog.spec import DTYPES

if TYPE_CHECKING:
    from mlxbench.catalog.spec import Op
    from mlxbench.harness.backends import Backend

SUITE_MODULE = "ops"
"""The suite's module in benchmarks/, the first part of every name."""
TIME = "time"
PEAKMEM = "peakmem"
DEVICE_PEAK = "track_device_peak"
INSTRUCTIONS = "track_instructions"
LL_MISSES = "track_ll_misses"
CYCLES = "track_cycles_estimate"
COUNTED: tuple[str, ...] = (INSTRUCTIONS, LL_MISSES, CYCLES)
"""The kinds callgrind counts in one warm call (:mod:`mlxbench.harness.counting`): CPU backends on Linux only."""
KINDS: tuple[str, ...] = (TIME, PEAKMEM, DEVICE_PEAK, *COUNTED)
"""Every kind of benchmark: seconds per call, the process's peak resident bytes, the device's peak bytes, counts."""
UNITS: dict[str, str] = {
    TIME: "seconds",
    PEAKMEM: "bytes",
    DEVICE_PEAK: "bytes",
    INSTRUCTIONS: "instructions",
    LL_MISSES: "misses",
    CYCLES: "cycles",
}
"""Each kind's unit, as ASV stores it."""
METRICS: tuple[str, ...] = ("time", "instructions")
"""``--metric``: what a job measures, time (seconds per call) or instructions (callgrind's counts, :data:`COUNTED`)."""

_PREFIX = re.escape(SUITE_MODULE) + r"\."
_NAME = re.compile(
    _PREFIX
    # the longest kind first: a kind that starts another never takes that one's names
    + rf"(?P<op>\w+)\.(?P<kind>{'|'.join(sorted(KINDS, key=len, reverse=True))})_(?P<backend>\w+)"
)
_HALF_SUFFIXES = "|".join(f"-{d}" for d in DTYPES[1:])


@dataclass(frozen=True)
class BenchmarkName:
    """One benchmark of the suite: an op's method of one kind on one backend."""

    op: str
    kind: str
    backend: str


def method(kind: str, backend: str) -> str:
    """The suite class's method for ``kind`` on ``backend``: ``time_mlx_cpu``."""
    return f"{kind}_{backend}"


def build(op: str, kind: str, backend: str) -> str:
    """The benchmark's ASV name: ``ops.Softmax.time_mlx_cpu``."""
    return f"{SUITE_MODULE}.{op}.{method(kind, backend)}"


def parse(name: str) -> BenchmarkName | None:
    """(op, kind, backend) of an ASV benchmark name without parameters; None if it is not one of the suite's."""
    found = _NAME.fullmatch(name)
    return BenchmarkName(found["op"], found["kind"], found["backend"]) if found else None


def is_counted(name: str) -> bool:
    """Whether ``name`` is one of the counted kinds: an ASV name, with ``(params)`` or a spawner's ``-<index>``."""
    found = parse(re.sub(r"-\d+$", "", name.split("(", 1)[0]))
    return found is not None and found.kind in COUNTED


def _variants_in(dtype: str) -> str:
    """ASV's ``('<variant id>')`` of the variants in ``dtype`` (float32's ids have no dtype suffix)."""
    if dtype == DTYPES[0]:
        return rf"\('(?![^']*(?:{_HALF_SUFFIXES})')[^']*'\)"
    return rf"\('[^']*-{dtype}'\)"


def selection_regex(
    ops: Sequence[Op],
    backends: Sequence[Backend],
    kinds: Sequence[str] = (TIME, PEAKMEM, DEVICE_PEAK),
    skip: Collection[tuple[str, str, str]] = (),
) -> str:
    """``asv run -b``'s regex for the methods of these kinds (default: all uncounted) of the selected ops and backends.

    ``skip``: the (op, backend, dtype) left out, variant by variant (they failed verification).
    ASV matches it against ``name(param, ...)``, and against the bare name.
    """
    kind = f"({'|'.join(kinds)})"
    skipped = "|".join(rf"{op}\.{kind}_{backend}{_variants_in(dtype)}" for op, backend, dtype in sorted(skip))
    return (
        rf"^(?!{_PREFIX}({skipped}))" if skipped else "^"
    ) + rf"{_PREFIX}({'|'.join(op.name for op in ops)})\.{kind}_({'|'.join(b.name for b in backends)})(?:\(|$)"
