"""When a difference between two measurements is a change, and when it is noise: the rules report and compare share.

:func:`judge` needs ASV's test (:func:`is_different`) to find most variants different in the change's
direction and the change to exceed a floor. :func:`pair` gives two points' changed frameworks
(:func:`changed_frameworks`) and their between-run floor, from the backends whose framework did not
change, else the machine's repeatability (the store's), else :data:`DEFAULT_FLOOR`; within one run
the floor is :data:`WITHIN_RUN`. Why: docs/report-architecture.md.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import geometric_mean

import numpy as np
from asv import _stats

from mlxbench.harness.backends import BACKENDS

P_THRESHOLD = 0.002
"""``asv._stats.is_different``'s default significance level, the one ``asv compare`` uses."""
FLOOR_QUANTILE = 0.9
"""The floor is this quantile of the controls' ``|ratio - 1|``: most drift stays inside it."""
MIN_CONTROLS = 3
"""Fewer control points than this say nothing about a quantile: the repeatability or the default is used instead.
With few points the interpolated quantile sits near the largest drift, which errs towards ``~``."""
_EXACT_LIMIT = 20
"""asv's Mann-Whitney is exact up to this sample size; larger ones use its normal approximation."""


@dataclass(frozen=True)
class Stats:
    """One variant's measurement in one run, as ASV stored it (seconds, or any one unit)."""

    median: float
    ci_99: tuple[float, float] | None = None
    samples: Sequence[float] | None = field(default=None, compare=False, repr=False)
    repeat: int | None = None
    """How many samples ASV took; 1 means no statistics (``asv compare`` then skips its test)."""


@dataclass(frozen=True)
class Floor:
    """A pair's between-run noise floor: ``|ratio - 1|`` below ``fraction`` is not a change."""

    fraction: float
    source: str
    """Where the number comes from, in words, for the report's notes."""

    def __str__(self) -> str:
        return f"{self.fraction * 100:.0f}% ({self.source})"


DEFAULT_FLOOR = Floor(0.10, "default: no control benchmarks or measured repeatability for this pair")
WITHIN_RUN = Floor(0.0, "within one run: no between-run drift")


@dataclass(frozen=True)
class Verdict:
    """How a set of variants changed from ``before`` to ``after``, and whether that beats the noise."""

    change: float
    """``(mean(after) / mean(before) - 1) * 100``: positive is slower."""
    changed: bool
    why: str


def _mann_whitney_p(x: np.ndarray, y: np.ndarray) -> float:
    """asv's ``mann_whitney_u(x, y)`` p-value (method ``auto``, conservative ties), to the last digit.

    asv counts U and ties over all m*n pairs in Python: 0.6 s for two 5000-sample
    results, minutes for a history. Sorting gives the same integers; the rest
    is asv's formula line for line (tests check both agree): its exact
    distribution up to :data:`_EXACT_LIMIT` samples (:func:`_exact_p`), its
    normal approximation above.
    """
    m, n = len(x), len(y)
    ys = np.sort(y)
    below = np.searchsorted(ys, x, side="left")
    u = int(below.sum())
    ties = int((np.searchsorted(ys, x, side="right") - below).sum())
    if u <= m * n // 2 and u + ties >= m * n // 2:
        ties = m * n // 2 - u
    ux1 = min(u, m * n - u)
    ux2 = min(u + ties, m * n - (u + ties))
    ux = ux1 if ux1 >= ux2 else ux2
    if max(m, n) <= _EXACT_LIMIT:
        return _exact_p(m, n, ux)
    var = m * n * (m + n + 1) / 12
    z = (ux - m * n / 2) / math.sqrt(var)
    return 2 * 0.5 * math.erfc(-z / math.sqrt(2))


_ORDERINGS: dict[tuple[int, int, int], int] = {}
"""asv's memo of ``mann_whitney_u_r`` (orderings of two samples with a given U), kept for the whole process.

asv's own memo empties itself past 100,000 entries, which two 20-sample sizes
reach: a history then counted the same orderings again at every pair of results
(minutes of a report's time). Bounded: sizes up to 20 and U below 400 make at most 160,000 entries.
"""


@functools.cache
def _exact_p(m: int, n: int, ux: int) -> float:
    """asv's exact two-sided p-value for samples of sizes ``m`` and ``n`` and statistic ``ux``, by asv's own code."""
    p1 = _stats.mann_whitney_u_cdf(m, n, ux, _ORDERINGS)
    p2 = 1.0 - _stats.mann_whitney_u_cdf(m, n, max(m * n // 2, m * n - ux - 1), _ORDERINGS)
    return p1 + p2


def is_different(before: Stats, after: Stats) -> bool | None:
    """ASV's test, as ``asv compare`` applies it; None where there are no statistics to test.

    ``asv._stats.is_different`` step by step: with samples large enough for
    p < 0.002 to be reachable, the Mann-Whitney U test (:func:`_mann_whitney_p`:
    asv's exact distribution up to 20 samples, its normal approximation above);
    otherwise the 99% confidence intervals must not overlap.
    """
    if before.repeat == 1 or after.repeat == 1:
        return None
    if before.samples is not None and after.samples is not None:
        a, b = (np.asarray(x, dtype=float) for x in (before.samples, after.samples))
        a, b = a[~np.isnan(a)], b[~np.isnan(b)]
        # asv's p_min: the smallest p-value these sizes allow (math.comb is asv's binom, in C)
        if len(a) and len(b) and 1 / math.comb(len(a) + len(b), min(len(a), len(b))) < P_THRESHOLD:
            return _mann_whitney_p(a, b) < P_THRESHOLD
    if before.ci_99 is None or after.ci_99 is None:
        return None
    return _stats.is_different(None, None, _ci(before), _ci(after), P_THRESHOLD)


def _ci(s: Stats) -> dict[str, float]:
    return {"ci_99_a": s.ci_99[0], "ci_99_b": s.ci_99[1]}


def sign(x: float) -> int:
    """-1, 0 or 1: the direction of ``x``."""
    return (x > 0) - (x < 0)


def judge(
    before: Mapping[str, Stats],
    after: Mapping[str, Stats],
    floor: Floor,
    mean: Callable[[Sequence[float]], float] = geometric_mean,
) -> Verdict:
    """Whether the variants ``before`` and ``after`` share changed beyond the noise.

    The change is ``mean(after) / mean(before) - 1`` over the shared variants
    (the geometric mean of their ratios by default). It counts only when ASV's
    test finds more than half of the variants different in the change's
    direction, and when ``|ratio - 1|`` exceeds ``floor``. Raises ValueError
    when the two share no variant.
    """
    shared = [v for v in before if v in after]
    if not shared:
        raise ValueError("no variant measured at both points")
    ratio = mean([after[v].median for v in shared]) / mean([before[v].median for v in shared])
    change = (ratio - 1.0) * 100.0
    direction = sign(ratio - 1.0)
    tests = [is_different(before[v], after[v]) for v in shared]
    if floor.fraction == 0.0 and all(t is None for t in tests):  # a one-sample trial (--quick): nothing to test
        return Verdict(change, False, "no samples or intervals to test, and no floor: not judged")
    if any(t is not None for t in tests):
        agree = sum(1 for v, t in zip(shared, tests) if t and sign(after[v].median - before[v].median) == direction)
        if direction == 0 or agree * 2 <= len(shared):
            return Verdict(change, False, f"ASV's test: {agree} of {len(shared)} variant(s) differ in this direction")
    if abs(ratio - 1.0) <= floor.fraction:
        return Verdict(change, False, f"inside the noise floor {floor}")
    return Verdict(change, True, f"beats the noise floor {floor}")


def floor_from_controls(ratios: Sequence[float], what: str, fallback: Floor) -> Floor:
    """The :data:`FLOOR_QUANTILE` of ``|ratio - 1|`` over control ratios (after/before), or ``fallback``.

    ``ratios`` should have the granularity of what is judged (one per op when
    ops are judged), since averaging over variants shrinks the noise.
    ``what`` names the controls for the notes ("23 cpu ops").
    """
    drift = sorted(abs(r - 1.0) for r in ratios if math.isfinite(r) and r > 0)
    if len(drift) < MIN_CONTROLS:
        return fallback
    position = FLOOR_QUANTILE * (len(drift) - 1)
    low = math.floor(position)
    high = min(low + 1, len(drift) - 1)
    value = drift[low] + (drift[high] - drift[low]) * (position - low)
    return Floor(value, f"{FLOOR_QUANTILE * 100:.0f}th percentile of |ratio - 1| over {what}")


def point_versions(pins: Mapping[str, str | None], pinned_torch: str | None) -> dict[str, str | None]:
    """Framework -> the version measured at a point: the commit's ``pins``, the environment's torch where it pins one.

    None where a framework's version is unknown or it had no release yet.
    """
    return {"mlx": pins.get("mlx"), "torch": pinned_torch or pins.get("torch")}


def changed_frameworks(before: Mapping[str, str | None], after: Mapping[str, str | None]) -> set[str]:
    """Frameworks whose version differs between two points; an unknown version counts as changed."""
    return {f for f in before.keys() | after.keys() if before.get(f) is None or before.get(f) != after.get(f)}


@dataclass(frozen=True)
class Pair:
    """Two points as the noise tests see them: the frameworks that changed between them, and the floor."""

    changed: frozenset[str]
    """Frameworks whose version differs between the two (an unknown version counts as changed)."""
    floor: Floor


Runs = Mapping[str, Mapping[Hashable, Stats]]
"""One point's time measurements: backend name -> variant (keyed as the caller keys it) -> statistics."""


def pair(
    before: Runs,
    after: Runs,
    versions: tuple[Mapping[str, str | None], Mapping[str, str | None]],
    fallback: Floor,
    *,
    unit: Callable[[Hashable], Hashable] = lambda variant: variant,
    mean: Callable[[Sequence[float]], float] = geometric_mean,
    counted: str = "control variant(s)",
    label: Callable[[str], str] = lambda backend: backend,
) -> Pair:
    """The frameworks that changed between two points (``versions``: each point's), and the pair's floor.

    The controls are the backends (:data:`~mlxbench.harness.backends.BACKENDS`) whose framework did not
    change; the floor is :func:`floor_from_controls` over one ratio per control backend and ``unit``
    (the variants judged together: an op's for the report, each variant alone for compare), else
    ``fallback``, which then names the controls it saw, if any. ``counted`` and ``label`` word the source.
    """
    old, new = versions
    changed = changed_frameworks(old, new)
    controls, ratios = [], []
    for backend in BACKENDS.values():
        a, b = before.get(backend.name, {}), after.get(backend.name, {})
        if backend.framework in changed or not a or not b:
            continue
        controls.append(label(backend.name))
        units: dict[Hashable, list[Hashable]] = {}
        for variant in a:
            if variant in b:
                units.setdefault(unit(variant), []).append(variant)
        ratios += [mean([b[v].median for v in group]) / mean([a[v].median for v in group]) for group in units.values()]
    kept = ", ".join(f"{f} {old[f]}" for f in sorted(old.keys() - changed))
    what = f"{len(ratios)} {counted} of {', '.join(controls)}, whose {kept} is the same at both points"
    if 0 < len(ratios) < MIN_CONTROLS:  # said, so that a reader of the floor knows the controls were seen
        fallback = Floor(fallback.fraction, f"{fallback.source}; {what}: too few to set it")
    return Pair(frozenset(changed), floor_from_controls(ratios, what, fallback))
