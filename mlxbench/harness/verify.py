"""Proof that each backend computes the op's function: compare with float64.

Each side is compared with a float64 reference computed from the very same
inputs, never MLX with PyTorch directly: their float32 rounding differs, and a
bug on one side must not be excused by the other.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Sequence
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
    used: float | None = None
    """The error as a share of the tolerance (see :attr:`~mlxbench.catalog.spec.Check.used`)."""

    @property
    def failed(self) -> bool:
        return self.status == "FAIL"

    @property
    def error(self) -> str:
        """The error against its allowance (``0.12 of tolerance``): an absolute error beside a relative
        tolerance reads like a failure when it is not (a sum of 4 million terms is off by 30, well within)."""
        if self.used is None:
            return ""
        if self.used == float("inf"):
            return "differs where exact is required"
        return f"{self.used:.2g} of tolerance"


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
    if np.isinf(diff).any():  # an overflow where the reference is finite (float16 ends at 65504)
        return Check(False, float("inf"), "inf in result where the reference is finite")
    err = float(diff.max(initial=0.0))
    allowance = tol.atol + tol.rtol * np.abs(reference)
    ok = bool(np.all(diff <= allowance))
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(diff == 0, 0.0, diff / allowance)  # an error where none is allowed: inf
    return Check(ok, err, "" if ok else f"outside tolerance (max |error| {err:.2e})", float(share.max(initial=0.0)))


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
        output = prepared.run()
        result = prepared.to_numpy(output)
        check = compare(result, reference, inputs, variant, tol)
        got = prepared.dtype_of(output)
        if check.ok and np.asarray(reference).dtype.kind == "f" and got != variant.dtype:
            check = Check(False, check.max_error, f"output is {got}, not {variant.dtype}")
        status = "ok" if check.ok else "FAIL"
        rows.append(
            Row(op.name, variant.id, backend.name, status, check.max_error, tol.describe(), check.detail, check.used)
        )
    return rows


def skipped(rows: Iterable[Row]) -> list[str]:
    """One line per skipped backend and reason, with how many checks it covers (not one row per variant)."""
    counts: dict[tuple[str, str], int] = {}
    for r in rows:
        if r.status == "skipped":
            counts[r.backend, r.detail] = counts.get((r.backend, r.detail), 0) + 1
    return [f"skipped {backend} ({n} checks): {reason}" for (backend, reason), n in counts.items()]


def progress_lines(ops: Sequence[Op], write: Callable[[str], None]) -> Callable[[Op, Variant], None]:
    """An ``on_variant`` callback writing one line as each op starts: progress for logs, where no bar draws."""
    start, seen = time.perf_counter(), set()

    def on_variant(op: Op, variant: Variant) -> None:
        if op.name not in seen:
            seen.add(op.name)
            write(f"verify: {op.name} ({len(seen)}/{len(ops)} ops, {time.perf_counter() - start:.0f} s)")

    return on_variant


def verify(
    ops: Iterable[Op],
    preset: str,
    backends: Sequence[Backend],
    seed: int = 0,
    on_variant: Callable[[Op, Variant], None] | None = None,
    dtypes: Collection[str] | None = None,
) -> list[Row]:
    """Every variant of ``ops`` in ``preset`` (in ``dtypes``: default all) on every backend; ``on_variant`` reports
    progress."""
    rows: list[Row] = []
    for op in ops:
        for variant in op.variants(preset):
            if dtypes is not None and variant.dtype not in dtypes:
                continue
            if on_variant is not None:
                on_variant(op, variant)
            rows.extend(check_variant(op, variant, backends, seed))
    return rows
