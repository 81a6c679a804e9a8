"""Each preset keeps its own results and site; the suite refuses a preset its configuration does not keep."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from mlxbench.history import layout, machine


@pytest.fixture
def root(tmp_path):
    """A copy of the repository's configuration in a directory of its own."""
    shutil.copy(layout.ROOT / "asv.conf.json", tmp_path / "asv.conf.json")
    return tmp_path


def test_the_repository_configuration_keeps_the_default_preset_and_loads_the_plugin():
    conf = layout.load_conf(layout.asv_config("default"))
    assert conf[layout.PRESET_KEY] == "default"
    assert layout.PLUGIN in conf["plugins"]
    assert layout.results_dir("default") == layout.ROOT / "results"
    assert layout.html_dir("default") == layout.ROOT / "html"


def test_another_preset_gets_a_generated_configuration_with_its_own_results_and_site(root):
    path = layout.asv_config("tiny", root)
    assert path == root / ".asv" / "presets" / "tiny" / "asv.conf.json"
    conf = layout.load_conf(path)
    base = layout.load_conf(root / "asv.conf.json")
    assert conf[layout.PRESET_KEY] == "tiny"
    assert layout.results_dir("tiny", root) == path.parent / conf["results_dir"] != layout.results_dir("default", root)
    assert layout.html_dir("tiny", root) == path.parent / conf["html_dir"] != layout.html_dir("default", root)
    # the same timeline, environments, suite and install step as the repository's, wherever ASV runs it from
    assert conf["repo"] == str((root / base["repo"]).resolve())
    assert conf["env_dir"] == str((root / base["env_dir"]).resolve())
    assert conf["benchmark_dir"] == str((root / base["benchmark_dir"]).resolve())
    assert conf["install_command"] == [c.replace("{conf_dir}", str(root.resolve())) for c in base["install_command"]]
    assert conf["matrix"] == base["matrix"] and conf["plugins"] == base["plugins"]
    written = path.stat().st_mtime_ns
    layout.asv_config("tiny", root)
    assert path.stat().st_mtime_ns == written  # regenerated only when the base changes


@pytest.mark.parametrize("preset", ["default", "tiny"])
def test_timeline_mode_has_a_configuration_without_torch_writing_to_the_presets_own_results(root, preset):
    path = layout.timeline_config(preset, root)
    assert path == layout.timeline_dir(preset, root) / layout.CONFIG_NAME
    assert path.parent == root / ".asv" / "timeline-mode" / preset
    conf, pinned = layout.load_conf(path), layout.load_conf(layout.asv_config(preset, root))
    assert "torch" in pinned["matrix"]["req"] and "torch" not in conf["matrix"]["req"]
    assert conf[layout.PRESET_KEY] == preset  # the suite runs this preset under it, and refuses any other
    assert Path(conf["results_dir"]) == layout.results_dir(preset, root).resolve()  # beside the pinned series
    assert Path(conf["html_dir"]) == layout.html_dir(preset, root).resolve()
    assert conf["repo"] == str((root / ".asv" / "timeline.git").resolve())  # the same timeline and environments
    assert conf["env_dir"] == str((root / ".asv" / "env").resolve())


@pytest.mark.parametrize("preset", ["default", "tiny"])
def test_a_trial_run_writes_outside_every_history(root, preset):
    """--quick: one sample per benchmark, a check of the set-up: its own results and site, the same environments."""
    for base, mode in ((layout.asv_config(preset, root), "pinned"), (layout.timeline_config(preset, root), "timeline")):
        path = layout.trial_config(base, preset, root)
        assert path.parent == root / ".asv" / "trial" / preset / ("pinned" if mode == "pinned" else "timeline-mode")
        conf, history = layout.load_conf(path), layout.load_conf(base)
        results = path.parent / conf["results_dir"]
        assert results != layout.results_dir(preset, root) and (root / "results") not in results.parents
        assert results.resolve() != Path(base.parent / history["results_dir"]).resolve()
        assert conf["env_dir"] == str((root / ".asv" / "env").resolve()) and conf["matrix"] == history["matrix"]
        assert conf[layout.PRESET_KEY] == preset


def test_the_suite_refuses_a_preset_its_configuration_does_not_keep(root):
    tiny = layout.asv_config("tiny", root).parent
    layout.check_preset("tiny", {})  # not under ASV (or ASV's `existing` environment): nothing to check
    layout.check_preset("default", {"ASV_CONF_DIR": str(root)})
    layout.check_preset("tiny", {"ASV_CONF_DIR": str(tiny)})
    with pytest.raises(ValueError, match="keeps the 'default' preset's results.*mlxbench bench --preset tiny"):
        layout.check_preset("tiny", {"ASV_CONF_DIR": str(root)})
    with pytest.raises(ValueError, match="keeps the 'tiny' preset's results"):
        layout.check_preset("default", {"ASV_CONF_DIR": str(tiny)})


def test_a_project_that_names_no_preset_runs_any(tmp_path):
    (tmp_path / "asv.conf.json").write_text(json.dumps({"repo": "x", "results_dir": "results"}))
    layout.check_preset("seed", {"ASV_CONF_DIR": str(tmp_path)})


@pytest.mark.skipif(not (layout.ROOT / ".git").exists(), reason="needs the repository's git checkout")
def test_what_a_local_run_writes_is_ignored_and_the_committed_results_are_not_its(monkeypatch):
    """A fresh clone's `make bench` leaves `git status results/` clean: it writes only ignored, untracked files."""
    monkeypatch.setenv(machine.HOST_ID_ENV, "a-fresh-clone-somewhere")
    name = machine.describe()["machine"]

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=layout.ROOT, capture_output=True, text=True)

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
