"""Each preset keeps its own results and site; the suite refuses a preset its configuration does not keep."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from mlxbench.history import asv_project, machine
from mlxbench.history.asv_project import PLUGIN, PRESET_KEY, ROOT, AsvProject, check_preset, load_conf


@pytest.fixture
def root(tmp_path):
    """A copy of the repository's configuration in a directory of its own."""
    shutil.copy(ROOT / "asv.conf.json", tmp_path / "asv.conf.json")
    return tmp_path


def test_the_repository_configuration_keeps_the_default_preset_and_loads_the_plugin():
    project = asv_project.repository("default")
    conf = load_conf(project.config)
    assert conf[PRESET_KEY] == "default"
    assert PLUGIN in conf["plugins"]
    assert project.results_dir == ROOT / "results"
    assert project.html_dir == ROOT / "html"


def test_another_preset_gets_a_generated_configuration_with_its_own_results_and_site(root):
    tiny, default = AsvProject(root, "tiny"), AsvProject(root, "default")
    path = tiny.config
    assert path == root / ".asv" / "presets" / "tiny" / "asv.conf.json"
    conf = load_conf(path)
    base = load_conf(root / "asv.conf.json")
    assert conf[PRESET_KEY] == "tiny"
    assert tiny.results_dir == path.parent / conf["results_dir"] != default.results_dir
    assert tiny.html_dir == path.parent / conf["html_dir"] != default.html_dir
    # the same timeline, environments, suite and install step as the repository's, wherever ASV runs it from
    assert conf["repo"] == str((root / base["repo"]).resolve())
    assert conf["env_dir"] == str((root / base["env_dir"]).resolve())
    assert conf["benchmark_dir"] == str((root / base["benchmark_dir"]).resolve())
    assert conf["install_command"] == [c.replace("{conf_dir}", str(root.resolve())) for c in base["install_command"]]
    assert conf["matrix"] == base["matrix"] and conf["plugins"] == base["plugins"]
    written = path.stat().st_mtime_ns
    assert AsvProject(root, "tiny").config == path
    assert path.stat().st_mtime_ns == written  # regenerated only when the base changes


@pytest.mark.parametrize("preset", ["default", "tiny"])
@pytest.mark.parametrize("timeline", [False, True])
def test_publish_leaves_judging_changes_to_mlxbench(root, preset, timeline):
    from asv.config import Config
    from asv.plugins.regressions import _GraphDataFilter

    project = AsvProject(root, preset, timeline=timeline)
    conf = Config.load(str(project.config))
    graph = type("Graph", (), {"params": {"branch": "main"}})()
    judged = _GraphDataFilter(conf, None, {"a1b2c3": 0, "d4e5f6": 1})  # what ASV's Regressions output runs
    for name in ("ops.ReLU.time_mlx_cpu(16x128x1024)", "ops.Softmax.peakmem_torch_cpu", "anything"):
        assert judged._get_start_revision(graph, {}, name) is None, f"asv publish would judge {name}"


@pytest.mark.parametrize("preset", ["default", "tiny"])
def test_timeline_mode_has_a_configuration_without_torch_writing_to_the_presets_own_results(root, preset):
    history = AsvProject(root, preset)
    path = AsvProject(root, preset, timeline=True).config
    assert path == root / ".asv" / "timeline-mode" / preset / "asv.conf.json"
    assert path.parent == root / ".asv" / "timeline-mode" / preset
    conf, pinned = load_conf(path), load_conf(history.config)
    assert "torch" in pinned["matrix"]["req"] and "torch" not in conf["matrix"]["req"]
    assert conf[PRESET_KEY] == preset  # the suite runs this preset under it, and refuses any other
    assert Path(conf["results_dir"]) == history.results_dir.resolve()  # beside the pinned series
    assert Path(conf["html_dir"]) == history.html_dir.resolve()
    assert conf["repo"] == str((root / ".asv" / "timeline.git").resolve())  # the same timeline and environments
    assert conf["env_dir"] == str((root / ".asv" / "env").resolve())


@pytest.mark.parametrize("preset", ["default", "tiny"])
def test_a_trial_run_writes_outside_every_history(root, preset):
    """--quick: one sample per benchmark, a check of the set-up: its own results and site, the same environments."""
    for mode in ("pinned", "timeline"):
        history = AsvProject(root, preset, timeline=mode == "timeline")
        base, path = history.config, replace(history, trial=True).config
        assert path.parent == root / ".asv" / "trial" / preset / ("pinned" if mode == "pinned" else "timeline-mode")
        conf, history_conf = load_conf(path), load_conf(base)
        results = path.parent / conf["results_dir"]
        assert results != AsvProject(root, preset).results_dir and (root / "results") not in results.parents
        assert results.resolve() != Path(base.parent / history_conf["results_dir"]).resolve()
        assert conf["env_dir"] == str((root / ".asv" / "env").resolve()) and conf["matrix"] == history_conf["matrix"]
        assert conf[PRESET_KEY] == preset


def test_the_suite_refuses_a_preset_its_configuration_does_not_keep(root):
    tiny = AsvProject(root, "tiny").config.parent
    check_preset("tiny", {})  # not under ASV (or ASV's `existing` environment): nothing to check
    check_preset("default", {"ASV_CONF_DIR": str(root)})
    check_preset("tiny", {"ASV_CONF_DIR": str(tiny)})
    with pytest.raises(ValueError, match="keeps the 'default' preset's results.*mlxbench bench --preset tiny"):
        check_preset("tiny", {"ASV_CONF_DIR": str(root)})
    with pytest.raises(ValueError, match="keeps the 'tiny' preset's results"):
        check_preset("default", {"ASV_CONF_DIR": str(tiny)})


def test_a_project_that_names_no_preset_runs_any(tmp_path):
    (tmp_path / "asv.conf.json").write_text(json.dumps({"repo": "x", "results_dir": "results"}))
    check_preset("seed", {"ASV_CONF_DIR": str(tmp_path)})


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs the repository's git checkout")
def test_what_a_local_run_writes_is_ignored_and_the_committed_results_are_not_its(monkeypatch):
    """A fresh clone's `make bench` leaves `git status results/` clean: it writes only ignored, untracked files."""
    monkeypatch.setenv(machine.HOST_ID_ENV, "a-fresh-clone-somewhere")
    name = machine.describe()["machine"]

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)

    tracked = git("ls-files", "results").stdout.splitlines()
    assert "results/benchmarks.json" not in tracked  # ASV rewrites it at every run: never committed
    assert not any(path.startswith(f"results/{name}/") for path in tracked)
    written = [
        "results/benchmarks.json",
        f"results/{name}/machine.json",
        f"results/{name}/3b8bf837-virtualenv-py3.11-numpy-packaging-torch2.13.0.json",
        f"results/{name}/repeatability.jsonl",
        ".asv/presets/tiny/results/benchmarks.json",
        ".asv/compare/default/v0.31.1..v0.32.4/a/results/benchmarks.json",
    ]
    assert git("check-ignore", "--no-index", *written).stdout.splitlines() == written


def test_a_project_derives_its_paths_and_writes_its_configuration_only_when_asked(root):
    trial = AsvProject(root, "tiny", trial=True)
    assert trial.results_dir == root / ".asv" / "trial" / "tiny" / "pinned" / "results"
    assert trial.repo == (root / ".asv" / "timeline.git").resolve()
    assert not (root / ".asv").exists()  # paths and settings are known before anything is written
    assert trial.config == root / ".asv" / "trial" / "tiny" / "pinned" / "asv.conf.json"
    assert (root / ".asv" / "presets" / "tiny" / "asv.conf.json").exists()  # the configuration it derives from


def test_a_project_knows_its_mode_the_torch_it_pins_and_its_series(root):
    pinned, twin = AsvProject(root, "tiny"), AsvProject(root, "tiny", timeline=True)
    assert pinned.mode == asv_project.PINNED and pinned.pinned_torch == ["2.13.0"] and "torch" in pinned.requirements
    assert twin.mode == asv_project.TIMELINE and twin.pinned_torch == [] and "torch" not in twin.requirements
    assert pinned.series_names and all("torch2.13.0" in name for name in pinned.series_names)
    assert twin.series_names and not any("torch" in name for name in twin.series_names)
