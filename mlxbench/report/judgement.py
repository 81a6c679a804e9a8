"""Whether a change or speedup beats the noise (:mod:`mlxbench.noise`).

Every change (history) and speedup (average, detailed) is judged against the
noise: one that does not beat it prints ``~``, since two runs of the same code
on the same machine differ by more than many of the changes the table would
otherwise print.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlxbench import noise
from mlxbench.harness.backends import BACKENDS
from mlxbench.report.data import ReportData
from mlxbench.report.formatting import AGGREGATES, Change, change, ratio
from mlxbench.report.model import Key, Value


def commit_pair(data: ReportData, series: str, before: str, after: str) -> noise.Pair:
    """Which frameworks changed between two commits, and the pair's between-run floor (:func:`noise.pair`).

    One control ratio per op and backend, aggregated as the tables aggregate
    ops; else the machine's repeatability or the default.
    """
    if (series, before, after) not in data.pairs:
        data.pairs[(series, before, after)] = noise.pair(
            {b: run for (s, r, b), run in data.runs.items() if (s, r) == (series, before)},
            {b: run for (s, r, b), run in data.runs.items() if (s, r) == (series, after)},
            (data.versions(series, before), data.versions(series, after)),
            data.repeatability[series],
            unit=lambda variant: variant[0],
            mean=AGGREGATES[data.how],
            counted="op results",
            label=lambda backend: BACKENDS[backend].column,
        )
    return data.pairs[(series, before, after)]


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
