"""Proof that each backend computes the op's function: compare with float64.

Each side is compared with a float64 reference computed from the very same
inputs, never MLX with PyTorch directly: their float32 rounding differs, and a
bug on one side must not be excused by the other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from mlxbench.catalog.spec import Arrays, Check, Op, Tolerance, Variant
from mlxbench.harness.backends import Backend, Unavailable


@dataclass(frozen=True)
class Row:
    """One line of the verification table."""

    op: str
    variant: str
    backend: str
    status: str  # "ok", "FAIL", "skipped"
    max_error: float | None
    tolerance: str
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "FAIL"


def as_float64(inputs: Arrays) -> list[np.ndarray]:
    """Float inputs upcast to float64 (the exact same values); integers as they are."""
    return [a.astype(np.float64) if a.dtype.kind == "f" else a for a in inputs.values()]


def allclose(result: np.ndarray, reference: np.ndarray, inputs: Arrays, variant: Variant, tol: Tolerance) -> Check:
    """Same shape, every element within ``atol + rtol * |reference|``, no NaN where the reference has none."""
    reference = np.asarray(reference)
    if result.shape != reference.shape:
        return Check(False, float("inf"), f"shape {result.shape} != reference {reference.shape}")
    diff = np.abs(result.astype(np.float64) - reference)
    if np.isnan(diff).any():
        return Check(False, float("nan"), "NaN in result")
    err = float(diff.max(initial=0.0))
    ok = bool(np.all(diff <= tol.atol + tol.rtol * np.abs(reference)))
    return Check(ok, err, "" if ok else "outside tolerance")


def check_variant(op: Op, variant: Variant, backends: Sequence[Backend], seed: int = 0) -> list[Row]:
    """Run one variant on each backend and compare each result with the reference."""
    inputs = op.make_inputs(variant, seed)
    reference = op.reference(*as_float64(inputs), **variant.kwargs)
    tol = op.tolerance(variant)
    compare = op.compare or allclose
    rows = []
    for backend in backends:
        try:
            prepared = backend.prepare(op, variant, inputs)
        except Unavailable as exc:
            rows.append(Row(op.name, variant.id, backend.name, "skipped", None, tol.describe(), str(exc)))
            continue
        result = prepared.to_numpy(prepared.run())
        check = compare(result, reference, inputs, variant, tol)
        status = "ok" if check.ok else "FAIL"
        rows.append(Row(op.name, variant.id, backend.name, status, check.max_error, tol.describe(), check.detail))
    return rows


def verify(
    ops: Iterable[Op],
    preset: str,
    backends: Sequence[Backend],
    seed: int = 0,
    on_variant: Callable[[Op, Variant], None] | None = None,
) -> list[Row]:
    """Every variant of ``ops`` in ``preset`` on every backend; ``on_variant`` reports progress."""
    rows: list[Row] = []
    for op in ops:
        for variant in op.variants(preset):
            if on_variant is not None:
                on_variant(op, variant)
            rows.extend(check_variant(op, variant, backends, seed))
    return rows
