"""The op catalog: every op mlxbench measures, in the order reports list them.

Holds the types ops are written in (:mod:`.spec`), the helpers entries are
written with (:mod:`.authoring`: presets, seeded inputs, tolerance rules), the
deferred framework imports (:mod:`.frameworks`) and the op families (:mod:`.ops`).
Adding an op means writing one :class:`~mlxbench.catalog.spec.Op` entry in the
family module that fits it (or a new module listed here); nothing else changes.

Imports nothing else of mlxbench: everything else imports the catalog.
"""

from __future__ import annotations

from mlxbench.catalog.authoring import PRESETS
from mlxbench.catalog.ops import (
    activations,
    attention,
    convolution,
    indexing,
    linalg,
    llm_attention,
    llm_layers,
    llm_vocab,
    losses,
    normalization,
    quantized,
    reductions,
)
from mlxbench.catalog.spec import Op, Variant

CATALOG: dict[str, Op] = {
    op.name: op
    for module in (
        reductions,
        losses,
        indexing,
        convolution,
        normalization,
        activations,
        linalg,
        attention,
        llm_layers,
        llm_attention,
        llm_vocab,
        quantized,
    )
    for op in module.OPS
}
CATALOG = dict(sorted(CATALOG.items()))

VARIANTS: dict[tuple[str, str], Variant] = {
    (op.name, v.id): v for op in CATALOG.values() for preset in PRESETS for v in op.variants(preset)
}
"""(op name, variant id) -> variant, over every preset in catalog order: how results files are read back."""

__all__ = ["CATALOG", "PRESETS", "VARIANTS"]
