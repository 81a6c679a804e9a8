"""The vocabulary of a report's results: series, history points, the pairs commits pin, table keys and values.

Both axes of the timeline show. A result measured the pair of its commit
(the timeline's MLX_VERSION and TORCH_VERSION), or, where its environment
pins torch (pinned mode: the environment's name carries ``torch2.13.0``), that
commit's MLX with the pinned torch. A backend's history has one column per
release of its own framework, at the commit that measured most of it: the
other commits measuring that release again only show the machine's drift and
are the other framework's controls. A series is one machine in one ASV
environment: pinned and timeline results are never spliced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from mlxbench.stack import timeline

MODES = ("pinned", "timeline")
"""How an environment gets its torch: pinned by the ASV matrix (for every commit), or each commit's own."""


class Stack(NamedTuple):
    """The framework versions a timeline commit pins; None where that framework had no release yet."""

    mlx: str | None
    torch: str | None


def timeline_stacks() -> dict[str, Stack]:
    """Tag -> the pair its commit pins, from the committed catalogs: the plan the timeline repository is built from."""
    return {commit.tag: Stack(commit.mlx, commit.torch) for commit in timeline.plan()}


def version_label(framework: str, version: str) -> str:
    """A history column's heading: the MLX tag (``v0.31.1``, as ``asv compare`` names it) or ``torch 2.13.0``."""
    return f"v{version}" if framework == "mlx" else f"{framework} {version}"


@dataclass(frozen=True)
class Series:
    """One machine's results in one ASV environment and one dtype: what one table or plot line is drawn from.

    ASV keeps one series per machine and environment; a pinned environment
    and a timeline one measured different pairs at the same commit, so they
    are never mixed; nor are dtypes.
    """

    machine: str
    env: str
    pin: str | None
    """The torch version the environment pins (pinned mode); None where each commit brings its own (timeline)."""
    dtype: str = "float32"
    """The dtype of its variants: float16 and bfloat16 results are series of their own, never averaged together."""
    torch_threads: str | None = None
    """torch's CPU thread count in the environment; None where the environment does not set it."""

    @property
    def mode(self) -> str:
        return "pinned" if self.pin else "timeline"

    @property
    def setting(self) -> str:
        """The environment as a reader names it: ``torch 2.13.0 pinned, 1 thread`` or ``each commit's torch``."""
        torch = f"torch {self.pin} pinned" if self.pin else "each commit's torch"
        if self.torch_threads is None:
            return torch
        return f"{torch}, {self.torch_threads} thread{'' if self.torch_threads == '1' else 's'}"


class Point(NamedTuple):
    """One column of a backend's history: a release of its framework, at the commit that measured most of it."""

    label: str
    release: str
    version: str | None


class Key(NamedTuple):
    """Where one table value comes from."""

    series: str
    release: str
    op: str
    variant: str
    backend: str


Value = float | str | None
"""A table cell's raw value: a number, :data:`FAILED`, or None for n/a."""
