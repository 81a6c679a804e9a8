"""What a plain ``asv run`` of this repository's configurations does differently, as ASV's patches call it.

Forkserver where no launch method is chosen (Linux), n/a without a process for
a backend the environment lacks, refusals of another preset and of a one-sample
history, and in pinned mode the newest MLX release (``ALL``: every one) for a
bare run. The patches themselves are :mod:`mlxbench.history.asv_patches`'s; the
reasons are in docs/asv-integration.md.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from asv import runner, util

from mlxbench.harness import benchmark_names
from mlxbench.harness.asv_suite import PRESET_ENV
from mlxbench.history.asv_project import DEFAULT_PRESET, PRESET_KEY, pinned_torch, preset_mismatch
from mlxbench.stack import timeline
from mlxbench.stack.releases import TAG_PREFIX

_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
from mlxbench.harness import versions
from mlxbench.harness.backends import BACKENDS
absent = {}
for name, backend in BACKENDS.items():
    try:
        # a release installed but failing to import is a failure its benchmarks report, not an absence
        reason = None if versions.broken_import(backend.framework) else backend.unavailable()
    except Exception:
        reason = None  # let the benchmark itself report it
    if reason:
        absent[name] = reason
print("MLXBENCH-ABSENT " + json.dumps(absent))
"""
CACHE = "_mlxbench_absent"
"""The spawner's attribute holding its environment's absent backends (asked once per spawner)."""


def default_launch_method(launch_method: str | None) -> str | None:
    """``forkserver`` on Linux where none was chosen (``None``/``auto``); otherwise what was chosen."""
    if launch_method in (None, "auto") and sys.platform == "linux":
        return "forkserver"
    return launch_method


def absent_backends(spawner: Any) -> dict[str, str]:
    """Backend -> why this spawner's environment lacks it; asked once, in one process of that environment."""
    if not hasattr(spawner, CACHE):
        env_vars = {**os.environ, **getattr(spawner.env, "env_vars", {})}
        root = str(Path(spawner.benchmark_dir).parent)
        with tempfile.TemporaryDirectory() as cwd:
            out = spawner.env.run(
                ["-c", _PROBE, root], dots=False, display_error=False, valid_return_codes=None, cwd=cwd, env=env_vars
            )
        line = next((x for x in str(out).splitlines() if x.startswith("MLXBENCH-ABSENT ")), None)
        try:
            absent = dict(json.loads(line.split(" ", 1)[1])) if line else {}
        except ValueError:
            absent = {}
        setattr(spawner, CACHE, absent)
    return getattr(spawner, CACHE)


def not_available(benchmark: dict[str, Any], reason: str) -> runner.BenchmarkResult:
    """ASV's n/a for every parameter combination of ``benchmark`` (NaN, as setup raising NotImplementedError)."""
    count = math.prod(len(p) for p in benchmark["params"]) if benchmark["params"] else 1
    return runner.BenchmarkResult(
        result=[math.nan] * count,
        samples=[None] * count,
        number=[None] * count,
        errcode=0,
        stderr=f"n/a: {reason}",
        profile=None,
    )


def absent_reason(benchmark: str, spawner: Any) -> str | None:
    """Why the backend of ``benchmark`` (an ASV name) is absent from ``spawner``'s environment; None if present."""
    name = benchmark_names.parse(benchmark)
    return absent_backends(spawner).get(name.backend) if name else None


def mode_commits(conf: Any, range_spec: Any) -> Any:
    """The range ``asv run`` measures: in pinned mode a bare run is the newest MLX release, ``ALL`` every one."""
    if range_spec not in (None, "ALL") or not pinned_torch(getattr(conf, "matrix", {})):
        return range_spec
    mlx = [h for tag, h in timeline.tags(Path(conf.repo)).items() if tag.startswith(TAG_PREFIX["mlx"])]
    if not mlx:
        return range_spec
    return [mlx[-1]] if range_spec is None else mlx


def existing_only(env_spec: Sequence[str] | None) -> bool:
    """A run in existing environments only (``-E existing[:...]``, ``--python=same``): ASV takes no range there."""

    def existing(spec: str) -> bool:
        tool, _, python = str(spec).partition(":")
        return tool == "existing" or (not tool and python == "same")  # --python=same is ASV's ":same"

    return bool(env_spec) and all(existing(spec) for spec in env_spec)


def saves_nothing(env_spec: Sequence[str] | None, set_commit_hash: str | None) -> bool:
    """Whether ``asv run`` stores no result: existing environments only and no ``--set-commit-hash`` (ASV's rule)."""
    return existing_only(env_spec) and set_commit_hash is None


TRIAL_DIRS = (".asv/trial/", ".asv/compare/")
"""Where one-sample results may go: a trial's and a comparison's folders, never a history's."""


def refuse_a_quick_history(conf: Any, quick: bool, dry_run: bool) -> None:
    """``asv run --quick`` under one of this repository's configurations would store one-sample numbers as history.

    Raises ASV's UserError (ASV prints it and exits 1) unless the run saves
    nothing (``--dry-run``) or the configuration's results are a trial's.
    """
    if not quick or dry_run or not getattr(conf, PRESET_KEY, None):
        return
    results = Path(str(getattr(conf, "results_dir", "results"))).resolve().as_posix() + "/"
    if any(f"/{d}" in results for d in TRIAL_DIRS):
        return
    raise util.UserError(
        f"asv run --quick would store one sample per benchmark in {results} as this machine's history. "
        "Check the set-up with `mlxbench bench --quick` (a trial under .asv/trial/) or add --dry-run."
    )


def refuse_another_preset(conf: Any, environ: Mapping[str, str] = os.environ) -> None:
    """``asv run`` of another preset (``MLXBENCH_PRESET``) under a configuration that keeps one preset's results.

    Raises ASV's UserError before anything runs, in every environment type
    (``-E existing`` passes the suite no configuration directory to check).
    """
    preset = environ.get(PRESET_ENV, DEFAULT_PRESET).strip() or DEFAULT_PRESET
    if (problem := preset_mismatch(preset, getattr(conf, PRESET_KEY, None), "this configuration")) is not None:
        raise util.UserError(problem)
