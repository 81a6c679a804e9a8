"""ASV's install step: the pair a commit pins, pinned mode, and a framework with no wheel here.

pip and the catalogs are faked: nothing is downloaded (a torch wheel from the
index is a multi-GB CUDA build on Linux x86-64; CI must never fetch one).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from asv.environment import get_env_name
from packaging import tags as ptags

from mlxbench.catalog import CATALOG
from mlxbench.harness import asv_suite, versions
from mlxbench.harness.backends import BACKENDS
from mlxbench.history import asv_install
from mlxbench.history.asv_project import repository
from mlxbench.stack import releases
from mlxbench.stack.releases import Release

HERE = str(next(iter(ptags.sys_tags())))  # a wheel tag this interpreter installs
ELSEWHERE = "cp27-cp27m-win32"  # one it never does
PINNED_ENV = "virtualenv-py3.11-numpy-packaging-torch2.13.0"
TIMELINE_ENV = "virtualenv-py3.11-numpy-packaging"


class FakeEnv:
    """The ASV environment: installed distributions and the pip commands run in it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, installed: dict[str, str], pip_exit: int = 0) -> None:
        # the counted benchmarks' hooks are there unless a test says otherwise
        self.installed = {"pytest-codspeed": asv_install.COUNTING_HOOKS.split("==")[1], **installed}
        self.pip_calls, self.pip_exit = [], pip_exit
        catalog = {
            "mlx": [Release("0.0.2", "2023-12-05T00:18:33Z", (ELSEWHERE,)), Release("0.31.1", "", (HERE,))],
            "torch": [
                Release("2.1.0", "2023-10-04T16:37:27Z", (ELSEWHERE,), "torch"),
                Release("2.13.0", "", (HERE,), "torch"),
                Release("2.14.1", "", (HERE,), "torch"),
            ],
        }
        monkeypatch.setattr(releases, "load", lambda framework="mlx", path=None: catalog[framework])
        monkeypatch.setattr(asv_install, "_pip", self.pip)
        monkeypatch.setattr(asv_install, "_installed", self.installed.get)

    def pip(self, args: list[str]) -> int:
        self.pip_calls.append(list(args))
        if self.pip_exit == 0 and args[0] == "uninstall":
            self.installed.pop(args[-1], None)
        return self.pip_exit


def _build(tmp_path: Path, mlx: str, torch: str) -> Path:
    build = tmp_path / "build"
    build.mkdir(exist_ok=True)
    (build / "MLX_VERSION").write_text(f"{mlx}\n")
    (build / "TORCH_VERSION").write_text(f"{torch}\n")
    return build


def _install(tmp_path: Path, env_name: str | None, mlx: str, torch: str, **environ: str) -> int:
    environ = {**({"ASV_ENV_NAME": env_name} if env_name else {}), **environ}
    (tmp_path / "prefix").mkdir(exist_ok=True)
    return asv_install.main(str(_build(tmp_path, mlx, torch)), prefix=tmp_path / "prefix", environ=environ)


def _marker(tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "prefix" / versions.INSTALL_MARKER
    return json.loads(path.read_text()) if path.exists() else {}


def test_a_missing_torch_wheel_still_installs_mlx_and_says_why(tmp_path, monkeypatch, capsys):
    env = FakeEnv(monkeypatch, {"torch": "2.13.0"})  # an earlier commit's torch, still in the environment
    assert _install(tmp_path, TIMELINE_ENV, "0.31.1", "2.1.0") == 0
    assert env.pip_calls == [["install", "mlx[cpu]==0.31.1" if sys.platform == "linux" else "mlx==0.31.1"]] + [
        ["uninstall", "-y", "torch"]
    ]
    assert "torch" not in env.installed  # never measured as torch 2.1.0
    assert _marker(tmp_path) == {"torch": "torch 2.1.0 has no wheel here"}
    assert "torch backends report n/a: torch 2.1.0 has no wheel here" in capsys.readouterr().out


def test_the_marker_turns_torch_backends_into_na_with_the_reason(tmp_path, monkeypatch):
    FakeEnv(monkeypatch, {})
    assert _install(tmp_path, TIMELINE_ENV, "0.31.1", "2.1.0") == 0
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "prefix"))
    assert BACKENDS["torch_cpu"].unavailable() == "torch 2.1.0 has no wheel here"
    assert versions.missing_by_install("mlx") is None
    op = CATALOG["ReLU"]
    variant = op.variants("tiny")[0].id
    with pytest.raises(NotImplementedError, match="torch 2.1.0 has no wheel here"):  # ASV: n/a, not a failure
        asv_suite.prepare(op, variant, "torch_cpu", "tiny")


def test_a_missing_mlx_wheel_still_installs_torch(tmp_path, monkeypatch):
    env = FakeEnv(monkeypatch, {})
    assert _install(tmp_path, TIMELINE_ENV, "0.0.2", "2.13.0") == 0
    assert env.pip_calls == [["install", "torch==2.13.0"]]
    assert _marker(tmp_path) == {"mlx": "mlx 0.0.2 has no wheel here"}


def test_nothing_installable_fails_the_commit(tmp_path, monkeypatch, capsys):
    FakeEnv(monkeypatch, {})
    assert _install(tmp_path, TIMELINE_ENV, "0.0.2", "2.1.0") == 1
    err = capsys.readouterr().err
    assert "mlx 0.0.2 has no wheel for this Python and platform; skipped" in err
    assert "nothing to benchmark at this commit" in err


def test_torch_index_and_the_never_switch(tmp_path, monkeypatch):
    env = FakeEnv(monkeypatch, {})
    index = "https://download.pytorch.org/whl/cpu"
    assert _install(tmp_path, TIMELINE_ENV, "0.31.1", "2.14.1", MLXBENCH_TORCH_INDEX=index) == 0
    assert env.pip_calls[-1] == ["install", "torch==2.14.1", "--extra-index-url", index]
    assert _marker(tmp_path) == {}
    env.pip_calls.clear()
    assert _install(tmp_path, TIMELINE_ENV, "0.31.1", "2.14.1", MLXBENCH_TORCH_INSTALL="never") == 0
    assert not any("torch" in " ".join(call) and call[0] == "install" for call in env.pip_calls)
    assert _marker(tmp_path) == {"torch": "torch not installed (MLXBENCH_TORCH_INSTALL=never)"}


def test_pinned_mode_installs_only_mlx_and_checks_the_environments_torch(tmp_path, monkeypatch, capsys):
    env = FakeEnv(monkeypatch, {"torch": "2.13.0+cpu"})
    assert _install(tmp_path, PINNED_ENV, "0.31.1", "2.14.1") == 0  # the commit's 2.14.1 is not this series'
    assert [call[0] for call in env.pip_calls] == ["install"] and "mlx" in env.pip_calls[0][1]
    assert env.installed["torch"] == "2.13.0+cpu" and _marker(tmp_path) == {}

    FakeEnv(monkeypatch, {"torch": "2.12.1"})
    assert _install(tmp_path, PINNED_ENV, "0.31.1", "2.14.1") == 1
    assert "pins torch 2.13.0 but has 2.12.1" in capsys.readouterr().err

    FakeEnv(monkeypatch, {"torch": "2.13.0"})
    assert _install(tmp_path, PINNED_ENV, "0.0.2", "2.13.0") == 1  # no MLX: nothing this series lacks
    assert _install(tmp_path, PINNED_ENV, "none", "2.1.0") == 1  # a torch commit before MLX's first release


def test_pip_failures_fail_the_commit_so_a_rerun_retries(tmp_path, monkeypatch):
    FakeEnv(monkeypatch, {}, pip_exit=2)
    assert _install(tmp_path, TIMELINE_ENV, "0.31.1", "2.13.0") == 2


def test_uncatalogued_releases_are_named(tmp_path, monkeypatch, capsys):
    FakeEnv(monkeypatch, {})
    assert _install(tmp_path, TIMELINE_ENV, "0.31.1", "9.9.9") == 1
    assert "torch 9.9.9 is not in the release catalog" in capsys.readouterr().err


def test_outside_asv_torch_is_left_alone(tmp_path, monkeypatch):
    """Run by hand (tools, an older build dir with only MLX_VERSION): only MLX is installed."""
    env = FakeEnv(monkeypatch, {"torch": "2.13.0+cpu"})
    build = tmp_path / "old-build"
    build.mkdir()
    (build / "MLX_VERSION").write_text("0.31.1\n")
    assert asv_install.main(str(build), prefix=tmp_path, environ={}) == 0
    assert len(env.pip_calls) == 1 and "mlx" in env.pip_calls[0][1]


@pytest.mark.parametrize(
    "name, torch",
    [
        (PINNED_ENV, "2.13.0"),
        ("virtualenv-py3.11-numpy-packaging-torch", ""),
        ("installed-py3.11-torch2.12.1", "2.12.1"),
        (TIMELINE_ENV, None),
        ("virtualenv-py3.11-numpy-torchvision0.29.1", None),
        ("virtualenv-py3.11-numpy-MLXBENCH_TORCH_INSTALLnever", None),
        (None, ""),
    ],
)
def test_the_environment_name_says_whether_torch_is_pinned(name, torch):
    assert asv_install.torch_in_env_name(name) == torch


def test_pinned_and_timeline_environment_names_never_coincide():
    """The repository's configuration is pinned; its timeline-mode twin's names carry no torch."""
    pinned_project, timeline_project = repository(), repository(timeline=True)
    assert pinned_project.pinned_torch == ["2.13.0"]

    def names(conf: dict) -> set[str]:
        req = conf["matrix"]["req"]
        return {
            get_env_name(tool, "3.11", {k: v[0] for k, v in req.items()}, {}) for tool in ("virtualenv", "installed")
        }

    pinned, free = names(pinned_project.conf), names(timeline_project.conf)
    assert "virtualenv-py3.11-numpy-packaging-torch2.13.0" in pinned
    assert not pinned & free
    assert all(asv_install.torch_in_env_name(n) == "2.13.0" for n in pinned)
    assert all(asv_install.torch_in_env_name(n) is None for n in free)


@pytest.mark.skipif(sys.platform != "linux", reason="valgrind's hooks are installed on Linux only")
def test_an_environment_without_the_counting_hooks_gets_the_pinned_ones(tmp_path, monkeypatch):
    env = FakeEnv(monkeypatch, {"pytest-codspeed": "4.0.0"})
    assert _install(tmp_path, TIMELINE_ENV, "0.31.1", "2.14.1") == 0
    assert env.pip_calls[-1] == ["install", "pytest-codspeed==5.0.4"]
    pyproject = (Path(asv_install.__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert f"\"{asv_install.COUNTING_HOOKS}; platform_system == 'Linux'\"" in pyproject
