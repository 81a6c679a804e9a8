"""A plain `asv run` of this configuration: forkserver where safe, no process for an absent backend, the mode's
newest release for a bare run."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from asv import runner, util
from asv.commands import make_argparser
from asv.commands import run as run_command
from asv.plugin_manager import plugin_manager

from mlxbench.harness.backends import BACKENDS
from mlxbench.history import asv_launch, asv_patches
from mlxbench.history.asv_project import repository
from mlxbench.stack import releases, timeline

ROOT = Path(__file__).resolve().parent.parent


class ProbingEnv:
    """An ASV environment whose ``run`` executes in this interpreter, counting the processes it starts."""

    env_vars: dict[str, str] = {}

    def __init__(self) -> None:
        self.processes: list[list[str]] = []

    def run(self, args: list[str], **kwargs: object) -> str:
        self.processes.append(args)
        proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=kwargs.get("cwd"))
        return proc.stdout


def benchmark(name: str) -> dict:
    return {"name": name, "params": [["'a'", "'b'"], ["'x'"]]}


def test_the_plugin_patches_asv_once():
    plugin_manager.import_plugin(".mlxbench.history.asv_environment")  # as ASV loads the plugin asv.conf.json names
    assert runner.get_spawner is asv_patches._get_spawner and runner.run_benchmark is asv_patches._run_benchmark
    assert run_command.Run.run.__func__ is asv_patches._run
    asv_patches.install()  # a second load changes nothing
    assert asv_patches._originals["run_benchmark"] is not asv_patches._run_benchmark


def test_linux_forks_each_benchmark_from_one_import_unless_told_otherwise(monkeypatch):
    monkeypatch.setattr(asv_launch.sys, "platform", "linux")
    assert asv_launch.default_launch_method(None) == asv_launch.default_launch_method("auto") == "forkserver"
    assert asv_launch.default_launch_method("spawn") == "spawn"  # --launch-method or the configuration wins
    monkeypatch.setattr(asv_launch.sys, "platform", "darwin")
    assert asv_launch.default_launch_method("auto") == "auto"  # Metal does not survive fork


def test_absent_backends_cost_no_benchmark_process(monkeypatch):
    """One probe process per environment and commit; a benchmark of a backend it lacks runs in none."""
    env = ProbingEnv()
    spawner = SimpleNamespace(env=env, benchmark_dir=str(ROOT / "benchmarks"))
    ran: list[str] = []
    monkeypatch.setitem(asv_patches._originals, "run_benchmark", lambda b, *a, **k: ran.append(b["name"]) or "ran")
    absent = {name for name, b in BACKENDS.items() if b.unavailable()}
    present = set(BACKENDS) - absent
    assert absent and present  # this machine lacks some backend (a GPU) and has others
    for name in BACKENDS:
        result = asv_patches._run_benchmark(benchmark(f"ops.ReLU.time_{name}"), spawner, False)
        if name in absent:
            assert all(math.isnan(v) for v in result.result) and len(result.result) == 2
            assert result.errcode == 0 and result.stderr.startswith("n/a: ")
    assert set(ran) == {f"ops.ReLU.time_{name}" for name in present}
    assert len(env.processes) == 1  # the probe, once for the spawner: no process per absent benchmark


def test_an_unreadable_probe_runs_every_benchmark(monkeypatch):
    env = SimpleNamespace(env_vars={}, run=lambda *a, **k: "Traceback: something broke")
    spawner = SimpleNamespace(env=env, benchmark_dir=str(ROOT / "benchmarks"))
    monkeypatch.setitem(asv_patches._originals, "run_benchmark", lambda *a, **k: "ran")
    assert asv_patches._run_benchmark(benchmark("ops.ReLU.time_torch_cuda"), spawner, False) == "ran"


@pytest.fixture(scope="module")
def tags() -> dict[str, str]:
    return repository().tags


def test_a_bare_asv_run_in_pinned_mode_measures_the_newest_mlx_release(tags):
    conf = SimpleNamespace(matrix={"req": {"torch": ["2.13.0"]}}, repo=str(repository().repo))
    newest = f"v{releases.load('mlx')[-1].version}"
    assert list(tags)[-1] != newest  # the timeline's head is a torch release
    assert asv_launch.mode_commits(conf, None) == [tags[newest]]
    every = asv_launch.mode_commits(conf, "ALL")
    assert every == [h for t, h in tags.items() if t.startswith("v")] and every[-1] == tags[newest]
    assert asv_launch.mode_commits(conf, "v0.31.1^!") == "v0.31.1^!"  # a range is ASV's own


def test_timeline_mode_keeps_asvs_head(tags):
    conf = SimpleNamespace(matrix={"req": {"numpy": [""]}}, repo=str(repository().repo))
    assert asv_launch.mode_commits(conf, None) is None and asv_launch.mode_commits(conf, "ALL") == "ALL"


def test_the_configuration_loads_the_plugin_that_installs_this():
    assert ".mlxbench.history.asv_environment" in repository().conf["plugins"]


def test_a_run_in_an_existing_environment_keeps_asvs_own_range(monkeypatch, tags):
    """ASV refuses a range with -E existing (and --python=same): a bare run there stays bare."""
    seen: list[object] = []
    monkeypatch.setitem(asv_patches._originals, "run", lambda cls, conf, range_spec, *a, **k: seen.append(range_spec))
    conf = SimpleNamespace(matrix={"req": {"torch": ["2.13.0"]}}, repo=str(repository().repo))
    asv_patches._run(run_command.Run, conf, None, env_spec=["existing:/usr/bin/python3"])
    asv_patches._run(run_command.Run, conf, None, env_spec=["virtualenv"])
    asv_patches._run(run_command.Run, conf, None)
    newest = tags[f"v{releases.load('mlx')[-1].version}"]
    assert seen == [None, [newest], [newest]]


def test_python_same_is_an_existing_environment_too():
    """ASV spells ``--python=same`` as the environment ``:same``: a bare run there keeps ASV's own range too."""
    parser, _ = make_argparser()
    assert asv_launch.existing_only(parser.parse_args(["run", "--python=same"]).env_spec)
    assert asv_launch.existing_only(["existing"]) and asv_launch.existing_only(["existing:/usr/bin/python3"])
    assert not asv_launch.existing_only(parser.parse_args(["run", "--python=3.11"]).env_spec)
    assert not asv_launch.existing_only([":same", "virtualenv"]) and not asv_launch.existing_only(None)


def test_the_run_wrapper_reads_quick_and_dry_run_by_their_names(tmp_path, monkeypatch):
    """``asv run --quick`` reaches the refusal through the patched ``Run.run``, as ASV passes it (by keyword)."""
    monkeypatch.setitem(asv_patches._originals, "run", lambda cls, conf, range_spec, *a, **k: "ran")
    history = SimpleNamespace(mlxbench_preset="default", results_dir=str(tmp_path / "results"))
    with pytest.raises(util.UserError, match="mlxbench bench --quick"):
        asv_patches._run(run_command.Run, history, "HEAD^!", quick=True, env_spec=None)
    assert asv_patches._run(run_command.Run, history, "HEAD^!", quick=True, dry_run=True) == "ran"


def test_a_quick_asv_run_never_writes_a_history(tmp_path):
    """One sample per benchmark is a check of the set-up: refused where histories are kept, fine elsewhere."""
    history = SimpleNamespace(mlxbench_preset="default", results_dir=str(tmp_path / "results"))
    with pytest.raises(util.UserError, match="mlxbench bench --quick"):
        asv_launch.refuse_a_quick_history(history, quick=True, dry_run=False)
    asv_launch.refuse_a_quick_history(history, quick=True, dry_run=True)  # saves nothing
    asv_launch.refuse_a_quick_history(history, quick=False, dry_run=False)
    trial = SimpleNamespace(mlxbench_preset="tiny", results_dir=str(tmp_path / ".asv" / "trial" / "tiny" / "results"))
    asv_launch.refuse_a_quick_history(trial, quick=True, dry_run=False)
    other = SimpleNamespace(results_dir=str(tmp_path / "results"))  # a project that is not this repository's
    asv_launch.refuse_a_quick_history(other, quick=True, dry_run=False)


def test_asv_run_of_another_preset_is_refused_in_every_environment_type(monkeypatch, tmp_path):
    """``-E existing`` tells the suite no configuration directory, so the check happens before ASV starts."""
    monkeypatch.setitem(asv_patches._originals, "run", lambda cls, conf, range_spec, *a, **k: "ran")
    default = SimpleNamespace(mlxbench_preset="default", results_dir=str(tmp_path / "results"))
    for env_spec in (["existing:/usr/bin/python3"], ["virtualenv"], None):
        with pytest.raises(util.UserError, match=r"MLXBENCH_PRESET='tiny'.*keeps the 'default' preset's results"):
            asv_launch.refuse_another_preset(default, {"MLXBENCH_PRESET": "tiny"})
        monkeypatch.setenv("MLXBENCH_PRESET", "tiny")
        with pytest.raises(util.UserError, match="mlxbench bench --preset tiny"):
            asv_patches._run(run_command.Run, default, "HEAD^!", env_spec=env_spec)
        monkeypatch.delenv("MLXBENCH_PRESET")
    asv_launch.refuse_another_preset(default, {})  # unset is the default preset
    asv_launch.refuse_another_preset(SimpleNamespace(), {"MLXBENCH_PRESET": "tiny"})  # a project naming no preset
    tiny = SimpleNamespace(mlxbench_preset="tiny", results_dir=str(tmp_path / ".asv" / "presets" / "tiny"))
    asv_launch.refuse_another_preset(tiny, {"MLXBENCH_PRESET": "tiny"})


def test_a_range_git_cannot_read_is_one_line_not_a_traceback(tags):
    """``asv run v9.9.9`` failed inside ASV's git call with a traceback; now ASV's UserError names the tags."""
    conf = SimpleNamespace(matrix={"req": {"torch": ["2.13.0"]}}, repo=str(repository().repo))
    for bad in ("v9.9.9", "v0.2.0..v9.9.9", "v9.9.9^!", "'v0.2.0"):
        with pytest.raises(util.UserError, match="git finds no commits") as refused:
            asv_launch.refuse_an_unknown_range(conf, bad)
        mlx = [t for t in tags if t.startswith("v")]
        assert f"from {mlx[0]} to {mlx[-1]}" in str(refused.value) and "Traceback" not in str(refused.value)
    for fine in ("v0.31.1^!", "v0.30.0..v0.31.1", "v0.2.0", "ALL", "NEW", "HASHFILE:x", [tags["v0.2.0"]], None):
        asv_launch.refuse_an_unknown_range(conf, fine)
    assert timeline.revisions(repository().repo, "v0.30.0..v0.31.1")[0] == tags["v0.31.1"]
