"""Verification in child processes: a framework that aborts the process fails the checks of what killed it."""

from __future__ import annotations

import dataclasses

from mlxbench.catalog import CATALOG
from mlxbench.harness import verified
from mlxbench.harness.backends import BACKENDS
from mlxbench.harness.verify import verify

CPU = [BACKENDS["mlx_cpu"], BACKENDS["torch_cpu"]]


def test_a_child_verifies_the_same_checks_as_this_process():
    ops = [CATALOG["Sigmoid"], CATALOG["RMSNorm"]]
    lines: list[str] = []
    rows = verified.checks(ops, "tiny", CPU, lines.append)
    here = verify(ops, "tiny", CPU)
    assert [(r.op, r.variant, r.backend, r.status) for r in rows] == [
        (r.op, r.variant, r.backend, r.status) for r in here
    ]
    assert len(rows) == 2 * 2 * 3 * 2 and all(r.status == "ok" for r in rows)


def test_an_abort_is_pinned_to_its_op_backend_and_dtype_and_the_rest_is_kept():
    """A child that dies whenever its subset holds (Sigmoid, mlx_cpu, float16): only those checks fail."""
    calls: list[verified.Subset] = []

    def child(preset, subset):
        calls.append(subset)
        ops, backends, dtypes = subset
        if "Sigmoid" in ops and "mlx_cpu" in backends and "float16" in dtypes:
            return None  # the process died
        return verified.in_child(preset, subset)

    ops = [CATALOG["ReLU"], CATALOG["Sigmoid"]]
    lines: list[str] = []
    outcome = verified.passing(ops, "tiny", CPU, lines.append, child=child)
    assert outcome.failed == {("Sigmoid", "mlx_cpu", "float16")}
    assert [b.name for b in outcome.backends] == ["mlx_cpu", "torch_cpu"]
    assert any("Sigmoid in float16 on mlx_cpu ended the process" in line for line in lines), lines
    assert calls[0] == (("ReLU", "Sigmoid"), ("mlx_cpu", "torch_cpu"), ("float32", "float16", "bfloat16"))
    assert (("Sigmoid",), ("mlx_cpu",), ("float16",)) in calls
    assert len(calls) == 1 + 2 + 2 + 3  # everything, each op, Sigmoid's backends, Sigmoid on mlx_cpu's dtypes


def test_replaced_ops_are_verified_in_this_process():
    """A test's replaced function cannot be named to a child: it runs here, and still fails as it should."""
    broken = dataclasses.replace(CATALOG["ReLU"], torch=lambda x: x)

    def no_child(preset, subset):
        raise AssertionError("no child for an op that is not the catalog's")

    rows = verified.checks([broken], "tiny", CPU, lambda line: None, child=no_child)
    assert {r.status for r in rows if r.backend == "torch_cpu"} == {"FAIL"}
