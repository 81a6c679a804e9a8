"""Deferred imports of the frameworks.

The catalog names ``mx`` and ``torch`` at module level, but importing torch costs
about a second and either framework may be absent (an MLX-only ASV environment,
a torch-only machine). A :class:`LazyModule` imports on first attribute access,
so ``import mlxbench`` is cheap and works with whatever is installed.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands in for a module until one of its attributes is used."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def _load(self) -> ModuleType:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return self._module

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._load(), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


mx = LazyModule("mlx.core")
mnn = LazyModule("mlx.nn")
torch = LazyModule("torch")
F = LazyModule("torch.nn.functional")
