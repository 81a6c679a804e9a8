"""The ``installed`` ASV environment: one series with ``asv run``'s virtualenv, and its refusals."""

from __future__ import annotations

import os
import subprocess
import sys

import asv_project
import pytest
from asv import environment, util
from asv.config import Config

from mlxbench.history import asv_environment
from mlxbench.history.asv_environment import InstalledEnvironment
from mlxbench.history.asv_project import repository

MATRIX = {"req": {"torch": ["2.13.0"], "numpy": [""], "packaging": [""]}}


def _conf(tmp_path, matrix=MATRIX, repo=".") -> Config:
    return Config.from_json(
        {
            "version": 1,
            "project": "mlxbench",
            "repo": repo,
            "branches": ["main"],
            "environment_type": "virtualenv",
            "matrix": matrix,
            "env_dir": str(tmp_path / "env"),
            "results_dir": str(tmp_path / "results"),
        }
    )


def test_installed_takes_the_name_python_and_requirements_of_the_virtualenv_series(tmp_path, monkeypatch):
    """What ASV files results under: file name, env_name, python and params all come from these three."""
    monkeypatch.setattr(sys, "argv", ["asv", "run"])
    installed_torch = asv_environment.installed_versions(sys.executable, ["torch"])["torch"]
    conf = _conf(tmp_path, {"req": {**MATRIX["req"], "torch": [installed_torch.split("+")[0]]}})
    (virtualenv,) = environment.get_environments(conf, None)  # what plain `asv run` uses, not created here
    (installed,) = environment.get_environments(conf, [f"installed:{sys.executable}"])
    assert type(virtualenv).__name__ == "Virtualenv" and isinstance(installed, InstalledEnvironment)
    py, torch = f"{sys.version_info[0]}.{sys.version_info[1]}", installed_torch.split("+")[0]
    assert installed.name == virtualenv.name == f"virtualenv-py{py}-numpy-packaging-torch{torch}"
    assert installed.python == virtualenv.python == py
    assert installed.requirements == virtualenv.requirements
    installed.install_project(conf, None, None)  # installs nothing: it measures the interpreter as it is


def test_a_torch_other_than_the_pinned_one_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["asv", "run"])
    conf = _conf(tmp_path, {"req": {**MATRIX["req"], "torch": ["2.0.1"]}})
    with pytest.raises(environment.EnvironmentUnavailable, match=r"the series pins torch==2\.0\.1"):
        InstalledEnvironment(conf, sys.executable, {"torch": "2.0.1", "numpy": ""}, {})
    # through ASV: a warning naming the problem, and no environment to run in
    assert list(environment.get_environments(conf, [f"installed:{sys.executable}"], verbose=False)) == []


def test_requirements_are_checked_as_pip_would_install_them():
    installed = {"torch": "2.13.0+cpu", "numpy": "2.4.6", "packaging": None}
    assert asv_environment.requirement_problems({"torch": "2.13.0", "numpy": ""}, installed) == []
    assert asv_environment.requirement_problems({"numpy": ">=2,<3"}, installed) == []
    assert asv_environment.requirement_problems({"torch": "2.12.0", "packaging": ""}, installed) == [
        "packaging is not installed; the series has packaging",
        "torch 2.13.0+cpu is installed; the series pins torch==2.12.0",
    ]


def test_the_commit_named_by_set_commit_hash_must_pin_the_installed_mlx(tmp_path, monkeypatch):
    repo = tmp_path / "timeline.git"
    subprocess.run(["git", "init", "-q", "--bare", str(repo)], check=True)
    blob = subprocess.run(
        ["git", "-C", str(repo), "hash-object", "-w", "--stdin"], input="0.0.1\n", capture_output=True, text=True
    ).stdout.strip()
    tree = subprocess.run(
        ["git", "-C", str(repo), "mktree"], input=f"100644 blob {blob}\tMLX_VERSION\n", capture_output=True, text=True
    ).stdout.strip()
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t"}
    env["GIT_COMMITTER_EMAIL"] = "t@t"
    commit = subprocess.run(
        ["git", "-C", str(repo), "commit-tree", tree, "-m", "mlx 0.0.1"], capture_output=True, text=True, env=env
    ).stdout.strip()
    assert asv_environment.commit_pins(str(repo), commit) == (commit, {"mlx": "0.0.1"})
    assert asv_environment.commit_pins(str(repo), "v9.9.9") is None

    conf = _conf(tmp_path, {"req": {"numpy": [""]}}, repo=str(repo))
    monkeypatch.setattr(sys, "argv", ["asv", "run", "-E", "installed:python", "--set-commit-hash", commit[:10]])
    with pytest.raises(util.UserError, match=r"the commit pins mlx 0\.0\.1, the interpreter has"):
        InstalledEnvironment(conf, sys.executable, {"numpy": ""}, {})
    monkeypatch.setattr(sys, "argv", ["asv", "run", "-E", "installed:python"])  # no commit named: nothing filed
    env = InstalledEnvironment(conf, sys.executable, {"numpy": ""}, {})
    with pytest.raises(util.UserError, match=r"the commit pins mlx 0\.0\.1"):  # the commit of ASV's range
        env.install_project(conf, None, commit)


def test_set_commit_hash_is_read_from_asvs_arguments():
    assert asv_environment.set_commit_hash_argument(["asv", "run", "--set-commit-hash", "abc"]) == "abc"
    assert asv_environment.set_commit_hash_argument(["asv", "run", "--set-commit-hash=v0.31.1"]) == "v0.31.1"
    assert asv_environment.set_commit_hash_argument(["asv", "run", "-E", "installed:python"]) is None


def test_a_torch_the_matrix_pins_is_the_matrix_s_to_check_not_the_commit_s():
    installed = {"mlx": "0.32.4", "torch": "2.13.0+cpu"}
    pins = {"mlx": "0.32.4", "torch": "2.9.0"}
    assert asv_environment.commit_problems(pins, installed, {"torch": "2.13.0"}) == []  # pinned mode
    assert asv_environment.commit_problems(pins, installed, {}) == [  # timeline mode: the commit's torch
        "the commit pins torch 2.9.0, the interpreter has 2.13.0+cpu"
    ]


def test_the_main_job_checks_before_asv_runs(tmp_path):
    conf = dict(repository().conf)
    installed = asv_environment.installed_versions(sys.executable, ["mlx", "torch"])
    conf["matrix"] = {"req": {"torch": [installed["torch"].split("+")[0]], "numpy": [""], "packaging": [""]}}
    project = asv_project.configured(tmp_path, "default", **conf)  # the repository's, on the installed torch
    (series,) = asv_environment.preflight(project, sys.executable, {"mlx": installed["mlx"]})
    assert series.startswith("virtualenv-py3.") and series.endswith(f"torch{installed['torch'].split('+')[0]}")
    with pytest.raises(ValueError, match=r"the commit pins mlx 0\.0\.1"):
        asv_environment.preflight(project, sys.executable, {"mlx": "0.0.1"})
    conf["matrix"]["req"]["torch"] = ["2.0.1"]
    (tmp_path / "older").mkdir()
    older = asv_project.configured(tmp_path / "older", "default", **conf)
    with pytest.raises(ValueError, match=r"the series pins torch==2\.0\.1"):
        asv_environment.preflight(older, sys.executable, {"mlx": installed["mlx"]})
