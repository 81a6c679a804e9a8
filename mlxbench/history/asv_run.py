"""The main job: benchmark this machine at the installed MLX release with ASV.

Syncs the release timeline, names the machine, and runs ``asv run`` in the
current interpreter with ``--set-commit-hash`` pointing at the timeline
commit of the installed MLX release. The interpreter runs as ASV's
``installed`` environment (:mod:`mlxbench.history.asv_environment`), which
files the results under the same environment name ``asv run`` gives its
virtualenv, so both land in one series. Everything that would make that
dishonest (another torch than the matrix pins, an MLX that is not the
commit's, a results folder of another host) is refused here, before ASV
writes anything. Each preset runs under its own configuration
(:mod:`mlxbench.history.layout`). Only backends available here are asked
for: ASV would otherwise start a process just to report n/a. Each is
verified against float64 first, and one that fails is not timed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlxbench.catalog.spec import Op
from mlxbench.errors import UsageError
from mlxbench.harness import benchmark_names, verified, versions
from mlxbench.harness.asv_suite import PRESET_ENV
from mlxbench.harness.backends import Backend
from mlxbench.history import asv_environment, layout, lock, machine, quiet, renames
from mlxbench.stack import releases, timeline

ROOT = layout.ROOT
ASV = str(Path(sys.executable).with_name("asv"))
LAUNCH = ["--launch-method", "forkserver"] if sys.platform == "linux" else []
"""Linux: fork each benchmark from one process that already imported the frameworks
(about a second saved per benchmark). macOS keeps ``spawn``: Metal does not survive fork."""


def asv_conf(root: Path = ROOT) -> dict:
    """The repository's asv.conf.json (the default preset's configuration)."""
    return layout.load_conf(Path(root) / layout.CONFIG_NAME)


def sync_timeline(conf: dict, root: Path = ROOT) -> dict[str, str]:
    """Create or update the timeline repository asv.conf.json names; tag -> hash."""
    return timeline.sync(root / conf["repo"], releases.load())


def conf_path(conf: dict, conf_dir: Path, key: str) -> Path:
    """A path setting of an ASV configuration, resolved as ASV does (relative to the configuration's directory)."""
    return (Path(conf_dir) / conf[key]).resolve()


def commit_for_installed_mlx(tags: dict[str, str]) -> tuple[str, str]:
    tag = f"v{versions.mlx_version()}"
    if tag not in tags:
        raise UsageError(
            f"installed mlx {versions.mlx_version()} is not a catalogued release; "
            "install one (`pip install mlx==0.32.4`) or run `mlxbench releases refresh`"
        )
    return tag, tags[tag]


def runnable(backends: Sequence[Backend]) -> list[Backend]:
    """The selected backends this machine has; the others are named on stderr."""
    reasons = {b.name: b.unavailable() for b in backends}
    for name, reason in reasons.items():
        if reason:
            print(f"skipping {name}: {reason}", file=sys.stderr)
    found = [b for b in backends if reasons[b.name] is None]
    if not found:
        raise UsageError("none of the selected backends can run on this machine")
    return found


def machine_for(results_dir: Path, machine_name: str | None) -> dict[str, Any]:
    """This machine's ASV entry (``machine_name`` overrides its name), refused if the folder is another host's.

    The default preset's folder of that name is checked too: a name another host
    owns there must not start a folder under its name in another preset either.
    """
    info = machine.describe()
    if machine_name is not None:
        info["machine"] = machine.check_name(machine_name)
    for folder in dict.fromkeys([Path(results_dir), layout.results_dir("default")]):
        machine.check_owner(folder, info)
        if machine_name is None and not (folder / info["machine"]).exists():
            former = renames.rename(folder, info, machine.legacy_hosts(), dry_run=True).moved
            if former:
                raise UsageError(
                    f"this host's results are in {former[0][0]} under its former name; "
                    f"`mlxbench migrate --apply` renames them to {info['machine']!r}, then run again"
                )
    return info


@dataclass
class Plan:
    """One main-job run, decided and checked before ASV starts."""

    config: Path
    conf: dict[str, Any]
    backends: list[Backend]
    """The selected backends this machine has."""
    tags: dict[str, str]
    tag: str
    commit: str
    series: list[str]
    """The environment names the results are filed under (the ones ``asv run`` uses)."""
    machine: dict[str, Any]
    results_dir: Path
    command: list[str]
    env: dict[str, str]


def plan(
    preset: str,
    ops: Sequence[Op],
    backends: Sequence[Backend],
    machine_name: str | None = None,
    quick: bool = False,
    rerun: bool = False,
    config: Path | None = None,
    skip: Collection[tuple[str, str, str]] = (),
) -> Plan:
    """Everything the run needs, checked: raises UsageError before anything is written (``skip``: see selection_regex).

    ``config`` names another project's ASV configuration (the tests' throwaway
    ones); its timeline is used as it is. By default the preset's own
    configuration (:func:`mlxbench.history.layout.asv_config`) and the
    repository's timeline, synced first. A ``quick`` run writes under the
    trial configuration (:func:`mlxbench.history.layout.trial_config`), never
    into a history.
    """
    chosen = runnable(backends)
    if config is None:
        tags = sync_timeline(asv_conf())
        config = layout.asv_config(preset)
        root = layout.ROOT
    else:
        config = Path(config).resolve()
        root = config.parent
        tags = timeline.tags(conf_path(layout.load_conf(config), config.parent, "repo"))
    if quick:
        config = layout.trial_config(config, preset, root)
    conf = layout.load_conf(config)
    tag, commit = commit_for_installed_mlx(tags)
    found = asv_environment.commit_pins(str(conf_path(conf, config.parent, "repo")), commit)
    pins = found[1] if found else {}
    try:
        series = asv_environment.preflight(conf, sys.executable, pins)
    except ValueError as exc:
        raise UsageError(f"refusing to run: {exc}") from None
    results_dir = conf_path(conf, config.parent, "results_dir")
    info = machine_for(results_dir, machine_name)
    command = [
        ASV,
        "run",
        "--config",
        str(config),
        f"{commit}^!",  # ASV's loop commit, so --skip-existing-commits looks up this commit's results
        "-E",
        f"{asv_environment.TOOL_NAME}:{sys.executable}",
        "--set-commit-hash",
        commit,
        "--machine",
        info["machine"],
        "-b",
        benchmark_names.selection_regex(ops, chosen, skip=skip),
        "--show-stderr",
        "--record-samples",
        # A commit this machine already has is left exactly as it is (a committed results file stays byte-identical,
        # even where this run would add benchmarks it lacks, such as peak memory after a time-only history).
        *([] if rerun or quick else ["--skip-existing-commits"]),  # a trial run always measures
        *(["--quick"] if quick else []),
        *LAUNCH,
    ]
    env = {**os.environ, PRESET_ENV: preset}
    return Plan(config, conf, chosen, tags, tag, commit, series, info, results_dir, command, env)


@dataclass
class Ran:
    """What :func:`run` did: ASV's exit status and the plan it ran (its machine, release, series, results folder)."""

    code: int
    plan: Plan | None = None
    """None when nothing ran: every selected backend failed verification."""
    measured: bool = True
    """False when this machine already had this release (kept as it is, nothing verified or run)."""


def already_measured(p: Plan) -> bool:
    """Whether every series of the plan already has a result file at its commit: ASV would skip the commit."""
    folder = p.results_dir / p.machine["machine"]
    return all((folder / f"{p.commit[:8]}-{series}.json").is_file() for series in p.series)


def run(
    preset: str,
    ops: Sequence[Op],
    backends: Sequence[Backend],
    machine_name: str | None,
    quick: bool,
    rerun: bool = False,
    config: Path | None = None,
) -> Ran:
    """Verify, plan and run the main job; ASV's exit status and the plan, for the command to show what it measured.

    A release this machine already has is kept as it is, without verifying or running anything (``rerun``
    measures it again).
    """
    available = runnable(backends)
    first = None
    if not (rerun or quick):
        first = plan(preset, ops, available, machine_name, quick, rerun, config)
        if already_measured(first):
            return Ran(0, first, measured=False)
    outcome = verified.passing(ops, preset, available, lambda line: print(line, file=sys.stderr))
    if not outcome.backends:
        print("nothing timed: every selected backend failed verification", file=sys.stderr)
        return Ran(1)
    # the plan made above holds as it is unless verification dropped something
    p = (
        first
        if first is not None and outcome.backends == available and not outcome.failed
        else plan(preset, ops, outcome.backends, machine_name, quick, rerun, config, outcome.failed)
    )
    machine.save(p.machine)
    print(
        f"benchmarking mlx {p.tag} (timeline commit {p.commit[:8]}), torch {versions.torch_version()}, "
        f"preset {preset!r} on {p.machine['machine']!r}, series {', '.join(p.series)}, "
        f"results in {p.results_dir}"
        + (" (a trial: it measures everything)" if quick else "" if rerun else " (what is there is kept: --rerun)"),
        file=sys.stderr,
    )
    asv = quiet.AsvRun(p.command, lock.call, p.config.parent, p.env, p.commit, p.series[0])
    return Ran(quiet.run(asv, p.results_dir / p.machine["machine"]), p)


def ensure_benchmarks_json(preset: str, config: Path | None = None) -> Path:
    """The preset's ``benchmarks.json``, written by ASV's discovery when missing.

    ``asv publish`` and ``asv compare`` need it. It is not committed: ASV
    rewrites it from the suite's source at every run (it holds each method's
    code), so a committed copy would go stale with any edit of the suite and
    every fresh clone's first run would modify it.
    """
    config = Path(config) if config else layout.asv_config(preset)
    conf = layout.load_conf(config)
    results_dir = conf_path(conf, config.parent, "results_dir")
    path = results_dir / "benchmarks.json"
    if path.exists():
        return path
    info = machine_for(results_dir, None)
    machine.save(info)
    command = [
        ASV,
        "run",
        "--config",
        str(config),
        "-E",
        f"existing:{sys.executable}",
        "--bench",
        "just-discover",
        "--machine",
        info["machine"],
    ]
    if subprocess.call(command, cwd=config.parent, env={**os.environ, PRESET_ENV: preset}) != 0 or not path.exists():
        raise UsageError(f"ASV's discovery did not write {path}")
    return path
