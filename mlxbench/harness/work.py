"""The work one call of an op variant does: bytes it must move and floating-point operations.

Bytes are the minimum any implementation moves: every input read once and the
output written once. Input sizes come from the inputs themselves; the output's
size and dtype from MLX's shape inference (the graph is built, never
evaluated), or from the float64 reference where this MLX release lacks the op.
FLOPs come from the op's declared rule. Reports divide these by the measured
time to give GB/s and GFLOP/s, and by the machine's ceilings for roofline %.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mlxbench.catalog.spec import Op, Variant
from mlxbench.harness import versions
from mlxbench.harness.backends import mlx_arrays

BUDGET_BYTES = 2 * 2**30
"""A default-preset benchmark process must fit in 2 GB (8 GB laptops run the suite)."""


@dataclass(frozen=True)
class Work:
    in_bytes: int
    out_bytes: int
    flops: float

    @property
    def bytes(self) -> int:
        return self.in_bytes + self.out_bytes

    @property
    def footprint(self) -> int:
        """Peak bytes a benchmark process holds: the host inputs, their device copies, the output."""
        return 2 * self.in_bytes + self.out_bytes


ITEMSIZE = {"float32": 4, "float16": 2, "bfloat16": 2}
"""Bytes per element of each dtype: the float inputs (held as float32 on the host) reach the op in the variant's."""


def _nbytes(a: np.ndarray, dtype: str) -> int:
    return a.size * ITEMSIZE[dtype] if a.dtype.kind == "f" else a.nbytes


def _output_size(op: Op, variant: Variant, inputs: dict[str, np.ndarray]) -> tuple[int, int]:
    """(elements, itemsize) of the op's output in MLX (lazily), or of the reference."""
    if not isinstance(versions.import_mlx(), str) and all(versions.mlx_has(p) for p in op.mlx_requires):
        out = op.mlx(*mlx_arrays(inputs, variant.dtype), **variant.kwargs)
        return int(out.size), int(out.itemsize)
    ref = np.asarray(op.reference(*(a.astype(np.float64) for a in inputs.values()), **variant.kwargs))
    return int(ref.size), ITEMSIZE[variant.dtype] if ref.dtype.kind == "f" else 8


class _ShapesOnly:
    """A stand-in for the input factories' generator that draws zeros: the inputs' shapes and dtypes without the
    cost of drawing (0.7 GB of SwiGLU weights per variant in the models preset)."""

    def uniform(self, low: float = 0.0, high: float = 1.0, size: Any = None) -> np.ndarray:
        return np.zeros(size)

    def integers(self, low: int, high: int | None = None, size: Any = None, dtype: Any = np.int64) -> np.ndarray:
        return np.zeros(size, dtype=dtype)


_cache: dict[tuple[str, str], Work] = {}


def of(op: Op, variant: Variant) -> Work:
    """The work of one call (cached: inputs are generated once per variant)."""
    key = (op.name, variant.id)
    if key not in _cache:
        inputs = op.inputs(variant, _ShapesOnly())  # type: ignore[arg-type]
        elements, itemsize = _output_size(op, variant, inputs)
        flops = float(op.flops(variant, elements)) if op.flops else 0.0
        _cache[key] = Work(sum(_nbytes(a, variant.dtype) for a in inputs.values()), elements * itemsize, flops)
    return _cache[key]
