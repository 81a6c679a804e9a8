"""Ops along an axis: Argmax, Sort, Softmax, Sum, and SumAll over everything.

MLX's defaults differ from PyTorch's (``mx.argmax`` and ``mx.softmax`` without
``axis`` work on all elements, ``mx.sort`` on the last axis), so every call here
passes the axis explicitly on both sides.
"""

from __future__ import annotations

import math

import numpy as np

from mlxbench.catalog.authoring import accumulating, each_axis, exact, own_rounding, presets, uniform, var
from mlxbench.catalog.frameworks import Chosen, mx, torch
from mlxbench.catalog.spec import FLOAT32_EPS, Arrays, Op, Tolerance, Variant

FLOAT16_SUM = 2.0**13
"""The largest sum float16 data is drawn for: float16 ends at 65504, so a sum of a million values in [0, 1) is inf."""


def _positive(v: Variant, rng: np.random.Generator) -> Arrays:
    """In [0, 1): positive data keeps sums away from zero, so a relative tolerance is meaningful.

    In float16 the values shrink so that the largest sum (all elements: SumAll) stays near FLOAT16_SUM.
    """
    high = 1.0 if v.dtype != "float16" else min(1.0, 2 * FLOAT16_SUM / math.prod(v.shapes["x"]))
    return {"x": uniform(rng, v.shapes["x"], 0.0, high)}


def _signed(v: Variant, rng: np.random.Generator) -> Arrays:
    return {"x": uniform(rng, v.shapes["x"])}


def _axis_length(v: Variant) -> int:
    return v.shapes["x"][v.kwargs["axis"]]


def _softmax_reference(x: np.ndarray, *, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _softmax_tolerance(v: Variant) -> Tolerance:
    # Outputs are about 1/n: the absolute floor must sit well below that, or a
    # softmax over the wrong axis (outputs 1/N for N >> n) would pass.
    n = _axis_length(v)
    return Tolerance(rtol=own_rounding(v, 1e-5) + 8 * FLOAT32_EPS * math.sqrt(n), atol=1e-3 / n)


@Chosen
def _mlx_softmax():
    """``precise=True`` where MLX has it: float16/bfloat16 then accumulate in float32, as torch always does.

    Without it MLX sums in the dtype, off by up to 230 tolerances over 16384 bfloat16 values (``verify --preset
    models``); in float32 it changes nothing.
    """
    try:
        mx.softmax(mx.zeros((2,)), axis=-1, precise=True)
    except TypeError:
        return lambda x, *, axis: mx.softmax(x, axis=axis)
    return lambda x, *, axis: mx.softmax(x, axis=axis, precise=True)


OPS = [
    Op(
        name="Argmax",
        presets=presets(
            seed=each_axis((64, 1024, 128)) + [var(x=(64, 128, 1024), axis=2)],
            default=each_axis((32, 256, 128)) + [var(x=(32, 128, 256), axis=2)],
            tiny=each_axis((4, 6, 5)) + [var(x=(3, 5, 7), axis=2)],
        ),
        inputs=_signed,
        mlx=lambda x, *, axis: mx.argmax(x, axis=axis),
        torch=lambda x, *, axis: torch.argmax(x, dim=axis),
        reference=lambda x, *, axis: np.argmax(x, axis=axis),
        tolerance=exact,
        flops=lambda v, out: v.numel("x"),  # one compare per element
    ),
    Op(
        name="Sort",
        presets=presets(
            seed=each_axis((64, 128, 1024)),
            default=each_axis((16, 128, 256)),
            tiny=each_axis((4, 6, 5)),
        ),
        inputs=_signed,
        mlx=lambda x, *, axis: mx.sort(x, axis=axis),
        # torch.sort always computes indices too: there is no values-only sort.
        torch=lambda x, *, axis: torch.sort(x, dim=axis).values,
        reference=lambda x, *, axis: np.sort(x, axis=axis),
        tolerance=exact,
        flops=lambda v, out: v.numel("x") * math.log2(max(2, _axis_length(v))),  # comparisons
    ),
    Op(
        name="Softmax",
        presets=presets(
            seed=[
                var(x=s, axis=-1)
                for s in [
                    (64, 1000000),
                    (1000000, 64),
                    (64, 16, 32, 1024),
                    (128, 16, 32, 1024),
                    (1024, 16, 32, 128),
                    (1024, 64, 32, 8),
                ]
            ],
            default=[
                var(x=s, axis=-1)
                for s in [
                    (64, 16384),
                    (16384, 64),
                    (4, 16, 32, 1024),
                    (8, 16, 32, 256),
                    (64, 16, 32, 128),
                    (256, 64, 32, 8),
                ]
            ],
            tiny=[var(x=s, axis=-1) for s in [(3, 50), (50, 3), (2, 3, 4, 9)]] + [var(x=(2, 3, 4, 9), axis=1)],
        ),
        inputs=lambda v, rng: {"x": uniform(rng, v.shapes["x"], -4.0, 4.0)},
        mlx=_mlx_softmax,
        torch=lambda x, *, axis: torch.softmax(x, dim=axis),
        reference=_softmax_reference,
        tolerance=_softmax_tolerance,
        flops=lambda v, out: 5 * v.numel("x"),  # max, subtract, exp, sum, divide
    ),
    Op(
        name="Sum",
        presets=presets(
            seed=each_axis((64, 128, 128, 128)),
            default=each_axis((16, 64, 64, 64)),
            tiny=each_axis((3, 4, 5, 6)),
        ),
        inputs=_positive,
        mlx=lambda x, *, axis: mx.sum(x, axis=axis),
        torch=lambda x, *, axis: torch.sum(x, dim=axis),
        reference=lambda x, *, axis: np.sum(x, axis=axis),
        tolerance=accumulating(_axis_length),
        flops=lambda v, out: v.numel("x"),
    ),
    Op(
        name="SumAll",
        presets=presets(
            seed=[var(x=s) for s in [(64, 128, 128, 128), (1000000,), (1000000, 128), (128, 1000000)]],
            default=[var(x=s) for s in [(16, 64, 64, 64), (1000000,), (32768, 128), (128, 32768)]],
            tiny=[var(x=s) for s in [(3, 4, 5, 6), (1000,), (40, 3), (3, 40)]],
        ),
        inputs=_positive,
        mlx=lambda x: mx.sum(x),
        torch=lambda x: torch.sum(x),
        reference=lambda x: np.sum(x),
        tolerance=accumulating(lambda v: v.numel("x")),
        flops=lambda v, out: v.numel("x"),
    ),
]
