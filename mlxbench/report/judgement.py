"""Whether a change or speedup beats the noise (:mod:`mlxbench.noise`).

Every change (history) and speedup (average, detailed) is judged against the
noise: one that does not beat it prints ``~``, since two runs of the same code
on the same machine differ by more than many of the changes the table would
otherwise print.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from mlxbench import noise
from mlxbench.harness.backends import BACKENDS
from mlxbench.report.data import ReportData
from mlxbench.report.formatting import AGGREGATES, Change, change, ratio
from mlxbench.report.model import Key, Value


class Pair(NamedTuple):
    """Two commits of one series, as the noise tests see them."""

    changed: frozenset[str]
    """Frameworks whose version differs between the two (an unknown version counts as changed)."""
    floor: noise.Floor


def commit_pair(data: ReportData, series: str, before: str, after: str) -> Pair:
    """Which frameworks changed between two commits, and the pair's between-run noise floor.

    The floor is the drift of the control benchmarks (backends whose
    framework did not change), one ratio per op and backend as the tables
    aggregate them, else the machine's repeatability or the default.
    """
    if (series, before, after) in data.pairs:
        return data.pairs[(series, before, after)]
    old, new = data.versions(series, before), data.versions(series, after)
    changed = noise.changed_frameworks(old, new)
    mean = AGGREGATES[data.how]
    controls, ratios = [], []
    for backend in BACKENDS.values():
        a = data.runs.get((series, before, backend.name), {})
        b = data.runs.get((series, after, backend.name), {})
        if backend.framework in changed or not a or not b:
            continue
        controls.append(backend.column)
        for op in sorted({op for op, _ in a}):
            shared = [v for o, v in a if o == op and (o, v) in b]
            if shared:
                ratios.append(mean([b[(op, v)].median for v in shared]) / mean([a[(op, v)].median for v in shared]))
    kept = ", ".join(f"{f} {old[f]}" for f in sorted(old.keys() - changed))
    what = f"{len(ratios)} op results of {', '.join(controls)}, whose {kept} is the same at both points"
    pair = Pair(frozenset(changed), noise.floor_from_controls(ratios, what, data.repeatability[series]))
    data.pairs[(series, before, after)] = pair
    return pair


def judged(
    data: ReportData,
    value: Value,
    series: str,
    op: str,
    variants: Sequence[str],
    before: tuple[str, str],
    after: tuple[str, str],
    floor: noise.Floor,
) -> Value:
    """A percentage from ``before`` to ``after`` (each a (release, backend)) with its noise verdict.

    n/a and failed stay as they are; a number becomes a :class:`Change`, which
    never beats the noise where a variant on either side was sampled on a busy machine.
    """
    if not isinstance(value, float):
        return value
    if any(Key(series, release, op, v, backend) in data.busy for release, backend in (before, after) for v in variants):
        return Change(value, False)
    old, new = (
        {v: data.runs[(series, release, backend)][(op, v)] for v in variants} for release, backend in (before, after)
    )
    return Change(value, noise.judge(old, new, floor, AGGREGATES[data.how]).changed)


def race_change(
    data: ReportData, series: str, op: str, variants: Sequence[str], before: str, after: str, race: tuple[str, str]
) -> Value:
    """The change of the MLX/torch ratio from ``before`` to ``after``, with its noise verdict.

    The ratio moves with both backends, but only a backend whose framework
    changed between the two commits can have changed; the other one's
    difference is the machine's drift. So the ratio's change beats the
    noise only where such a backend changed beyond the noise (the history
    table's verdict) in the ratio's direction (a slower MLX raises it, a
    slower torch lowers it), and the ratio moved more than the pair's floor.
    """
    times = {
        backend: (
            data.op_value(series, before, op, variants, backend),
            data.op_value(series, after, op, variants, backend),
        )
        for backend in race
    }
    value = change(ratio(*(times[b][0] for b in race)), ratio(*(times[b][1] for b in race)))
    if not isinstance(value, float):
        return value
    pair = commit_pair(data, series, before, after)
    moved = False
    for backend, direction in zip(race, (1.0, -1.0)):
        if BACKENDS[backend].framework not in pair.changed:
            continue
        own = judged(
            data, change(*times[backend]), series, op, variants, (before, backend), (after, backend), pair.floor
        )
        moved |= isinstance(own, Change) and own.beats_noise and direction * own * value > 0
    return Change(value, moved and abs(value) > pair.floor.fraction * 100.0)
