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
    if name not in PRESETS:
        raise UsageError(f"unknown preset {name!r}; valid presets: {', '.join(PRESETS)}")
    return name
