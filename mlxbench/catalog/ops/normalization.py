"""LayerNorm over the last axis with weight and bias (eps 1e-5)."""

from __future__ import annotations

import numpy as np

from mlxbench.catalog.authoring import elementwise, presets, uniform, var
from mlxbench.catalog.frameworks import F, mx
from mlxbench.catalog.spec import Arrays, Op, Variant

EPS = 1e-5


def _inputs(v: Variant, rng: np.random.Generator) -> Arrays:
    shape = v.shapes["x"]
    return {
        "x": uniform(rng, shape, -2.0, 3.0),
        "weight": uniform(rng, shape[-1:], 0.5, 1.5),
        "bias": uniform(rng, shape[-1:]),
    }


def _reference(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var_ = x.var(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var_ + EPS) * weight + bias


OPS = [
    Op(
        name="LayerNorm",
        presets=presets(
            seed=[var(x=(64, 128, 1024)), var(x=(128, 64, 1024))],
            default=[var(x=(16, 128, 1024)), var(x=(32, 64, 1024))],
            tiny=[var(x=(2, 3, 16)), var(x=(4, 2, 33))],
        ),
        inputs=_inputs,
        mlx=lambda x, weight, bias: mx.fast.layer_norm(x, weight, bias, EPS),
        torch=lambda x, weight, bias: F.layer_norm(x, x.shape[-1:], weight, bias, EPS),
        reference=_reference,
        tolerance=elementwise(rtol=1e-4, atol=1e-5),
        # mean (add), variance (subtract, square, add), normalize (subtract, scale), affine (mul, add)
        flops=lambda v, out: 8 * v.numel("x"),
        mlx_requires=("fast.layer_norm",),
    ),
]
