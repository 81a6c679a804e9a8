"""The timing method, not the time: every backend's body runs the op once and syncs its output.

Each planted bug below is a way the older suite (or a careless edit) times the
wrong thing; each must be named by the audit.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
import types
from collections.abc import Callable

import numpy as np
import pytest

from mlxbench.catalog import CATALOG, frameworks
from mlxbench.catalog.frameworks import LazyModule
from mlxbench.harness import asv_suite, audit
from mlxbench.harness.asv_suite import benchmark_class
from mlxbench.harness.backends import BACKENDS, MLXBackend, Prepared, TorchBackend, timed_body


@pytest.mark.parametrize("op", list(CATALOG))
def test_every_backend_here_times_one_synchronized_call(op, cpu_backends):
    variant = CATALOG[op].variants("tiny")[0]
    for backend in cpu_backends:
        if backend.unsupported(CATALOG[op]):
            continue
        assert audit.audit(backend, CATALOG[op], variant) == [], backend.name


class _Planted:
    """A backend whose prepared call is rewritten by ``bug`` after the real prepare."""

    def __init__(self, base, bug: Callable[[Prepared], Prepared]) -> None:
        self.base, self.bug = base, bug

    def planted(self):
        base, bug = self.base, self.bug

        class Backend(type(base)):
            def prepare(self, op, variant, inputs):
                return bug(super().prepare(op, variant, inputs))

        clone = Backend.__new__(Backend)
        clone.__dict__.update(base.__dict__)
        return clone


def _subclass(run: Callable[[Prepared], object]) -> Callable[[Prepared], Prepared]:
    """The prepared call with a timed body of its own: ``run(prepared)`` instead of the op and its sync."""

    def bug(p: Prepared) -> Prepared:
        buggy = Prepared(p.fn, p.args, p.sync, p.to_numpy)
        buggy.timed = lambda: run(buggy)
        return buggy

    return bug


MLX_CPU = MLXBackend("mlx_cpu", "cpu")
MLX_COMPILE = MLXBackend("mlx_cpu_compile", "cpu", compiled=True)
TORCH_CPU = TorchBackend("torch_cpu", "cpu")


def _mx_array_from_host(p: Prepared):
    import mlx.core as mx

    out = p.fn(*(mx.array(np.array(a)) for a in p.args))
    p.sync(out)
    return out


STAND_IN = LazyModule("mlx.core")
"""A stand-in outside the catalog: nothing rebinds it, as the catalog's own were before prepare resolved them."""


def _before_each_call(extra: Callable[[], object]) -> Callable[[Prepared], Prepared]:
    """The prepared call with ``extra()`` evaluated before the op, inside every timed call."""

    def bug(p: Prepared) -> Prepared:
        fn = p.fn
        return Prepared(lambda *a: (extra(), fn(*a))[1], p.args, p.sync, p.to_numpy)

    return bug


def _real_mx():
    import mlx.core as mx

    return mx


PLANTED = {
    "forgets mx.eval": (MLX_CPU, _subclass(lambda p: p.fn(*p.args)), "synchronized 0 times"),
    "a no-op sync": (
        MLX_CPU,
        lambda p: Prepared(p.fn, p.args, lambda out: None, p.to_numpy),
        "not mlx_cpu's synchronizer",
    ),
    "evaluates the input, not the output": (
        MLX_CPU,
        _subclass(lambda p: (p.sync(p.args[0]), p.fn(*p.args))[1]),
        "an array other than the op's output",
    ),
    "calls the op twice": (
        MLX_CPU,
        _subclass(lambda p: (p.fn(*p.args), timed_body(p.fn, p.args, p.sync)())[1]),
        "called the op 2 times",
    ),
    "allocates inputs in the timed body": (MLX_CPU, _subclass(_mx_array_from_host), "inputs other than setup's"),
    "torch inputs left on the host as numpy": (
        TORCH_CPU,
        lambda p: Prepared(p.fn, tuple(a.numpy() for a in p.args), p.sync, p.to_numpy),
        "not a torch.Tensor",
    ),
    "reaches MLX through a lazy stand-in": (
        MLX_CPU,
        _before_each_call(lambda: STAND_IN.softmax),
        "looked up 'softmax' through the lazy stand-in",
    ),
    "checks the MLX version per call": (
        MLX_CPU,
        _before_each_call(lambda: hasattr(_real_mx(), "addmm")),
        "asked hasattr(..., 'addmm')",
    ),
}


@pytest.mark.parametrize("name", list(PLANTED))
def test_planted_method_bug_is_named(name):
    base, bug, expected = PLANTED[name]
    op = CATALOG["Softmax"]
    problems = audit.audit(_Planted(base, bug).planted(), op, op.variants("tiny")[0])
    assert any(expected in p for p in problems), problems


def test_compiled_backend_that_skips_warm_up_is_caught(monkeypatch):
    """A compile backend whose setup does not run the op leaves tracing (and g++) to the timed body."""
    op = CATALOG["Softmax"]
    traces: list = []
    spied = dataclasses.replace(op, mlx=lambda *a, **k: (traces.append(a), op.mlx(*a, **k))[1])
    variant = op.variants("tiny")[0]
    monkeypatch.setattr(Prepared, "run", lambda self: None)  # prepare's warm-up does nothing
    prepared = MLX_COMPILE.prepare(spied, variant, op.make_inputs(variant))
    monkeypatch.undo()
    assert traces == []
    problems = audit.audit_prepared(MLX_COMPILE, prepared, traces)
    assert any("traced inside the timed body" in p for p in problems), problems


@pytest.mark.parametrize("backend", ["mlx_cpu", "torch_cpu"])
def test_asv_time_method_is_exactly_one_call_of_the_op_and_its_synchronization(backend, monkeypatch):
    """The ASV body adds nothing around the op: one call per timed call, setup outside it; a synchronization
    that does nothing (torch on the CPU) is not called at all."""
    monkeypatch.setattr(asv_suite, "_prepared", {})
    monkeypatch.setattr(asv_suite, "_plans", {})
    monkeypatch.setattr(asv_suite, "_loads", {})
    op = CATALOG["ReLU"]
    side = BACKENDS[backend].framework
    real = frameworks.resolve(getattr(op, side))
    calls: list[tuple] = []
    spied = dataclasses.replace(op, **{side: lambda *a, **k: (calls.append(a), real(*a, **k))[1]})
    cls = benchmark_class(spied, "tiny", __name__)
    method_ = getattr(cls, f"time_{backend}")
    variant = op.variants("tiny")[0].id
    method_.setup(variant)
    calls.clear()  # setup's warm-up is not timed
    method_(cls(), variant)
    assert len(calls) == 1
    method_.setup(variant)
    assert len(calls) == 1, "setup of a cached benchmark must not run the op again"
    timed = asv_suite._prepared[("ReLU", variant, backend)].timed
    assert isinstance(timed, functools.partial) == (backend == "torch_cpu")  # no call for a sync that does nothing


def test_a_stand_in_replaces_itself_in_the_catalog_on_first_use(monkeypatch):
    """After the first lookup, ops read the real module: no __getattr__ left for a timed call to pay."""
    inside, outside = types.ModuleType("mlxbench.catalog.ops._probe"), types.ModuleType("elsewhere")
    stand_in = LazyModule("json")
    inside.js = outside.js = stand_in
    for module in (inside, outside):
        monkeypatch.setitem(sys.modules, module.__name__, module)
    assert inside.js.dumps is json.dumps
    assert inside.js is json
    assert outside.js is stand_in  # only the catalog is rebound; anything else keeps a working stand-in


@pytest.mark.parametrize("op", list(CATALOG))
def test_timed_body_reads_no_attribute_through_a_lazy_stand_in(op, cpu_backends, monkeypatch):
    lookups: list[str] = []
    original = LazyModule.__getattr__

    def spy(stand_in: LazyModule, attr: str):
        lookups.append(attr)
        return original(stand_in, attr)

    variant = CATALOG[op].variants("tiny")[0]
    for backend in cpu_backends:
        if backend.unsupported(CATALOG[op]):
            continue
        prepared = backend.prepare(CATALOG[op], variant, CATALOG[op].make_inputs(variant))
        monkeypatch.setattr(LazyModule, "__getattr__", spy)
        prepared.run()
        monkeypatch.undo()
        assert lookups == [], (backend.name, lookups)


class _FromNumpy(TorchBackend):
    """torch on the CPU as the suite prepared it before: the timed call reads numpy's own buffers."""

    def prepare(self, op, variant, inputs):
        import torch

        p = super().prepare(op, variant, inputs)
        return Prepared(p.fn, tuple(torch.from_numpy(a) for a in inputs.values()), p.sync, p.to_numpy)


class _Misaligned(TorchBackend):
    """torch-owned copies that start 16 bytes past torch's 64-byte boundary, as numpy's large arrays do."""

    def prepare(self, op, variant, inputs):
        import torch

        p = super().prepare(op, variant, inputs)
        shifted = []
        for a in p.args:
            flat = torch.empty(a.numel() + 16, dtype=a.dtype)[16 // a.element_size() :]
            shifted.append(flat[: a.numel()].view(a.shape).copy_(a))
        return Prepared(p.fn, tuple(shifted), p.sync, p.to_numpy)


def test_torch_inputs_in_numpys_memory_are_named():
    op = CATALOG["Sum"]
    problems = audit.audit(_FromNumpy("torch_cpu", "cpu"), op, op.variants("tiny")[0])
    assert "input 0 ('x') shares memory with numpy's input 'x': a view, not torch's copy" in problems, problems


def test_torch_inputs_off_torchs_alignment_are_named():
    op = CATALOG["Sum"]
    problems = audit.audit(_Misaligned("torch_cpu", "cpu"), op, op.variants("tiny")[0])
    assert problems == ["input 0 ('x') starts 16 bytes past a 64-byte boundary"], problems


def test_every_default_torch_cpu_input_is_torchs_own_aligned_copy(monkeypatch):
    monkeypatch.setattr(Prepared, "warm_up", lambda self: 0)  # placement only: no call of the op
    backend = BACKENDS["torch_cpu"]
    checked = 0
    for op in CATALOG.values():
        if backend.unsupported(op):
            continue
        for variant in op.variants("default"):
            inputs = op.make_inputs(variant)
            prepared = backend.prepare(op, variant, inputs)
            assert audit.torch_ownership(backend, prepared.args, inputs) == [], (op.name, variant.id)
            checked += len(prepared.args)
    assert checked > 100
