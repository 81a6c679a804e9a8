"""Small helpers the op modules are written with: variants, data, tolerances."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from mlxbench.catalog.spec import FLOAT32_EPS, Shape, Tolerance, ToleranceRule, Variant

PRESETS: tuple[str, ...] = ("default", "seed", "tiny")
"""``seed``: the older suite's exact shapes. ``default``: the same ops sized for a
laptop CPU (< 2 GB per process, minutes per backend). ``tiny``: for tests."""


def var(*, options: Mapping[str, Any] | None = None, **kwargs: Any) -> Variant:
    """``var(x=(64, 128), axis=1)``: tuple values are input shapes, others the op's keyword arguments.

    ``options`` are settings only the input factory reads (``options={"masking": "causal"}``).
    """
    shapes = {k: tuple(v) for k, v in kwargs.items() if isinstance(v, tuple)}
    op_kwargs = {k: v for k, v in kwargs.items() if not isinstance(v, tuple)}
    return Variant(shapes=shapes, kwargs=op_kwargs, options=dict(options or {}))


def presets(
    *, seed: Sequence[Variant], default: Sequence[Variant], tiny: Sequence[Variant]
) -> dict[str, tuple[Variant, ...]]:
    """All three presets, spelled out so none can be forgotten."""
    return {"seed": tuple(seed), "default": tuple(default), "tiny": tuple(tiny)}


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


def elementwise(rtol: float = 1e-5, atol: float = 1e-6) -> ToleranceRule:
    """A fixed tolerance for ops whose each output depends on O(1) inputs."""
    return lambda _: Tolerance(rtol=rtol, atol=atol)


def accumulating(length: Callable[[Variant], int], *, scale: float = 0.0) -> ToleranceRule:
    """Tolerance for float32 sums of ``length(v)`` terms.

    Float32 accumulation error grows with the number of terms (about
    ``eps * sqrt(n)`` relative for a random walk). Where terms cancel (signed
    data, dot products) the result can be near zero while the rounding error is
    not, so ``scale`` adds an absolute term of ``eps * n * scale``, with
    ``scale`` the magnitude of one term.
    """

    def rule(v: Variant) -> Tolerance:
        n = max(1, length(v))
        return Tolerance(rtol=8 * FLOAT32_EPS * math.sqrt(n) + 1e-6, atol=8 * FLOAT32_EPS * n * scale + 1e-6)

    return rule
