"""The op catalog: every op mlxbench measures, in the order reports list them.

Adding an op means writing one :class:`~mlxbench.spec.Op` entry in the module
that fits it (or a new module listed here); nothing else needs to change.
"""

from __future__ import annotations

from mlxbench.ops import activations, attention, convolution, indexing, linalg, losses, normalization, reductions
from mlxbench.ops._build import PRESETS
from mlxbench.spec import Op, Variant

CATALOG: dict[str, Op] = {
    op.name: op
    for module in (reductions, losses, indexing, convolution, normalization, activations, linalg, attention)
    for op in module.OPS
}
CATALOG = dict(sorted(CATALOG.items()))

VARIANTS: dict[tuple[str, str], Variant] = {
    (op.name, v.id): v for op in CATALOG.values() for preset in PRESETS for v in op.variants(preset)
}
"""(op name, variant id) -> variant, over every preset in catalog order: how results files are read back."""

__all__ = ["CATALOG", "PRESETS", "VARIANTS"]
