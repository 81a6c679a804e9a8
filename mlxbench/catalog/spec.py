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

DTYPES: tuple[str, ...] = ("float32", "float16", "bfloat16")
"""The floating-point dtypes ops run in; float32 first, the dtype of every variant id without a suffix."""
EPS: dict[str, float] = {"float32": FLOAT32_EPS, "float16": 2.0**-10, "bfloat16": 2.0**-7}
"""Machine epsilon of each dtype (the gap after 1.0): 23, 10 and 7 bits of mantissa."""


def dtype_of(variant_id: str) -> str:
    """The dtype a variant id names: its ``-float16`` / ``-bfloat16`` suffix, else float32."""
    suffix = variant_id.rpartition("-")[2]
    return suffix if suffix in DTYPES[1:] else DTYPES[0]


def shape_id(variant_id: str) -> str:
    """A variant id without its dtype suffix: the same shapes and arguments in any dtype."""
    dtype = dtype_of(variant_id)
    return variant_id if dtype == DTYPES[0] else variant_id.removesuffix(f"-{dtype}")


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
    dtype: str = "float32"
    """The dtype both frameworks compute in: float inputs are rounded to it, and float outputs must be in it."""

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype {self.dtype!r} is not one of {', '.join(DTYPES)}")

    @property
    def params(self) -> dict[str, Any]:
        """Every non-array setting (options, then keyword arguments): what the id and listings show."""
        return {**self.options, **self.kwargs}

    @property
    def id(self) -> str:
        """A stable, human-readable key such as ``64x128x1024-axis2`` (``-float16`` / ``-bfloat16`` after it).

        ASV uses it as the parameter value, so it must never change for a given
        variant: history would split in two. float32 has no suffix, so every id
        of the float32-only catalog is unchanged.
        """
        dims = "_".join("x".join(map(str, s)) for s in self.shapes.values())
        extra = "".join(f"-{v}" if isinstance(v, str) else f"-{k}{v}" for k, v in self.params.items())
        return dims + extra + ("" if self.dtype == DTYPES[0] else f"-{self.dtype}")

    @property
    def eps(self) -> float:
        """Machine epsilon of the variant's dtype."""
        return EPS[self.dtype]

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
    torch_requires: tuple[str, ...] = ()
    """The torch attributes the torch side needs (``"nn.functional.rms_norm"``): n/a, with the release, before them."""
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
        """Deterministic inputs, float ones rounded to the variant's dtype (held as float32, which holds them exactly).

        The same seed gives the same bytes everywhere; both frameworks and the
        float64 reference start from these values.
        """
        arrays = self.inputs(variant, np.random.default_rng(seed))
        return {name: round_to(a, variant.dtype) for name, a in arrays.items()}


def round_to(a: np.ndarray, dtype: str) -> np.ndarray:
    """A float array's values rounded to ``dtype`` (nearest, ties to even), as float32; other arrays unchanged."""
    if a.dtype.kind != "f" or dtype == "float32":
        return a
    if dtype == "float16":
        return a.astype(np.float16).astype(np.float32)
    bits = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    finite = np.isfinite(a)
    rounded = (bits + np.uint32(0x7FFF) + ((bits >> 16) & np.uint32(1))) & np.uint32(0xFFFF0000)
    return np.where(finite, rounded, bits & np.uint32(0xFFFF0000)).view(np.float32)
