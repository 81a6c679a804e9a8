"""Turning user-supplied names into ops, backends and presets, or a clear error; what a job is asked to measure.

Shared by the CLI and the ASV suite so both accept the same spellings (case
does not matter) and both reject a typo the same way: naming what exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from mlxbench.catalog import CATALOG, PRESETS
from mlxbench.catalog.spec import Op
from mlxbench.errors import UsageError
from mlxbench.harness.backends import BACKENDS, Backend

T = TypeVar("T")


@dataclass(frozen=True)
class Selection:
    """What a job measures: these ops on these backends, filed under ``machine`` (None: this host's own name)."""

    ops: Sequence[Op]
    backends: Sequence[Backend]
    machine: str | None = None


def _pick(kind: str, names: Iterable[str], table: Mapping[str, T], valid: Iterable[str] | None = None) -> list[T]:
    """``table``'s entries for ``names`` (any case); an unknown name lists ``valid`` (default: the keys)."""
    by_lower = {k.lower(): v for k, v in table.items()}
    picked: list[T] = []
    for name in names:
        if name.lower() not in by_lower:
            raise UsageError(f"unknown {kind} {name!r}; valid {kind}s: {', '.join(valid or table)}")
        item = by_lower[name.lower()]
        if item not in picked:
            picked.append(item)
    return picked


def ops(names: Sequence[str] | None, preset: str) -> list[Op]:
    """The named ops as given, or all of them; those with variants in ``preset`` (one named without: refused).

    The ops of today's models have none in ``default`` or ``seed``: naming one there says where it is.
    """
    picked = _pick("op", names, CATALOG) if names else list(CATALOG.values())
    for op in picked if names else ():
        if not op.variants(preset):
            elsewhere = ", ".join(p for p in PRESETS if op.variants(p))
            raise UsageError(f"{op.name} has no variants in preset {preset!r}; it is in: {elsewhere}")
    return [op for op in picked if op.variants(preset)]


def backends(names: Sequence[str] | None, order: Sequence[Backend] | None = None) -> list[Backend]:
    """The named backends, or all of them in ``order`` (unavailable ones are skipped later, not here).

    A report's column heading (``cpu``, ``mps``, ``cuda``) names its backend too.
    """
    listed = list(order or BACKENDS.values())
    if not names:
        return listed
    by_column = {b.column: b for b in listed}
    return _pick("backend", names, {**by_column, **{b.name: b for b in listed}}, valid=[b.name for b in listed])


def preset(name: str) -> str:
    """The preset named (any case, as ops and backends are), or UsageError naming the valid ones."""
    by_lower = {p.lower(): p for p in PRESETS}
    if name.lower() not in by_lower:
        raise UsageError(f"unknown preset {name!r}; valid presets: {', '.join(PRESETS)}")
    return by_lower[name.lower()]


def release_range(spec: str | None, measured: Sequence[str], timeline: Sequence[str]) -> tuple[str | None, list[str]]:
    """``--release A..B`` (or ``A``) as the releases with results can answer it, and a line per end it moved.

    An end that is a timeline release without results (``v0.20.0``: no wheel here) moves inward to the nearest
    release measured inside the range; a tag may leave out its ``v``. An end the timeline does not know is left
    for the report to refuse (naming what there is). UsageError where the range holds no release with results.
    """
    if not spec:
        return spec, []
    order = {tag: i for i, tag in enumerate(timeline)}

    def tag(end: str) -> str:
        return f"v{end}" if end and end not in order and end not in measured and f"v{end}" in order else end

    first, sep, last = (tag(part.strip()) for part in spec.partition(".."))
    if not sep:
        if first in order and first not in measured:
            raise UsageError(f"no results of {first} here; releases with results: {', '.join(measured)}")
        return first, []
    if not any(end in order and end not in measured for end in (first, last)):
        return f"{first}..{last}", []
    placed = [r for r in measured if r in order]
    inside = [
        r
        for r in placed
        if (not first or first not in order or order[r] >= order[first])
        and (not last or last not in order or order[r] <= order[last])
    ]
    if not inside:
        raise UsageError(f"no release with results in {first}..{last}; releases with results: {', '.join(measured)}")
    notes = []
    if first in order and first not in measured:
        notes.append(
            f"{first} has no results here: the range starts at {inside[0]}, the first release after it that has"
        )
        first = inside[0]
    if last in order and last not in measured:
        notes.append(f"{last} has no results here: the range ends at {inside[-1]}, the last before it with results")
        last = inside[-1]
    return f"{first}..{last}", notes
