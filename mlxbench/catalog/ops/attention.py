"""ScaledDotProductAttention on (B, H, L, D) queries, keys and values.

``masking="causal"`` passes a real additive mask (0 / -inf) to both sides,
aligned bottom-right: query ``i`` of ``Lq`` sees keys ``j <= i + Lk - Lq``, so
no row is fully masked when ``Lk > Lq``. The older suite's "causal" variant
passed a mask that masked nothing; verification against the float64 reference
catches that.
"""

from __future__ import annotations

import math

import numpy as np

from mlxbench.catalog.authoring import presets, uniform, var, weighted_average
from mlxbench.catalog.frameworks import F, mx
from mlxbench.catalog.spec import Arrays, Op, Variant

MASKINGS = ("none", "causal")


def _causal_mask(lq: int, lk: int) -> np.ndarray:
    allowed = np.arange(lk)[None, :] <= np.arange(lq)[:, None] + (lk - lq)
    return np.where(allowed, 0.0, -np.inf).astype(np.float32)


def _inputs(v: Variant, rng: np.random.Generator) -> Arrays:
    arrays = {name: uniform(rng, v.shapes[name]) for name in ("q", "k", "v")}
    if v.options["masking"] == "causal":
        arrays["mask"] = _causal_mask(v.shapes["q"][-2], v.shapes["k"][-2])
    return arrays


def _scale(q) -> float:
    return float(q.shape[-1]) ** -0.5


def _reference(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    scores = q @ np.swapaxes(k, -1, -2) * _scale(q)
    if mask is not None:
        scores = scores + mask
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    return weights @ v


def _shapes(q: tuple[int, ...], kv: tuple[int, ...]) -> list[Variant]:
    return [var(q=q, k=kv, v=kv, options={"masking": m}) for m in MASKINGS]


def _flops(v: Variant, out: int) -> float:
    """QK^T and PV (2 x Lq x Lk x D each per head), softmax (5 per score), the mask's add."""
    *batch, lq, d = v.shapes["q"]
    lk = v.shapes["k"][-2]
    scores = math.prod(batch) * lq * lk
    return scores * (4 * d + 5 + (v.options["masking"] == "causal"))


OPS = [
    Op(
        name="ScaledDotProductAttention",
        presets=presets(
            seed=_shapes((64, 8, 16, 1024), (64, 8, 16, 1024))
            + _shapes((64, 8, 16, 1024), (64, 8, 64, 1024))
            + _shapes((64, 16, 16, 1024), (64, 16, 16, 1024))
            + _shapes((64, 16, 16, 1024), (64, 16, 64, 1024)),
            default=_shapes((8, 8, 16, 256), (8, 8, 16, 256))
            + _shapes((8, 8, 16, 256), (8, 8, 64, 256))
            + _shapes((8, 16, 16, 256), (8, 16, 16, 256))
            + _shapes((8, 16, 16, 256), (8, 16, 64, 256)),
            tiny=_shapes((2, 3, 4, 8), (2, 3, 4, 8)) + _shapes((1, 2, 3, 8), (1, 2, 7, 8)),
        ),
        inputs=_inputs,
        mlx=lambda q, k, v, mask=None: mx.fast.scaled_dot_product_attention(q, k, v, scale=_scale(q), mask=mask),
        torch=lambda q, k, v, mask=None: F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=_scale(q)),
        reference=_reference,
        tolerance=weighted_average(lambda v: v.shapes["q"][-1]),
        flops=_flops,
        mlx_requires=("fast.scaled_dot_product_attention",),
    ),
]
