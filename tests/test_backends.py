"""Backends: availability never raises, prepare warms up, run syncs the exact output."""

from __future__ import annotations

import dataclasses
import functools
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from mlxbench.catalog import CATALOG
from mlxbench.harness.backends import BACKENDS, WARMUP_CALLS, Unavailable


def test_availability_never_raises_and_always_explains():
    for backend in BACKENDS.values():
        reason = backend.unavailable()
        assert reason is None or (isinstance(reason, str) and reason)


def test_prepare_on_an_absent_backend_raises_unavailable():
    absent = [b for b in BACKENDS.values() if b.unavailable()]
    if not absent:
        pytest.skip("every backend is available here")
    op = CATALOG["ReLU"]
    v = op.variants("tiny")[0]
    with pytest.raises(Unavailable):
        absent[0].prepare(op, v, op.make_inputs(v))


def _counting(op, side):
    calls = []
    original = getattr(op, side)

    def spy(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    return dataclasses.replace(op, **{side: spy}), calls


@pytest.mark.parametrize("name", ["mlx_cpu", "torch_cpu"])
def test_prepare_warms_up_and_run_calls_the_op_once(name):
    op, calls = _counting(CATALOG["Softmax"], "torch" if name.startswith("torch") else "mlx")
    v = op.variants("tiny")[0]
    prepared = BACKENDS[name].prepare(op, v, op.make_inputs(v))
    warmed = len(calls)
    assert warmed >= 1, "prepare must warm up"
    prepared.run()
    assert len(calls) == warmed + 1


def test_compile_happens_during_warm_up():
    op, calls = _counting(CATALOG["Softmax"], "mlx")
    v = op.variants("tiny")[0]
    prepared = BACKENDS["mlx_cpu_compile"].prepare(op, v, op.make_inputs(v))
    assert len(calls) == 1, "the trace (and g++ JIT) must happen in prepare"
    for _ in range(3):
        prepared.run()
    assert len(calls) == 1, "a compiled run must reuse the traced graph, not re-trace"


@pytest.mark.parametrize("name", ["mlx_cpu", "mlx_cpu_compile", "torch_cpu"])
def test_run_synchronizes_the_exact_output_where_there_is_anything_to_wait_for(name):
    op = CATALOG["MatMul"]
    v = op.variants("tiny")[0]
    prepared = BACKENDS[name].prepare(op, v, op.make_inputs(v))
    if getattr(prepared.sync, "does_nothing", False):  # torch on the CPU: the call returns a computed result
        assert isinstance(prepared.timed, functools.partial) and prepared.timed.func is not prepared.sync
        return
    synced = []
    real_sync = prepared.sync
    spied = dataclasses.replace(prepared, sync=lambda out: (synced.append(out), real_sync(out)))
    out = spied.run()
    assert len(synced) == 1 and synced[0] is out


def test_torch_gets_its_native_layout_and_results_come_back_in_mlx_layout():
    op = CATALOG["Conv2d"]
    v = op.variants("tiny")[0]
    prepared = BACKENDS["torch_cpu"].prepare(op, v, op.make_inputs(v))
    n, h, w, c = v.shapes["x"]
    assert tuple(prepared.args[0].shape) == (n, c, h, w)
    assert prepared.args[0].is_contiguous()
    out = prepared.to_numpy(prepared.run())
    assert out.shape == (n, h - 2, w - 2, v.shapes["weight"][0])


def test_int64_indices_reach_both_frameworks_unchanged():
    op = CATALOG["Gather"]
    v = op.variants("tiny")[-1]
    inputs = op.make_inputs(v)
    mlx_args = BACKENDS["mlx_cpu"].prepare(op, v, inputs).args
    torch_args = BACKENDS["torch_cpu"].prepare(op, v, inputs).args
    assert str(mlx_args[1].dtype) == "mlx.core.int64" and str(torch_args[1].dtype) == "torch.int64"
    assert np.array_equal(np.array(mlx_args[1]), torch_args[1].numpy())


def test_warm_up_runs_until_steady_within_its_bounds():
    from mlxbench.harness.backends import WARMUP_SECONDS, Prepared

    calls: list[int] = []
    fast = Prepared(fn=lambda: calls.append(1), args=(), sync=lambda out: None, to_numpy=lambda out: out)
    assert fast.warm_up() == WARMUP_CALLS == len(calls)
    slow = Prepared(fn=lambda: time.sleep(WARMUP_SECONDS), args=(), sync=lambda out: None, to_numpy=lambda out: out)
    assert slow.warm_up() == 1  # a call longer than the budget warms up once (seed-preset sizes)


def test_a_cold_start_longer_than_the_warm_up_budget_is_paid_before_timing(monkeypatch):
    """Planted: a slow first call (30 ms) and cold calls after it that speed up by a fifth each (a process paging in
    fresh libraries), 0.15 s in all, past the warm-up's budget. The warm-up goes on while calls still get faster,
    so the first call a benchmark times, and every one after it, is warm. The calls take their time on a clock of
    the test's own (a real sleep of 0.3 ms is at the scheduler's mercy on a busy machine)."""
    import types

    from mlxbench.harness import backends
    from mlxbench.harness.backends import WARMUP_SECONDS, Prepared

    now = [0.0]
    monkeypatch.setattr(backends, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))
    calls: list[str] = []
    cold = [0.03 * 0.8**i for i in range(20)]

    def op() -> str:
        calls.append("cold" if len(calls) < len(cold) else "warm")
        now[0] += cold[len(calls) - 1] if calls[-1] == "cold" else 1e-6
        return calls[-1]

    prepared = Prepared(fn=op, args=(), sync=lambda out: None, to_numpy=lambda out: out)
    assert sum(cold) > WARMUP_SECONDS
    prepared.warm_up()
    assert calls.count("cold") == len(cold) and calls[-1] == "warm"
    assert [prepared.timed() for _ in range(20)] == ["warm"] * 20


def test_mlx_is_imported_with_tf32_off_whatever_the_user_set(monkeypatch):
    """MLX reads MLX_ENABLE_TF32 once: mlxbench sets it before any of its own MLX imports."""
    from mlxbench.harness import asv_suite, versions

    for start in (versions.import_mlx, asv_suite.preimport_frameworks):
        monkeypatch.setenv("MLX_ENABLE_TF32", "1")
        start()
        assert os.environ["MLX_ENABLE_TF32"] == "0", start.__name__


def _mlx_cuda() -> bool:
    from mlxbench.harness import versions

    mx = versions.import_mlx()
    return not isinstance(mx, str) and hasattr(mx, "cuda") and mx.cuda.is_available()


@pytest.mark.skipif(not _mlx_cuda(), reason="needs MLX's CUDA build and an NVIDIA GPU (TF32 is a tensor-core setting)")
def test_mlx_gpu_on_cuda_computes_float32_products_even_where_tf32_was_asked_for():
    """In a fresh process started with MLX_ENABLE_TF32=1, MLX GEMMs and convolutions still pass float32 tolerances.

    TF32 rounds inputs to 10 bits: a 1024-term product is then off by about
    1e-3, far outside MatMul's float32 tolerance (verify would fail).
    """
    script = (
        "import os\n"
        "from mlxbench.catalog import CATALOG\n"
        "from mlxbench.harness.backends import BACKENDS\n"
        "from mlxbench.harness.verify import verify\n"
        "ops = [CATALOG[n] for n in ('MatMul', 'Linear', 'Conv1d', 'Conv2d')]\n"
        "rows = verify(ops, 'default', [BACKENDS['mlx_gpu']])\n"
        "print(os.environ['MLX_ENABLE_TF32'], [(r.op, r.variant, r.max_error) for r in rows if r.status != 'ok'])\n"
    )
    env = {**os.environ, "MLX_ENABLE_TF32": "1"}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "0 []", proc.stdout


@pytest.mark.parametrize("threads", ["1", "2"])
def test_torch_computes_with_the_series_thread_count_wherever_it_is_prepared(monkeypatch, threads):
    """Verification and timing alike: prepare pins torch's intra-op threads to MLXBENCH_TORCH_THREADS (default 1)."""
    import torch

    from mlxbench.harness import versions

    monkeypatch.setenv(versions.TORCH_THREADS_ENV, threads)
    torch.set_num_threads(3)
    op = CATALOG["ReLU"]
    v = op.variants("tiny")[0]
    BACKENDS["torch_cpu"].prepare(op, v, op.make_inputs(v))
    assert torch.get_num_threads() == int(threads)
    monkeypatch.setenv(versions.TORCH_THREADS_ENV, "0")
    with pytest.raises(ValueError, match="MLXBENCH_TORCH_THREADS='0' is not a thread count"):
        versions.torch_threads()
    monkeypatch.delenv(versions.TORCH_THREADS_ENV)
    assert versions.torch_threads() == 1
