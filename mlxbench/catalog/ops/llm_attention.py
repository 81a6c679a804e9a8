"""Grouped-query attention as a language model runs it: a causal prefill, and one decode step against a KV cache.

Queries have HEADS heads, keys and values KV_HEADS (each shared by
HEADS / KV_HEADS query heads), laid out (B, heads, L, head dim). Both sides take
the framework's fused path: ``mx.fast.scaled_dot_product_attention`` with
``mask="causal"`` and ``F.scaled_dot_product_attention(is_causal=True,
enable_gqa=True)``. Where a release lacks the grouped-query or causal form, each
side does what its users did then, chosen once in prepare: repeat the KV heads
(torch before 2.5, Hugging Face's ``repeat_kv``), an additive mask (MLX before
``mask="causal"``). torch's ``is_causal`` is the top-left triangle, the same as
MLX's for a square prefill; decode attends to the whole cache, unmasked.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from mlxbench.catalog.authoring import model_presets, uniform, var, weighted_average
from mlxbench.catalog.frameworks import Chosen, F, mx, torch
from mlxbench.catalog.ops.llm_shapes import CONTEXT, DECODE_BATCHES, HEAD_DIM, HEADS, KV_HEADS, PREFILL
from mlxbench.catalog.spec import Arrays, Op, Variant


def _inputs(v: Variant, rng: np.random.Generator) -> Arrays:
    return {name: uniform(rng, v.shapes[name]) for name in ("q", "k", "v")}


def _scale(q) -> float:
    return float(q.shape[-1]) ** -0.5


def _reference(q: np.ndarray, k: np.ndarray, v: np.ndarray, *, causal: bool = False) -> np.ndarray:
    group = q.shape[1] // k.shape[1]
    k, v = np.repeat(k, group, axis=1), np.repeat(v, group, axis=1)
    scores = q @ np.swapaxes(k, -1, -2) * _scale(q)
    if causal:
        lq, lk = scores.shape[-2:]
        scores = np.where(np.arange(lk)[None, :] <= np.arange(lq)[:, None], scores, -np.inf)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return weights / weights.sum(axis=-1, keepdims=True) @ v


def _mlx_probe(**kwargs) -> bool:
    """Whether this MLX release's fused attention takes these arguments (a two-head query on one KV head)."""
    q, kv = mx.zeros((1, 2, 2, 8)), mx.zeros((1, 1, 2, 8))
    try:
        mx.eval(mx.fast.scaled_dot_product_attention(q, kv, kv, scale=1.0, **kwargs))
    except (TypeError, ValueError, RuntimeError):
        return False
    return True


def _mlx_attention(causal: bool) -> Chosen:
    """The fused call, with ``mask="causal"`` where the release has it, else an additive mask of the same triangle."""

    def choose():
        if not _mlx_probe():
            raise NotImplementedError(f"mlx {mx.__version__}: no grouped-query heads in fast attention")
        if not causal:
            return lambda q, k, v: mx.fast.scaled_dot_product_attention(q, k, v, scale=_scale(q))
        if _mlx_probe(mask="causal"):
            return lambda q, k, v: mx.fast.scaled_dot_product_attention(q, k, v, scale=_scale(q), mask="causal")

        def masked(q, k, v):
            lq, lk = q.shape[-2], k.shape[-2]
            mask = mx.where(mx.arange(lk)[None] <= mx.arange(lq)[:, None], 0.0, -math.inf)
            return mx.fast.scaled_dot_product_attention(q, k, v, scale=_scale(q), mask=mask)

        return masked

    return Chosen(choose)


def _torch_attention(causal: bool) -> Chosen:
    """``enable_gqa=True`` from torch 2.5; before it, the KV heads repeated first, as users did."""

    def choose():
        q, kv = torch.zeros(1, 2, 2, 8), torch.zeros(1, 1, 2, 8)
        try:
            F.scaled_dot_product_attention(q, kv, kv, enable_gqa=True)
            grouped = True
        except TypeError:  # before torch 2.5: no such keyword
            grouped = False
        if grouped:
            return lambda q, k, v: F.scaled_dot_product_attention(
                q, k, v, is_causal=causal, scale=_scale(q), enable_gqa=True
            )

        def repeated(q, k, v):
            group = q.shape[1] // k.shape[1]
            k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=_scale(q))

        return repeated

    return Chosen(choose)


def _attention(batch: int, queries: int, keys: int, heads: int, kv_heads: int, dim: int) -> Variant:
    kv = (batch, kv_heads, keys, dim)
    return var(q=(batch, heads, queries, dim), k=kv, v=kv)


def _flops(causal: bool):
    """QK^T and PV (2 x Lq x Lk x D each per query head) and softmax (5 per score); a causal prefill does half."""

    def flops(v: Variant, out: int) -> float:
        b, h, lq, d = v.shapes["q"]
        return b * h * lq * v.shapes["k"][-2] * (0.5 if causal else 1.0) * (4 * d + 5)

    return flops


def _op(name: str, causal: bool, tiny: list[Variant], models: list[Variant]) -> Op:
    return Op(
        name=name,
        presets=model_presets(tiny=tiny, models=models),
        inputs=_inputs,
        mlx=_mlx_attention(causal),
        torch=_torch_attention(causal),
        reference=functools.partial(_reference, causal=causal),
        tolerance=weighted_average(lambda v: v.shapes["q"][-1]),
        flops=_flops(causal),
        mlx_requires=("fast.scaled_dot_product_attention",),
    )


OPS = [
    _op(
        "AttentionPrefill",
        causal=True,
        tiny=[_attention(1, 6, 6, 4, 2, 8), _attention(2, 5, 5, 4, 1, 8)],
        models=[_attention(1, PREFILL, PREFILL, HEADS, KV_HEADS, HEAD_DIM)],
    ),
    _op(
        "AttentionDecode",
        causal=False,
        tiny=[_attention(1, 1, 9, 4, 2, 8), _attention(3, 1, 7, 4, 1, 8)],
        models=[_attention(b, 1, CONTEXT, HEADS, KV_HEADS, HEAD_DIM) for b in DECODE_BATCHES],
    ),
]
