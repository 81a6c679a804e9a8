"""The main job: benchmark this machine at the installed MLX release with ASV.

Syncs the release timeline, registers the machine, and runs ``asv run`` in the
current environment (``-E existing``) with ``--set-commit-hash`` pointing at
the timeline commit of the installed MLX release, so the results land in the
same history that ``asv run ALL`` builds. Only backends available here are
asked for: ASV would otherwise start a process just to report n/a. Each is
verified against float64 first, and one that fails is not timed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from mlxbench.catalog.spec import Op
from mlxbench.errors import UsageError
from mlxbench.harness import verify, versions
from mlxbench.harness.asv_suite import PRESET_ENV
from mlxbench.harness.backends import Backend
from mlxbench.history import machine, releases, timeline

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = ["--launch-method", "forkserver"] if sys.platform == "linux" else []
"""Linux: fork each benchmark from one process that already imported the frameworks
(about a second saved per benchmark). macOS keeps ``spawn``: Metal does not survive fork."""


def asv_conf(root: Path = ROOT) -> dict:
    path = root / "asv.conf.json"
    if not path.exists():
        raise UsageError(f"no asv.conf.json in {root}: run mlxbench from a clone of the repository")
    from asv.util import load_json

    return load_json(str(path), js_comments=True)


def sync_timeline(conf: dict, root: Path = ROOT) -> dict[str, str]:
    """Create or update the timeline repository asv.conf.json names; tag -> hash."""
    return timeline.sync(root / conf["repo"], releases.load())


def commit_for_installed_mlx(tags: dict[str, str]) -> tuple[str, str]:
    tag = f"v{versions.mlx_version()}"
    if tag not in tags:
        raise UsageError(
            f"installed mlx {versions.mlx_version()} is not a catalogued release; "
            "install one (`pip install mlx==0.32.4`) or run `mlxbench releases refresh`"
        )
    return tag, tags[tag]


def bench_regex(ops: Sequence[Op], backends: Sequence[Backend]) -> str:
    """Every method (time, peak memory, device peak) of the selected ops on the selected backends."""
    return (
        rf"^ops\.({'|'.join(op.name for op in ops)})\.(time|peakmem|track_device_peak)_"
        rf"({'|'.join(b.name for b in backends)})(?:\(|$)"
    )  # ASV matches "name(param, ...)"


def run(preset: str, ops: Sequence[Op], backends: Sequence[Backend], machine_name: str | None, quick: bool) -> int:
    reasons = {b.name: b.unavailable() for b in backends}
    for name, reason in reasons.items():
        if reason:
            print(f"skipping {name}: {reason}", file=sys.stderr)
    runnable = [b for b in backends if reasons[b.name] is None]
    if not runnable:
        raise UsageError("none of the selected backends can run on this machine")
    runnable = verify.passing(ops, preset, runnable, lambda line: print(line, file=sys.stderr))
    if not runnable:
        print("nothing timed: every selected backend failed verification", file=sys.stderr)
        return 1
    conf = asv_conf()
    tags = sync_timeline(conf)
    tag, commit = commit_for_installed_mlx(tags)
    name = machine.register(machine_name)["machine"]
    print(
        f"benchmarking mlx {tag} (timeline commit {commit[:8]}), torch {versions.torch_version()}, "
        f"preset {preset!r} on {name!r}",
        file=sys.stderr,
    )
    cmd = (
        [
            str(Path(sys.executable).with_name("asv")),
            "run",
            "-E",
            f"existing:{sys.executable}",
            "--set-commit-hash",
            commit,
            "--machine",
            name,
            "-b",
            bench_regex(ops, runnable),
            "--show-stderr",
        ]
        + (["--quick"] if quick else [])
        + LAUNCH
    )
    env = {**os.environ, PRESET_ENV: preset}
    code = subprocess.call(cmd, cwd=ROOT, env=env)
    print(_summary(conf, tags, name, tag, ops, runnable, preset))
    return code


def _summary(
    conf: dict,
    tags: dict[str, str],
    machine_name: str,
    tag: str,
    ops: Sequence[Op],
    backends: Sequence[Backend],
    preset: str,
) -> str:
    """The average and detailed tables of what this run selected, at this release."""
    from mlxbench.report import render, results
    from mlxbench.report.tables import Report

    loaded = results.load(ROOT / conf["results_dir"], tags)
    report = Report(loaded, [machine_name], [b.name for b in backends], tag, ops=[op.name for op in ops], preset=preset)
    return render.render([report.average(machine_name, tag), report.detailed(machine_name, tag)], "markdown")
