"""Deferred imports of the frameworks.

The catalog names ``mx`` and ``torch`` at module level, but importing torch costs
about a second and either framework may be absent (an MLX-only ASV environment,
a torch-only machine). A :class:`LazyModule` imports on first attribute access,
so ``import mlxbench`` is cheap and works with whatever is installed.

Once loaded, a stand-in gets out of the way: it rebinds every catalog module's
global that names it (and this module's) to the real module, so ``mx.sigmoid``
inside an op is a plain module attribute (about 0.04 us here) instead of a
``__getattr__`` call (about 0.5 us) inside every timed call. Backends call
:func:`load` in ``prepare``, so the first use is never a timed one.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

CATALOG_PACKAGE = __name__.rpartition(".")[0]


class LazyModule:
    """Stands in for a module until one of its attributes is used, then replaces itself by it."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def _load(self) -> ModuleType:
        if self._module is None:
            self._module = importlib.import_module(self._name)
            _rebind(self, self._module)
        return self._module

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._load(), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


def _rebind(stand_in: LazyModule, module: ModuleType) -> None:
    """Point every catalog global bound to ``stand_in`` at ``module`` (ops look their names up at call time)."""
    for name, loaded in list(sys.modules.items()):
        if name != CATALOG_PACKAGE and not name.startswith(CATALOG_PACKAGE + "."):
            continue
        namespace = vars(loaded)
        for key, value in list(namespace.items()):
            if value is stand_in:
                namespace[key] = module


mx = LazyModule("mlx.core")
mnn = LazyModule("mlx.nn")
torch = LazyModule("torch")
F = LazyModule("torch.nn.functional")

STAND_INS: dict[str, tuple[LazyModule, ...]] = {"mlx": (mx, mnn), "torch": (torch, F)}
"""The stand-ins of each framework, kept here after the module globals above are rebound."""


def load(framework: str) -> None:
    """Import ``framework`` ("mlx" or "torch") and put the real modules in the catalog's globals."""
    for stand_in in STAND_INS[framework]:
        stand_in._load()


class Chosen:
    """An op implementation picked once its framework is loaded, never inside a timed call.

    ``choose`` returns the function to time, for example ``mx.addmm`` where this
    MLX release has it and ``x @ w + b`` before. Backends call :func:`resolve` in
    ``prepare``, so a version check costs nothing per call; calling the object
    itself chooses on every call, for code outside the harness (work estimates).
    """

    def __init__(self, choose: Callable[[], Callable[..., Any]]) -> None:
        self.choose = choose
        self.__doc__ = choose.__doc__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.choose()(*args, **kwargs)


def resolve(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The function a backend times for an op's ``mlx`` or ``torch`` entry."""
    return fn.choose() if isinstance(fn, Chosen) else fn
