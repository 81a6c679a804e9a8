"""A plain ``asv run`` of this configuration, as fast and as pointed as the main job (installed by the ASV plugin).

- **Launch method.** ASV's default spawns a Python per benchmark, each
  importing torch and MLX again (about 1.7 s per variant process here). Where
  neither the configuration nor the command line names a launch method, Linux
  uses ASV's ``forkserver``: the suite, frameworks included, is imported once
  per commit and each benchmark forked from it (what ``mlxbench bench``
  does). macOS keeps ``spawn``: Metal does not survive a fork.
- **Absent backends.** A benchmark of a backend the environment lacks (no GPU,
  no ``mx.compile`` in an old release) is filed as n/a, ASV's NaN, with the
  reason on stderr, without a process of its own: which backends are absent is
  asked once per environment and commit, in one process. Every machine keeps
  every benchmark name, so results from many chips still merge.
- **One preset per results directory.** ``asv run`` with ``MLXBENCH_PRESET``
  naming another preset than the configuration keeps is refused before it
  starts, in every environment type.
- **No one-sample history.** ``asv run --quick`` under one of this
  repository's configurations is refused unless it saves nothing
  (``--dry-run``) or writes a trial's results (``mlxbench bench --quick``).
- **Which commits.** In pinned mode (the matrix pins torch) the timeline's head
  is a torch release, which a pinned environment measures as the MLX before
  it: a bare ``asv run`` measures the newest MLX release instead, and
  ``asv run ALL`` the MLX releases. Timeline mode keeps ASV's meaning (the head,
  every commit); ranges, ``asv continuous``, ``asv find`` and runs in an
  existing environment (``-E existing``, ``--python=same``) are ASV's own.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from asv import runner, util
from asv.commands import run as run_command

from mlxbench.harness.asv_suite import PRESET_ENV
from mlxbench.history.asv_project import DEFAULT_PRESET, PRESET_KEY, pinned_torch, preset_mismatch
from mlxbench.stack import timeline
from mlxbench.stack.releases import TAG_PREFIX

BACKEND = re.compile(r"\.\w+?_(?P<backend>(?:mlx|torch)_\w+)$")
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
_originals: dict[str, Any] = {}


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


def _get_spawner(env: Any, benchmark_dir: str, launch_method: str | None) -> Any:
    return _originals["get_spawner"](env, benchmark_dir, default_launch_method(launch_method))


def _run_benchmark(benchmark: dict[str, Any], spawner: Any, profile: bool, *args: Any, **kwargs: Any) -> Any:
    found = BACKEND.search(benchmark["name"])
    if found and (reason := absent_backends(spawner).get(found["backend"])):
        return not_available(benchmark, reason)
    return _originals["run_benchmark"](benchmark, spawner, profile, *args, **kwargs)


def mode_commits(conf: Any, range_spec: Any) -> Any:
    """The range ``asv run`` measures: in pinned mode a bare run is the newest MLX release, ``ALL`` every one."""
    if range_spec not in (None, "ALL") or not pinned_torch(getattr(conf, "matrix", {})):
        return range_spec
    mlx = [h for tag, h in timeline.tags(Path(conf.repo)).items() if tag.startswith(TAG_PREFIX["mlx"])]
    if not mlx:
        return range_spec
    return [mlx[-1]] if range_spec is None else mlx


def _existing_only(env_spec: Any) -> bool:
    """An ``-E existing:...`` (or ``--python=same``) run: ASV takes no range there, and measures what is installed."""
    return bool(env_spec) and all(str(spec).split(":", 1)[0] == "existing" for spec in env_spec)


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


def _run(cls: Any, conf: Any, range_spec: Any = None, *args: Any, **kwargs: Any) -> Any:
    refuse_another_preset(conf)
    refuse_a_quick_history(conf, bool(kwargs.get("quick")), bool(kwargs.get("dry_run")))
    if not _existing_only(kwargs.get("env_spec")):
        range_spec = mode_commits(conf, range_spec)
    return _originals["run"](cls, conf, range_spec, *args, **kwargs)


def install() -> None:
    """Patch ASV's launcher, per-benchmark runner and ``asv run``'s default range (once per process)."""
    if _originals:
        return
    _originals["get_spawner"] = runner.get_spawner
    _originals["run_benchmark"] = runner.run_benchmark
    _originals["run"] = run_command.Run.run.__func__
    runner.get_spawner = _get_spawner
    runner.run_benchmark = _run_benchmark
    run_command.Run.run = classmethod(_run)
