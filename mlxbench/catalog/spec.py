"""The data types every op in the catalog is written in.

An :class:`Op` is pure data plus four small functions: an input factory, an MLX
implementation, a PyTorch implementation and a float64 reference. Everything
that runs ops (verification, ASV benchmarks) goes through these types, so the
catalog itself never has to know about devices, timing or reporting.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Shape = tuple[int, ...]
Arrays = dict[str, np.ndarray]

FLOAT32_EPS = float(np.finfo(np.float32).eps)


@dataclass(frozen=True)
class Variant:
    """One size/argument combination of an op.

    ``shapes`` names each input's shape (in the MLX layout). ``kwargs`` are the
    op's own keyword arguments (``axis``), passed to both implementations and
    the reference; ``options`` only shape how the inputs are built (``masking``
    decides whether a mask input exists) and never reach an op function, so no
    implementation takes an argument it ignores.
    """

    shapes: Mapping[str, Shape]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def params(self) -> dict[str, Any]:
        """Every non-array setting (options, then keyword arguments): what the id and listings show."""
        return {**self.options, **self.kwargs}

    @property
    def id(self) -> str:
        """A stable, human-readable key such as ``64x128x1024-axis2``.

        ASV uses it as the parameter value, so it must never change for a given
        variant: history would split in two.
        """
        dims = "_".join("x".join(map(str, s)) for s in self.shapes.values())
        extra = "".join(f"-{v}" if isinstance(v, str) else f"-{k}{v}" for k, v in self.params.items())
        return dims + extra

    def numel(self, name: str) -> int:
        return int(np.prod(self.shapes[name], dtype=np.int64))


@dataclass(frozen=True)
class Tolerance:
    """``|result - reference| <= atol + rtol * |reference|`` elementwise."""

    rtol: float
    atol: float

    def describe(self) -> str:
        if self.rtol == 0 and self.atol == 0:
            return "exact"
        return f"rtol={self.rtol:.1e} atol={self.atol:.1e}"


@dataclass(frozen=True)
class Check:
    """The outcome of comparing one result with the float64 reference."""

    ok: bool
    max_error: float
    detail: str = ""
    used: float | None = None
    """The error as a share of what the tolerance allows, where that share is largest: 1.0 is the limit,
    0 an exact match, inf an error where none is allowed (None: the comparator does not say)."""


ToleranceRule = Callable[[Variant], Tolerance]
FlopRule = Callable[[Variant, int], float]
Comparator = Callable[[np.ndarray, np.ndarray, Arrays, Variant, Tolerance], Check]


@dataclass(frozen=True)
class Op:
    """One operation of the catalog.

    ``inputs`` builds float32/int64 numpy arrays from a seeded generator; both
    frameworks receive exactly these values. ``torch_layout`` (optional) turns
    them into PyTorch's native layout (NCHW, NCL) before they reach the device,
    and ``torch_output`` turns PyTorch's result back, so each framework is timed
    on its own preferred layout while verification still compares one function.
    ``mlx_requires`` lists the MLX attributes the MLX side needs (for example
    ``"fast.layer_norm"``) so old releases report "unsupported" instead of
    failing mid-run. ``revision`` versions the benchmark in ASV.
    """

    name: str
    presets: Mapping[str, Sequence[Variant]]
    inputs: Callable[[Variant, np.random.Generator], Arrays]
    mlx: Callable[..., Any]
    torch: Callable[..., Any]
    reference: Callable[..., np.ndarray]
    tolerance: ToleranceRule
    mlx_requires: tuple[str, ...] = ()
    torch_layout: Callable[[Arrays], Arrays] | None = None
    torch_output: Callable[[np.ndarray], np.ndarray] | None = None
    compare: Comparator | None = None
    flops: FlopRule | None = None
    """Floating-point operations of one call (``None``: the op only moves data).

    Counted from the textbook formula, every add, multiply, compare, exp or
    log as one, given the variant and the output's element count."""
    revision: int = 1
    """Bump when the measured work changes (ASV starts a new history for the op)."""

    def variants(self, preset: str) -> Sequence[Variant]:
        return self.presets[preset]

    def make_inputs(self, variant: Variant, seed: int = 0) -> Arrays:
        """Deterministic inputs: the same seed gives the same bytes everywhere."""
        return self.inputs(variant, np.random.default_rng(seed))
