"""Conv1d (NLC input, OKI weight) and Conv2d (NHWC input, OHWI weight).

MLX is channels-last, PyTorch channels-first. Each side is timed on its native
layout: the transposes happen in setup (``torch_layout``) and, for
verification only, on PyTorch's output (``torch_output``). Stride 1, no padding.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from mlxbench.catalog.authoring import accumulating, presets, uniform, var
from mlxbench.catalog.frameworks import F, mx
from mlxbench.catalog.spec import Arrays, Op, Variant


def _inputs(v: Variant, rng: np.random.Generator) -> Arrays:
    return {"x": uniform(rng, v.shapes["x"]), "weight": uniform(rng, v.shapes["weight"])}


def _channels_first(arrays: Arrays) -> Arrays:
    """NLC/OKI -> NCL/OIK and NHWC/OHWI -> NCHW/OIHW: move the last axis to 1."""
    return {k: np.ascontiguousarray(np.moveaxis(a, -1, 1)) for k, a in arrays.items()}


def _channels_last(out: np.ndarray) -> np.ndarray:
    return np.moveaxis(out, 1, -1)


def _conv1d_reference(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    k = weight.shape[1]
    windows = sliding_window_view(x, k, axis=1)  # N, L', C, K
    return np.einsum("nlck,okc->nlo", windows, weight, optimize=True)


def _conv2d_reference(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    kh, kw = weight.shape[1:3]
    windows = sliding_window_view(x, (kh, kw), axis=(1, 2))  # N, H', W', C, KH, KW
    return np.einsum("nhwcij,oijc->nhwo", windows, weight, optimize=True)


def _taps(v: Variant) -> int:
    """Terms summed per output: kernel size times input channels."""
    return int(np.prod(v.shapes["weight"][1:]))


def _conv(name: str, mlx, torch_fn, reference, shapes) -> Op:
    return Op(
        name=name,
        presets=shapes,
        inputs=_inputs,
        mlx=mlx,
        torch=torch_fn,
        reference=reference,
        tolerance=accumulating(_taps, scale=1.0),
        torch_layout=_channels_first,
        torch_output=_channels_last,
        flops=lambda v, out: 2 * out * _taps(v),  # a multiply and an add per tap per output
    )


OPS = [
    _conv(
        "Conv1d",
        lambda x, weight: mx.conv1d(x, weight),
        lambda x, weight: F.conv1d(x, weight),
        _conv1d_reference,
        presets(
            seed=[
                var(x=(100, 256, 3), weight=(8, 3, 3)),
                var(x=(100, 256, 256), weight=(8, 3, 256)),
                var(x=(16, 1000, 80), weight=(128, 11, 80)),
                var(x=(16, 1000, 3), weight=(128, 11, 3)),
            ],
            default=[
                var(x=(16, 256, 3), weight=(8, 3, 3)),
                var(x=(16, 256, 256), weight=(8, 3, 256)),
                var(x=(2, 500, 80), weight=(128, 11, 80)),
                var(x=(4, 1000, 3), weight=(128, 11, 3)),
            ],
            tiny=[var(x=(2, 9, 3), weight=(4, 3, 3)), var(x=(1, 20, 5), weight=(6, 11, 5))],
        ),
    ),
    _conv(
        "Conv2d",
        lambda x, weight: mx.conv2d(x, weight),
        lambda x, weight: F.conv2d(x, weight),
        _conv2d_reference,
        presets(
            seed=[
                var(x=(100, 256, 256, 3), weight=(8, 3, 3, 3)),
                var(x=(10, 256, 256, 12), weight=(8, 3, 3, 12)),
                var(x=(1, 256, 256, 128), weight=(8, 3, 3, 128)),
                var(x=(100, 28, 28, 3), weight=(8, 3, 3, 3)),
                var(x=(1000, 28, 28, 3), weight=(8, 3, 3, 3)),
            ],
            default=[
                var(x=(4, 128, 128, 3), weight=(8, 3, 3, 3)),
                var(x=(2, 128, 128, 12), weight=(8, 3, 3, 12)),
                var(x=(1, 64, 64, 128), weight=(8, 3, 3, 128)),
                var(x=(32, 28, 28, 3), weight=(8, 3, 3, 3)),
                var(x=(128, 28, 28, 3), weight=(8, 3, 3, 3)),
            ],
            tiny=[var(x=(2, 6, 7, 3), weight=(4, 3, 3, 3)), var(x=(1, 5, 5, 8), weight=(2, 3, 3, 8))],
        ),
    ),
]
