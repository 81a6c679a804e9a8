"""Audits the timing method of a backend on one op variant (not its speed).

:func:`audit` prepares the variant through spies and runs the timed body once,
then names every way the body could time something other than "one call of
the op, synchronized on its exact output": the op called twice or not at all,
a compiled function re-traced inside the timed region, no synchronization or
one on a different array, inputs built or moved inside the body instead of in
setup, inputs not on the backend's device, a framework reached through a lazy
stand-in or a version check (``hasattr``) made by our code inside the body, and torch
CPU inputs that are numpy's memory rather than torch's own copies. Tests run it for every backend and
plant each bug to prove it is caught.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import functools
import sys
from collections.abc import Callable, Iterator
from typing import Any

try:  # numpy 2
    from numpy.lib.array_utils import byte_bounds
except ImportError:  # numpy 1.x
    from numpy import byte_bounds  # type: ignore[attr-defined,no-redef]

from mlxbench.catalog import frameworks
from mlxbench.catalog.frameworks import LazyModule
from mlxbench.catalog.spec import Arrays, Op, Variant
from mlxbench.harness.backends import Backend, MLXBackend, Prepared, TorchBackend, timed_body


def _counting(fn: Callable[..., Any], calls: list[tuple[Any, ...]]) -> Callable[..., Any]:
    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return fn(*args, **kwargs)

    return spy


def _placement(backend: Backend, args: tuple[Any, ...]) -> list[str]:
    """Inputs must already be the framework's arrays on the backend's device."""
    problems = []
    for i, arg in enumerate(args):
        if isinstance(backend, MLXBackend):
            import mlx.core as mx

            if not isinstance(arg, mx.array):
                problems.append(f"input {i} is {type(arg).__name__}, not an mx.array made in setup")
        elif isinstance(backend, TorchBackend):
            import torch

            if not isinstance(arg, torch.Tensor):
                problems.append(f"input {i} is {type(arg).__name__}, not a torch.Tensor made in setup")
            elif arg.device.type != backend.device:
                problems.append(f"input {i} is on {arg.device.type}, not {backend.device}")
    return problems


TORCH_ALIGNMENT = 64
"""Bytes torch's CPU allocator aligns every tensor to (c10's ``gAlignment``)."""


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1] and a[0] < a[1] and b[0] < b[1]


def torch_ownership(backend: Backend, args: tuple[Any, ...], inputs: Arrays) -> list[str]:
    """torch CPU inputs must be torch's copies, as a model's tensors are: not views of numpy's buffers.

    Owned means three things: no memory shared with any numpy input, storage
    made by torch's allocator (``from_numpy``'s is not resizable) and an
    address 64-byte aligned.
    """
    if not isinstance(backend, TorchBackend) or backend.device != "cpu":
        return []
    import torch

    names = list(inputs)
    problems = []
    for i, arg in enumerate(args):
        if not isinstance(arg, torch.Tensor):
            continue
        label = f"input {i} ({names[i]!r})" if i < len(names) else f"input {i}"
        storage = arg.untyped_storage()  # read before anything else: Tensor.numpy() would make it unresizable
        held = (storage.data_ptr(), storage.data_ptr() + storage.nbytes())
        shared = [n for n, a in inputs.items() if _overlap(held, byte_bounds(a))]
        if shared:
            problems.append(f"{label} shares memory with numpy's input {shared[0]!r}: a view, not torch's copy")
        elif not storage.resizable():
            problems.append(f"{label} is not torch-owned: its storage was not made by torch's allocator")
        if (offset := arg.data_ptr() % TORCH_ALIGNMENT) != 0:
            problems.append(f"{label} starts {offset} bytes past a {TORCH_ALIGNMENT}-byte boundary")
    return problems


def _ours(frame: Any) -> bool:
    """Code of mlxbench or its tests, not of the frameworks, their dependencies or the standard library."""
    name = frame.f_globals.get("__name__", "")
    return name.split(".")[0] == "mlxbench" or not frame.f_code.co_filename.startswith((sys.prefix, sys.base_prefix))


@contextlib.contextmanager
def _lookups(found: list[str]) -> Iterator[None]:
    """Record, while active, attributes read through a lazy stand-in and ``hasattr`` asked by our code.

    Both belong in prepare: a stand-in's ``__getattr__`` costs about 0.5 us per
    lookup, a version check a little less, each inside every timed sample.
    """
    lazy_getattr, real_hasattr = LazyModule.__getattr__, builtins.hasattr

    def spy_getattr(stand_in: LazyModule, attr: str) -> Any:
        found.append(f"looked up {attr!r} through the lazy stand-in {stand_in!r}")
        return lazy_getattr(stand_in, attr)

    def spy_hasattr(obj: Any, name: str) -> bool:
        caller = sys._getframe(1)
        if _ours(caller):
            found.append(f"asked hasattr(..., {name!r}) in {caller.f_globals.get('__name__')}")
        return real_hasattr(obj, name)

    LazyModule.__getattr__, builtins.hasattr = spy_getattr, spy_hasattr
    try:
        yield
    finally:
        LazyModule.__getattr__, builtins.hasattr = lazy_getattr, real_hasattr


def _is_timed_body(timed: Any, fn: Any, args: tuple[Any, ...], sync: Any) -> bool:
    """Whether ``timed`` is what :func:`timed_body` makes of these three (so the spied copy times the same thing)."""
    if isinstance(timed, functools.partial):  # a partial of a partial is flattened: compare with a fresh one
        reference = timed_body(fn, args, sync)
        if not isinstance(reference, functools.partial):
            return False
        same_args = len(timed.args) == len(reference.args) and all(a is b for a, b in zip(timed.args, reference.args))
        return timed.func is reference.func and same_args and timed.keywords == reference.keywords
    code = getattr(timed, "__code__", None)
    if code is None or code is not getattr(timed_body(fn, args, sync), "__code__", None):
        return False
    cells = dict(zip(code.co_freevars, (c.cell_contents for c in timed.__closure__)))
    return cells.get("fn") is fn and cells.get("args") is args and cells.get("sync") is sync


def audit_prepared(backend: Backend, prepared: Prepared, op_calls: list[tuple[Any, ...]]) -> list[str]:
    """Run ``prepared``'s timed body once through spies; ``op_calls`` records the op's own calls."""
    problems = _placement(backend, prepared.args)
    if prepared.sync is not backend.synchronizer():
        problems.append(
            f"the body synchronizes with {getattr(prepared.sync, '__name__', prepared.sync)!s}, "
            f"not {backend.name}'s synchronizer"
        )
    fn, sync = prepared.fn, prepared.sync
    body_calls: list[tuple[Any, ...]] = []
    outputs: list[Any] = []
    synced: list[Any] = []

    def spy_fn(*args: Any) -> Any:
        body_calls.append(args)
        outputs.append(fn(*args))
        return outputs[-1]

    def spy_sync(out: Any) -> None:
        synced.append(out)
        sync(out)

    faithful = _is_timed_body(prepared.timed, fn, prepared.args, sync)
    if not faithful:
        problems.append("the timed body is not the op's call and its synchronization (timed_body of fn, args, sync)")
    quiet_sync = faithful and bool(getattr(sync, "does_nothing", False))
    spy_sync.does_nothing = quiet_sync  # type: ignore[attr-defined]
    traced_before = len(op_calls)
    lookups: list[str] = []
    prepared.fn, prepared.sync = spy_fn, spy_sync  # what a body of its own reads through the prepared call
    try:
        body = timed_body(spy_fn, prepared.args, spy_sync) if faithful else prepared.timed
        with _lookups(lookups):
            returned = body()
    except Exception as exc:  # noqa: BLE001 - a body that cannot run is one more finding
        return problems + [f"the timed body raised {type(exc).__name__}: {exc}"]
    finally:
        prepared.fn, prepared.sync = fn, sync
    if len(body_calls) != 1:
        problems.append(f"the timed body called the op {len(body_calls)} times, not once")
    elif any(a is not b for a, b in zip(body_calls[0], prepared.args)) or len(body_calls[0]) != len(prepared.args):
        problems.append("the timed body called the op on inputs other than setup's (built or copied while timed)")
    traced = len(op_calls) - traced_before
    compiled = getattr(backend, "compiled", False)
    if compiled and traced:
        problems.append("the compiled function was traced inside the timed body (warm-up did not compile it)")
    if not compiled and traced != len(body_calls):
        problems.append(f"the op ran {traced} times for {len(body_calls)} calls of the prepared function")
    if len(synced) != (0 if quiet_sync else 1):
        problems.append(f"the timed body synchronized {len(synced)} times, not {'never' if quiet_sync else 'once'}")
    elif outputs and synced and synced[0] is not outputs[0]:
        problems.append("the timed body synchronized an array other than the op's output")
    if outputs and returned is not outputs[0]:
        problems.append("the timed body returned something other than the op's output")
    problems += [f"the timed body {lookup} (resolve it in prepare)" for lookup in lookups]
    return problems


def audit(backend: Backend, op: Op, variant: Variant) -> list[str]:
    """Every method problem of ``backend`` on ``op``/``variant``: an empty list is a clean bill."""
    op_calls: list[tuple[Any, ...]] = []
    side = backend.framework
    spied = dataclasses.replace(op, **{side: _counting(frameworks.resolve(getattr(op, side)), op_calls)})
    inputs = op.make_inputs(variant)
    prepared = backend.prepare(spied, variant, inputs)
    problems = torch_ownership(backend, prepared.args, inputs)
    compiled = getattr(backend, "compiled", False)
    if not op_calls:
        problems.append("setup never ran the op: no warm-up (compile, kernels, allocator) before timing")
    elif compiled and len(op_calls) != 1:
        problems.append(f"setup traced the compiled op {len(op_calls)} times; once is expected (warm-up reuses it)")
    return problems + audit_prepared(backend, prepared, op_calls)
