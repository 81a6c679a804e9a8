"""A/B verdicts between two runs (``mlxbench compare``): each variant judged against the pair's noise floor.

The rules are :mod:`mlxbench.noise`'s, the history table's too: ASV's test per
variant and a between-run floor from the controls (backends whose framework did
not change), else the machine's measured repeatability, else 10%.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlxbench import noise
from mlxbench.errors import UsageError
from mlxbench.harness import benchmark_names

DEFAULT_FLOOR = noise.DEFAULT_FLOOR.fraction
"""The floor where there are no controls and no measured repeatability (the report's too)."""
WITHIN = 0.10
"""Repeatability is summarized as the share of medians within +-10% of each other, as the issue measured it."""
QUANTILE = noise.FLOOR_QUANTILE


Point = noise.Stats
"""One variant of one timing benchmark in one side's results, as ASV stored it."""
Floor = noise.Floor


Key = tuple[str, str]
"""(benchmark name, variant): ``("ops.Softmax.time_mlx_cpu", "32x64x128-axis2")``."""


@dataclass(frozen=True)
class Row:
    key: Key
    before: float
    after: float
    changed: bool
    why: str

    @property
    def ratio(self) -> float:
        """after / before: above 1 is slower."""
        return self.after / self.before


def quantile(values: Iterable[float], q: float) -> float:
    """Linear-interpolated quantile (numpy's default), of at least one value."""
    return float(np.quantile(list(values), q))


def judge(before: Point, after: Point, floor: Floor) -> tuple[bool, str]:
    """Whether one variant changed beyond the noise, and why (in words): :func:`mlxbench.noise.judge`."""
    verdict = noise.judge({"v": before}, {"v": after}, floor)
    return verdict.changed, verdict.why


def _backend(benchmark: str) -> str:
    return parsed.backend if (parsed := benchmark_names.parse(benchmark)) else ""


def noise_floor(
    before: Mapping[Key, Point],
    after: Mapping[Key, Point],
    versions: tuple[Mapping[str, str | None], Mapping[str, str | None]],
    repeatability: Floor | None,
) -> Floor:
    """The pair's between-run floor by :func:`mlxbench.noise.pair`, one control ratio per variant (what compare judges).

    ``versions`` are each side's (:func:`mlxbench.noise.point_versions`); the fallback is the
    machine's ``repeatability``, else :data:`mlxbench.noise.DEFAULT_FLOOR`.
    """
    return noise.pair(_runs(before), _runs(after), versions, repeatability or noise.DEFAULT_FLOOR).floor


def _runs(points: Mapping[Key, Point]) -> dict[str, dict[Key, Point]]:
    """Backend -> its variants: the shape :func:`mlxbench.noise.pair` reads."""
    out: dict[str, dict[Key, Point]] = {}
    for key, point in points.items():
        out.setdefault(_backend(key[0]), {})[key] = point
    return out


BUSY_WHY = "sampled while other processes used the machine: no verdict"
QUICK_WHY = "--quick: one sample per side, not judged"
ROUNDS_WHY = "the rounds disagree"
"""How a variant's reason starts where its rounds did not show the pooled change (:func:`rounds_agree`)."""


Rounds = tuple[Sequence[float], Sequence[float]]
"""One variant's median in each round alone: (before's rounds, after's rounds), in order."""


def rounds_agree(rounds: Rounds, pooled: float, floor: Floor) -> tuple[bool, str]:
    """Whether the rounds alone show the pooled change beyond ``floor``: all of two, all but one of more; why not.

    The machine's noise comes in bursts. One over one side's run of one round
    moves the pooled medians as a change would, but not the other rounds'
    after/before ratios; one can also hide a real change in its round, so
    with three rounds or more one round may dissent.
    """
    before, after = rounds
    ratios = [b / a for a, b in zip(before, after)]
    direction = noise.sign(pooled - 1.0)
    short = [f"x{r:.2f}" for r in ratios if noise.sign(r - 1.0) != direction or abs(r - 1.0) <= floor.fraction]
    if len(ratios) - len(short) >= max(2, len(ratios) - 1):
        return True, ""
    return False, (
        f"{ROUNDS_WHY}: {len(short)} of {len(ratios)} round(s) alone read {', '.join(short)}, "
        f"inside the floor or the other way (noise on one side of a round): no verdict"
    )


def compare_points(
    before: Mapping[Key, Point],
    after: Mapping[Key, Point],
    floor: Floor,
    busy: Iterable[Key] = (),
    rounds: Mapping[Key, Rounds] | None = None,
) -> list[Row]:
    """One row per variant measured on both sides, judged against ``floor``.

    A ``busy`` variant is never changed; nor is one whose ``rounds`` (each
    side's median in each round alone, where known) do not show the change
    (:func:`rounds_agree`).
    """
    busy = set(busy)
    rows = []
    for key in sorted(before.keys() & after.keys()):
        changed, why = (False, BUSY_WHY) if key in busy else judge(before[key], after[key], floor)
        if changed and rounds is not None and key in rounds:
            changed, disagree = rounds_agree(rounds[key], after[key].median / before[key].median, floor)
            why = disagree or why
        rows.append(Row(key, before[key].median, after[key].median, changed, why))
    return rows


def gate(rows: Sequence[Row], fail_above: float | None) -> list[Row]:
    """The changes beyond the noise that are slowdowns by more than ``fail_above`` (none without a factor)."""
    if fail_above is None:
        return []
    return [r for r in rows if r.changed and r.ratio > fail_above]


def summarize_repeatability(rows: Sequence[Row]) -> dict[str, Any]:
    """How two runs of one release agreed: the numbers the noise rules read, and a few more for people."""
    if not rows:
        raise UsageError("no variant was measured in both runs: nothing to say about repeatability")
    drift = [abs(r.ratio - 1) for r in rows]
    by_benchmark: dict[str, list[float]] = {}
    for r in rows:
        by_benchmark.setdefault(r.key[0], []).append(math.log(r.ratio))
    per_benchmark = [abs(math.exp(sum(v) / len(v)) - 1) for v in by_benchmark.values()]
    return {
        "within_10pct": sum(d <= WITHIN for d in drift) / len(drift),
        "p90_abs_change": quantile(drift, QUANTILE),
        "p50_abs_change": quantile(drift, 0.5),
        "max_abs_change": max(drift),
        "variants": len(rows),
        "p90_abs_change_per_benchmark": quantile(per_benchmark, QUANTILE),
        "benchmarks": len(per_benchmark),
        "changed_beyond_noise": sum(r.changed for r in rows),
    }
