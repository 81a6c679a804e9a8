"""Small helpers the op modules are written with: variants, data, tolerances."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from mlxbench.catalog.spec import DTYPES, FLOAT32_EPS, Shape, Tolerance, ToleranceRule, Variant

PRESETS: tuple[str, ...] = ("default", "seed", "tiny", "models")
"""``seed``: the older suite's exact shapes. ``default``: the same ops sized for a
laptop CPU (< 2 GB per process, minutes per backend), in float32. ``tiny``: for
tests, in every dtype. ``models``: float16 and bfloat16, and the ops of today's
language models (``ops/llm_*.py``, ``ops/quantized.py``) in every dtype."""
HALF_DTYPES: tuple[str, ...] = DTYPES[1:]


def var(*, options: Mapping[str, Any] | None = None, **kwargs: Any) -> Variant:
    """``var(x=(64, 128), axis=1)``: tuple values are input shapes, others the op's keyword arguments.

    ``options`` are settings only the input factory reads (``options={"masking": "causal"}``).
    """
    shapes = {k: tuple(v) for k, v in kwargs.items() if isinstance(v, tuple)}
    op_kwargs = {k: v for k, v in kwargs.items() if not isinstance(v, tuple)}
    return Variant(shapes=shapes, kwargs=op_kwargs, options=dict(options or {}))


def in_dtypes(variants: Sequence[Variant], dtypes: Sequence[str] = DTYPES) -> tuple[Variant, ...]:
    """Each variant in each of ``dtypes``, dtype by dtype."""
    return tuple(dataclasses.replace(v, dtype=d) for d in dtypes for v in variants)


def presets(
    *,
    seed: Sequence[Variant],
    default: Sequence[Variant],
    tiny: Sequence[Variant],
    models: Sequence[Variant] | None = None,
) -> dict[str, tuple[Variant, ...]]:
    """Every preset, spelled out so none can be forgotten; variants are written in float32.

    ``tiny`` runs in every dtype. ``models`` is ``default``'s shapes in float16
    and bfloat16 unless given (their float32 is the default preset's).
    """
    return {
        "seed": tuple(seed),
        "default": tuple(default),
        "tiny": in_dtypes(tiny),
        "models": in_dtypes(default, HALF_DTYPES) if models is None else tuple(models),
    }


def model_presets(*, tiny: Sequence[Variant], models: Sequence[Variant]) -> dict[str, tuple[Variant, ...]]:
    """An op of today's language models: in the ``models`` preset and ``tiny``, every dtype, none in the others."""
    return {"seed": (), "default": (), "tiny": in_dtypes(tiny), "models": in_dtypes(models)}


def each_axis(shape: Shape, axes: Sequence[int] | None = None, **extra: Any) -> list[Variant]:
    """One variant per axis of ``shape`` (or per listed axis)."""
    axes = range(len(shape)) if axes is None else axes
    return [var(x=shape, axis=a, **extra) for a in axes]


def uniform(rng: np.random.Generator, shape: Shape, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    """float32 uniform data; generated in float32 to keep the seed preset's RAM sane."""
    return rng.uniform(low, high, size=shape).astype(np.float32, copy=False)


def indices(rng: np.random.Generator, high: int, size: int) -> np.ndarray:
    """int64 indices in ``[0, high)``; both frameworks receive this same dtype."""
    return rng.integers(0, high, size=size, dtype=np.int64)


def exact(_: Variant) -> Tolerance:
    """For ops that only move or order values: any difference is a bug."""
    return Tolerance(rtol=0.0, atol=0.0)


HALF_ULPS = 4.0
"""What a float16/bfloat16 result may be off by, in its dtype's epsilons, beyond float32 arithmetic: its own
rounding (half an epsilon) and a few rounded intermediates (MLX's LayerNorm, SeLU and Softmax keep some in the
dtype: up to 3.2 epsilons measured on the tiny preset)."""


def own_rounding(v: Variant, float32: float) -> float:
    """The relative error a result may carry from its own rounding: ``float32`` in float32, else HALF_ULPS epsilons."""
    return float32 if v.dtype == "float32" else HALF_ULPS * v.eps


def elementwise(rtol: float = 1e-5, atol: float = 1e-6) -> ToleranceRule:
    """``rtol``/``atol`` in float32, for ops whose each output depends on O(1) inputs.

    In float16/bfloat16: HALF_ULPS of the dtype's epsilon, relative and
    absolute (outputs are O(1): an ``exp(x) - 1`` in the dtype, as MLX's SeLU
    computes, is off by epsilons of 1 where the result is near 0).
    """

    def rule(v: Variant) -> Tolerance:
        return Tolerance(rtol=own_rounding(v, rtol), atol=own_rounding(v, atol))

    return rule


def accumulating(length: Callable[[Variant], int], *, scale: float | Callable[[Variant], float] = 0.0) -> ToleranceRule:
    """Tolerance for float32 sums of ``length(v)`` terms.

    Float32 accumulation error grows with the number of terms (about
    ``eps * sqrt(n)`` relative for a random walk). Where terms cancel (signed
    data, dot products) the result can be near zero while the rounding error is
    not, so ``scale`` adds an absolute term of ``eps * n * scale``, with
    ``scale`` the magnitude of one term (a number, or a function of the variant
    where it depends on the shapes: weights drawn as +-1/sqrt(fan in)).

    In float16/bfloat16 the inputs' products are exact in float32, where both
    frameworks accumulate, so the dtype adds the result's own rounding and its
    intermediates' (HALF_ULPS epsilons of the result), and, where terms cancel,
    the same epsilons of one term's magnitude for each sqrt(n) terms.
    """

    def rule(v: Variant) -> Tolerance:
        n = max(1, length(v))
        term = scale(v) if callable(scale) else scale
        rtol, atol = 8 * FLOAT32_EPS * math.sqrt(n) + 1e-6, 8 * FLOAT32_EPS * n * term + 1e-6
        if v.dtype == "float32":
            return Tolerance(rtol=rtol, atol=atol)
        return Tolerance(rtol=rtol + HALF_ULPS * v.eps, atol=atol + HALF_ULPS * v.eps * math.sqrt(n) * term)

    return rule


def weighted_average(length: Callable[[Variant], int]) -> ToleranceRule:
    """Tolerance for attention: scores are float32 dot products of ``length(v)`` O(1) terms, the output a weighted
    average of O(1) value rows.

    In float16/bfloat16, the scores' and the weights' rounding move the
    average by HALF_ULPS epsilons of a value, absolutely, however many rows it
    averages over (a sum's sqrt(n) would forgive a dropped scale in bfloat16).
    """
    dot = accumulating(length, scale=1.0)

    def rule(v: Variant) -> Tolerance:
        tol = dot(dataclasses.replace(v, dtype="float32"))
        return (
            tol
            if v.dtype == "float32"
            else Tolerance(rtol=tol.rtol + HALF_ULPS * v.eps, atol=tol.atol + HALF_ULPS * v.eps)
        )

    return rule
