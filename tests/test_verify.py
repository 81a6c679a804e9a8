"""Verification proves the pairs agree, and catches the older suite's bugs when planted."""

from __future__ import annotations

import dataclasses

import mlx.core as mx
import mlx.nn as mnn
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mlxbench.catalog import CATALOG
from mlxbench.harness.backends import BACKENDS
from mlxbench.harness.verify import check_variant, verify


def test_tiny_preset_agrees_on_every_cpu_backend(cpu_backends):
    rows = verify(CATALOG.values(), "tiny", cpu_backends)
    failures = [r for r in rows if r.status != "ok"]
    assert not failures, failures
    # Every op x variant x backend was actually checked.
    assert len(rows) == sum(len(op.variants("tiny")) for op in CATALOG.values()) * len(cpu_backends)


def _plant(op_name: str, backend: str, **functions) -> list[str]:
    """Statuses of every tiny variant after replacing the op's MLX or torch function."""
    op = dataclasses.replace(CATALOG[op_name], **functions)
    rows = [row for v in op.variants("tiny") for row in check_variant(op, v, [BACKENDS[backend]])]
    return [r.status for r in rows]


def _assert_caught(op_name: str, backend: str, **functions) -> None:
    honest = _plant(op_name, backend)
    assert set(honest) == {"ok"}, f"control run of {op_name} on {backend} should pass: {honest}"
    assert "FAIL" in _plant(op_name, backend, **functions), f"planted bug in {op_name} went unnoticed"


# --- 1. the axis dropped: MLX's defaults reduce over everything or the last axis ---


def test_softmax_without_axis_is_caught():
    _assert_caught("Softmax", "mlx_cpu", mlx=lambda x, *, axis: mx.softmax(x))


def test_argmax_without_axis_is_caught():
    _assert_caught("Argmax", "mlx_cpu", mlx=lambda x, *, axis: mx.argmax(x))


def test_sort_on_default_axis_is_caught():
    _assert_caught("Sort", "mlx_cpu_compile", mlx=lambda x, *, axis: mx.sort(x))


def test_sum_over_the_wrong_axis_is_caught():
    _assert_caught("Sum", "torch_cpu", torch=lambda x, *, axis: torch.sum(x, dim=0))


# --- 2. the result of .at[] discarded ---


def test_scatter_sum_discarding_at_result_is_caught():
    def discard(dst, index, src):
        dst.at[index].add(src)
        return dst

    _assert_caught("ScatterSum", "mlx_cpu", mlx=discard)


def test_scatter_max_discarding_at_result_is_caught():
    def discard(dst, index, src):
        dst.at[index].maximum(src)
        return dst

    _assert_caught("ScatterMax", "mlx_cpu", mlx=discard)


def test_scatter_of_one_column_instead_of_rows_is_caught():
    _assert_caught("Scatter", "torch_cpu", torch=lambda dst, index, src: dst.scatter(0, index[:, None], src[:, :1]))


# --- 3. BCE on logits on one side, probabilities on the other ---


def test_bce_probabilities_on_the_mlx_side_is_caught():
    _assert_caught(
        "BCE",
        "mlx_cpu",
        mlx=lambda logits, targets: mnn.losses.binary_cross_entropy(
            mx.clip(logits, 1e-6, 1 - 1e-6), targets, with_logits=False, reduction="mean"
        ),
    )


def test_bce_probabilities_on_the_torch_side_is_caught():
    _assert_caught(
        "BCE",
        "torch_cpu",
        torch=lambda logits, targets: F.binary_cross_entropy(logits.clamp(1e-6, 1 - 1e-6), targets),
    )


# --- 4. a "causal" mask that masks nothing ---


def test_constant_mask_is_caught():
    def constant_mask(q, k, v, mask=None):
        fake = mx.zeros((q.shape[-2], k.shape[-2]))  # additive zeros: masks nothing
        return mx.fast.scaled_dot_product_attention(q, k, v, scale=q.shape[-1] ** -0.5, mask=fake)

    _assert_caught("ScaledDotProductAttention", "mlx_cpu", mlx=constant_mask)


def test_torch_ignoring_the_mask_is_caught():
    _assert_caught(
        "ScaledDotProductAttention",
        "torch_cpu",
        torch=lambda q, k, v, mask=None: F.scaled_dot_product_attention(q, k, v, scale=q.shape[-1] ** -0.5),
    )


# --- the comparison itself ---


def test_nan_is_never_silently_accepted():
    statuses = _plant("ReLU", "torch_cpu", torch=lambda x: x * float("nan"))
    assert set(statuses) == {"FAIL"}


def test_wrong_shape_is_a_failure_not_a_crash():
    statuses = _plant("Concat", "mlx_cpu", mlx=lambda a, b, *, axis: a)
    assert set(statuses) == {"FAIL"}


def test_scatter_check_rejects_a_row_no_message_was_sent_to():
    def wrong_winner(dst, index, src):
        out = dst.index_put((index,), src)
        return out + 1.0  # every row now holds a value nobody sent

    _assert_caught("Scatter", "torch_cpu", torch=wrong_winner)


def test_unsupported_api_is_reported_not_raised():
    op = dataclasses.replace(CATALOG["ReLU"], mlx_requires=("fast.no_such_kernel",))
    rows = check_variant(op, op.variants("tiny")[0], [BACKENDS["mlx_cpu"], BACKENDS["torch_cpu"]])
    assert [r.status for r in rows] == ["skipped", "ok"]
    assert f"unsupported in mlx {mx.__version__}" in rows[0].detail and "mx.fast.no_such_kernel" in rows[0].detail


@pytest.mark.parametrize("name", ["mlx_gpu", "mlx_gpu_compile", "torch_mps", "torch_cuda"])
def test_absent_backend_is_skipped_with_a_reason(name):
    backend = BACKENDS[name]
    if backend.unavailable() is None:
        pytest.skip(f"{name} is available on this machine")
    rows = check_variant(CATALOG["ReLU"], CATALOG["ReLU"].variants("tiny")[0], [backend])
    assert rows[0].status == "skipped" and rows[0].detail == backend.unavailable()


def test_error_is_reported_as_its_share_of_the_tolerance():
    """Half the allowance reads "0.5 of tolerance"; any difference where exact is required reads as such."""
    from mlxbench.catalog.spec import Tolerance
    from mlxbench.harness.verify import Row, allclose

    reference = np.array([100.0, 1.0])
    tol = Tolerance(rtol=1e-3, atol=1e-4)
    result = reference + 0.5 * (tol.atol + tol.rtol * reference) * np.array([1.0, -1.0])
    check = allclose(result, reference, {}, None, tol)
    assert check.ok and check.used == pytest.approx(0.5)
    assert not allclose(reference * 1.01, reference, {}, None, tol).ok
    exact = allclose(reference + 1e-9, reference, {}, None, Tolerance(0.0, 0.0))
    assert not exact.ok and exact.used == float("inf")
    row = Row("Op", "v", "b", "ok", check.max_error, tol.describe(), used=check.used)
    assert row.error == "0.5 of tolerance"


def test_bench_verifies_first_and_does_not_time_a_backend_that_fails(capsys, tmp_path):
    """`mlxbench bench` drops a failing backend before ASV starts; with none left it times nothing."""
    from mlxbench.commands import bench as bench_command
    from mlxbench.harness.verified import passing
    from mlxbench.history.asv_project import AsvProject
    from mlxbench.history.main_job import MainJobPlan

    broken = dataclasses.replace(CATALOG["ReLU"], torch=lambda x: x)  # identity is not ReLU
    lines: list[str] = []
    kept = passing([broken], "tiny", [BACKENDS["mlx_cpu"], BACKENDS["torch_cpu"]], lines.append)
    assert [b.name for b in kept.backends] == ["mlx_cpu"]
    assert any(line.startswith("not timing torch_cpu") for line in lines), lines
    trial = AsvProject(tmp_path, "tiny", trial=True)  # a throwaway: nothing passes verification, nothing reads it
    planned = MainJobPlan(trial, [broken], [BACKENDS["torch_cpu"]], {}, "v0.32.4", "0" * 40, [], {"machine": "m"})
    assert bench_command.measure(planned).code == 1
    assert "nothing timed" in capsys.readouterr().err


def test_a_failing_op_is_not_timed_in_its_dtype_on_its_backend_and_the_rest_is(monkeypatch):
    """An op that computes another function in one dtype on one backend leaves only those variants out."""
    import re

    from mlxbench.harness.benchmark_names import selection_regex
    from mlxbench.harness.verified import passing

    def relu_but_not_in_float16(x):
        return x if x.dtype == torch.float16 else torch.relu(x)

    broken = dataclasses.replace(CATALOG["ReLU"], torch=relu_but_not_in_float16)
    ops = [broken, CATALOG["Sigmoid"]]
    backends = [BACKENDS["mlx_cpu"], BACKENDS["torch_cpu"]]
    lines: list[str] = []
    outcome = passing(ops, "tiny", backends, lines.append)
    assert [b.name for b in outcome.backends] == ["mlx_cpu", "torch_cpu"]
    assert outcome.failed == {("ReLU", "torch_cpu", "float16")}
    assert any(line.startswith("not timing ReLU float16 on torch_cpu") for line in lines), lines
    regex = re.compile(selection_regex(ops, outcome.backends, skip=outcome.failed))
    assert not regex.search("ops.ReLU.time_torch_cpu('4x3x8-float16')")
    assert not regex.search("ops.ReLU.peakmem_torch_cpu('2x5x7-float16')")
    for kept in (
        "ops.ReLU.time_torch_cpu('4x3x8')",
        "ops.ReLU.time_torch_cpu('4x3x8-bfloat16')",
        "ops.ReLU.time_mlx_cpu('4x3x8-float16')",
        "ops.Sigmoid.time_torch_cpu('4x3x8-float16')",
    ):
        assert regex.search(kept), kept
    float32_out = re.compile(selection_regex(ops, backends, skip={("ReLU", "torch_cpu", "float32")}))
    assert not float32_out.search("ops.ReLU.time_torch_cpu('4x3x8')")
    assert float32_out.search("ops.ReLU.time_torch_cpu('4x3x8-bfloat16')")
