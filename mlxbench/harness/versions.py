"""What the installed MLX and PyTorch can do, asked without ever raising.

mlxbench runs under every MLX release from 0.2.0 on, and APIs moved between
them (``mx.fast`` appeared after 0.2.0, ``mx.metal.*`` memory functions became
``mx.*``, CUDA arrived in 0.26). Everything version-dependent is asked here.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import sys
from pathlib import Path
from types import ModuleType

MLX_FLOAT32_ENV = {"MLX_ENABLE_TF32": "0"}
"""The environment every MLX process of mlxbench runs with: float32 matrix products in float32.

MLX runs float32 matrix products, convolutions and attention at TF32-class
precision (10-bit mantissa) where the hardware has matrix units, unless
``MLX_ENABLE_TF32=0`` (ml-explore/mlx#3860): cuBLAS/cuDNN on CUDA, and Metal's
neural-accelerator kernels on M5-generation Apple GPUs (#3534). ``torch_cuda``
turns TF32 off as well, so both frameworks compute the function verification
checks against float64. MLX reads the variable once, when it first needs it,
so it is set before MLX is imported (:func:`pin_mlx_float32`) and inherited by
every process started afterwards (ASV's forkserver and the benchmarks it
forks). It overrides a value set by the user: a TF32 number beside a float32
one is not a comparison.
"""


def pin_mlx_float32() -> None:
    """Set :data:`MLX_FLOAT32_ENV` in this process, before MLX can read it."""
    os.environ.update(MLX_FLOAT32_ENV)


TORCH_THREADS_ENV = "MLXBENCH_TORCH_THREADS"
"""torch's CPU intra-op threads, set by the ASV matrix (``env_nobuild``) so that another count is another series.

One thread, like MLX's single-threaded CPU backend on Linux: the comparison is
one core against one core, and a neighbouring process cannot stretch torch's
tail (at its default of every core, a second process spinning on one of the two
cores here took a ReLU's p90 from 0.34 ms to 4.4 ms; at one thread it stayed
within 10-40%).
"""
DEFAULT_TORCH_THREADS = 1


def torch_threads() -> int:
    """The torch CPU thread count this process benchmarks with (:data:`TORCH_THREADS_ENV`, default 1)."""
    value = os.environ.get(TORCH_THREADS_ENV, "").strip()
    if not value:
        return DEFAULT_TORCH_THREADS
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{TORCH_THREADS_ENV}={value!r} is not a thread count (a whole number >= 1)")
    return int(value)


def pin_torch_threads() -> None:
    """Set torch's intra-op thread pool to :func:`torch_threads`, where torch is already imported."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != torch_threads():
        torch.set_num_threads(torch_threads())


INSTALL_MARKER = "mlxbench-install.json"
"""Written into an ASV environment (``sys.prefix``) by the install step: why a framework is absent there.

A timeline commit pins a pair; where one framework has no wheel for this
platform, the install step installs the other one and records the reason here,
so that framework's backends report it (``torch 2.1.0 has no wheel here``)
instead of measuring whatever an earlier commit left behind.
"""


def missing_by_install(framework: str) -> str | None:
    """The install step's reason ``framework`` is absent from this environment, or None."""
    try:
        reasons = json.loads((Path(sys.prefix) / INSTALL_MARKER).read_text())
    except (OSError, ValueError):
        return None
    reason = reasons.get(framework) if isinstance(reasons, dict) else None
    return str(reason) if reason else None


_broken: dict[str, str] = {}
"""Top-level package -> why it is installed but fails to import (first line of the error)."""


@functools.cache
def _import(name: str) -> ModuleType | str:
    """The module, or why it cannot be imported: not installed, or installed and failing (kept in :data:`_broken`)."""
    top = name.split(".")[0]
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name in (top, name):
            return f"{top} cannot be imported: {exc}"
        failure: Exception = exc  # a dependency of the package is missing: the install is broken
    except Exception as exc:
        failure = exc
    first = (str(failure).strip().splitlines() or [""])[0]
    _broken[top] = f"{top} is installed but fails to import: {type(failure).__name__}: {first}".rstrip(": ")
    return _broken[top]


def broken_import(framework: str) -> str | None:
    """Why ``framework``'s installed package fails to import (a failure to report), or None (fine or absent)."""
    if framework == "mlx":  # each imported as everywhere else, its settings applied first
        import_mlx()
    else:
        import_torch()
    return _broken.get(framework)


def import_mlx() -> ModuleType | str:
    """``mlx.core`` (imported with :data:`MLX_FLOAT32_ENV` set), or the reason it cannot be imported."""
    pin_mlx_float32()
    return _import("mlx.core")


def import_torch() -> ModuleType | str:
    """``torch`` with its CPU threads pinned (:func:`pin_torch_threads`), or the reason it cannot be imported.

    Verification and timing alike compute with the benchmark's thread count.
    """
    torch = _import("torch")
    if not isinstance(torch, str):
        pin_torch_threads()
    return torch


def mlx_version() -> str:
    mx = import_mlx()
    return "(not installed)" if isinstance(mx, str) else str(mx.__version__)


def torch_version() -> str:
    torch = import_torch()
    return "(not installed)" if isinstance(torch, str) else str(torch.__version__)


def has_api(framework: str, path: str) -> bool:
    """Whether ``mx.<path>`` (mlx) or ``torch.<path>`` exists: ``"fast.layer_norm"``, ``"nn.functional.rms_norm"``.

    ``nn.`` paths are looked up in ``mlx.nn`` / ``torch.nn`` (imported: ``torch.nn.functional`` is a module).
    """
    root = "mlx.core" if framework == "mlx" else "torch"
    if framework == "mlx" and path.startswith("nn."):
        root, path = "mlx.nn", path.removeprefix("nn.")
    obj: object = import_mlx() if framework == "mlx" else import_torch()
    if isinstance(obj, str):
        return False
    if root != "mlx.core":
        obj = _import(root)
        if isinstance(obj, str):
            return False
    for part in path.split("."):
        if not hasattr(obj, part):
            return False
        obj = getattr(obj, part)
    return True


def mlx_has(path: str) -> bool:
    """Whether ``mx.<path>`` exists, e.g. ``"fast.layer_norm"`` or ``"array.at"``."""
    return has_api("mlx", path)


def mlx_gpu_available(mx: ModuleType) -> bool:
    """Metal on macOS; CUDA for mlx's CUDA build on Linux (0.26 onward)."""
    for backend in ("metal", "cuda"):
        module = getattr(mx, backend, None)
        if module is not None and hasattr(module, "is_available") and module.is_available():
            return True
    return False
