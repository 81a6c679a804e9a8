"""Table values and how they print: changes, speedups and ratios, aggregates over variants, columns and tables."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from statistics import fmean, geometric_mean
from typing import Any

from mlxbench.harness.backends import BACKENDS, report_order
from mlxbench.report.model import Value
from mlxbench.store.results import FAILED

COLUMN_NAMES = {backend.name: backend.column for backend in report_order(list(BACKENDS.values()))}
"""Backend -> column heading, in report column order (both from :data:`BACKENDS`)."""

FRAMEWORK_NAMES = {"mlx": "MLX", "torch": "torch"}


def backend_label(backend: str) -> str:
    """A backend in a title: its column heading, with its name where they differ (``cpu (torch_cpu)``)."""
    column = COLUMN_NAMES[backend]
    return column if column == backend else f"{column} ({backend})"


AGGREGATES: dict[str, Callable[[Sequence[float]], float]] = {"geometric": geometric_mean, "arithmetic": fmean}


class Change(float):
    """A change or speedup in percent, with whether it beats the noise.

    A float, so it computes and serializes as the number; markdown prints ``~``
    for one that does not beat the noise, and csv/json add the flag beside it.
    """

    beats_noise: bool
    counts: str | None
    """For a time change that beat the noise: ``confirmed`` or ``unconfirmed`` by the counted instructions
    (:mod:`mlxbench.report.counts`); None where nothing was counted."""

    def __new__(cls, value: float, beats_noise: bool, counts: str | None = None) -> Change:
        self = super().__new__(cls, value)
        self.beats_noise = beats_noise
        self.counts = counts
        return self


def ratio(first: Value, other: Value) -> Value:
    """``t_first / t_other`` (the race's cell): failed where either failed, n/a where either is n/a."""
    if isinstance(first, float) and isinstance(other, float):
        return first / other
    return FAILED if FAILED in (first, other) else None


def speedup(first: Value, other: Value) -> Value:
    """``(t_other / t_first - 1) * 100``: +58 means ``first`` takes 1/1.58 of ``other``'s time."""
    if isinstance(first, float) and isinstance(other, float):
        return (other / first - 1.0) * 100.0
    return None


def change(old: Value, new: Value) -> Value:
    """Runtime change in percent from ``old`` to ``new``: negative is faster."""
    return speedup(old, new)


def format_ms(value: Value) -> str:
    """Milliseconds, rounded: two decimals from 1 ms up, three significant digits below."""
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    return f"{value:.2f}" if value >= 1.0 else f"{value:#.3g}"


def format_pct(value: Value) -> str:
    """A signed whole percentage, rounded half away from zero (``+58%``, ``-41%``)."""
    if not isinstance(value, float):
        return "n/a"
    rounded = math.floor(abs(value) + 0.5)
    return f"{'-' if value < 0 and rounded else '+'}{rounded}%"


COUNT_MARKS = {"confirmed": " ✓", "unconfirmed": " ?"}
"""How a time change's confirmation by the counts prints after it."""


def format_change(value: Value) -> str:
    """:func:`format_pct`, or ``~`` for a change that does not beat the noise; ✓/? where counts (dis)confirm it."""
    if isinstance(value, Change) and not value.beats_noise:
        return "~"
    mark = COUNT_MARKS.get(value.counts or "", "") if isinstance(value, Change) else ""
    return format_pct(value) + mark


def format_fine_change(value: Value) -> str:
    """A counted change to a tenth of a percent (``+11.8%``), or ``~`` for one within its threshold."""
    if isinstance(value, Change) and not value.beats_noise:
        return "~"
    return f"{value:+.1f}%" if isinstance(value, float) else "n/a"


def format_rate(value: Value) -> str:
    """GB/s or GFLOP/s to three significant digits."""
    if not isinstance(value, float):
        return format_ms(value)
    return f"{value:.1f}" if value >= 100 else f"{value:#.3g}"


def format_ratio(value: Value) -> str:
    """A time ratio: ``3.72x`` (two decimals), ``0.25x``, ``12.4x``."""
    if not isinstance(value, float):
        return format_ms(value)
    return f"{value:.1f}x" if value >= 10 else f"{value:.2f}x" if value >= 0.995 else f"{value:#.2g}x"


def format_share(value: Value) -> str:
    """An unsigned whole percentage (roofline share, spread)."""
    return f"{math.floor(value + 0.5)}%" if isinstance(value, float) else "n/a"


SPREAD_LIMIT = 25.0
"""Interquartile range above this percentage of the median: flagged as too noisy to trust."""

FORMATTERS: dict[str, Callable[[Value], str]] = {
    "ms": format_ms,
    "pct": format_pct,
    "change": format_change,
    "rate": format_rate,
    "ratio": format_ratio,
    "share": format_share,
    "count": lambda v: format_rate(v),
    "fine_change": format_fine_change,
    "spread": lambda v: (
        "n/a" if not isinstance(v, float) else f"±{format_share(v)}" + (" !" if v > SPREAD_LIMIT else "")
    ),
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "text" or a key of FORMATTERS
    inline: bool = False
    """Markdown only: print in parentheses after the previous column instead of on its own."""

    def format(self, value: Value) -> str:
        if self.kind == "text":
            return "n/a" if value is None else str(value)
        return FORMATTERS[self.kind](value)


@dataclass
class Table:
    kind: str
    title: str
    notes: list[str]
    columns: list[Column]
    rows: list[list[Value]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


def aggregate(values: Iterable[Value], how: str) -> Value:
    """One op's value over its variants: n/a if any variant is n/a, failed if any failed."""
    values = list(values)
    if any(v == FAILED for v in values):
        return FAILED
    if not values or any(not isinstance(v, float) for v in values):
        return None
    return AGGREGATES[how](values)
