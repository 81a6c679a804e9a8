"""The Makefile as a new user meets it: `make help` lists what exists, every target does something, TORCH= counts.

Everything runs as ``make -n`` (print, run nothing) against a stand-in environment under tmp_path.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAKEFILE = (ROOT / "Makefile").read_text()
DEFAULT_TORCH = re.search(r"^TORCH \?= (.+)$", MAKEFILE, re.M).group(1)


def make(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), *args], capture_output=True, text=True)


@pytest.fixture
def venv(tmp_path) -> Path:
    """An environment set up with the default torch, after the Makefile and pyproject.toml last changed."""
    path = tmp_path / "venv"
    path.mkdir()
    (path / ".torch").write_text(DEFAULT_TORCH + "\n")
    (path / ".installed").touch()
    return path


def phony() -> list[str]:
    return re.search(r"^\.PHONY:(.*)$", MAKEFILE, re.M).group(1).split()


def test_help_lists_every_documented_target_and_each_has_a_rule(venv):
    done = make("-s", "help")
    assert done.returncode == 0, done.stderr
    listed = re.findall(r"^  make (\S+)\s+\S", done.stdout, re.M)
    assert listed == re.findall(r"^## ([a-z]+): ", MAKEFILE, re.M)
    assert {"bench", "test", "verify", "clean", "help"} <= set(listed)
    assert set(listed) == set(phony()) - {"FORCE"}  # every target a user may type, and only those
    assert make(f"VENV={venv}").stdout == make(f"VENV={venv}", "help").stdout  # a bare make says what there is


def test_every_phony_target_does_something(venv):
    """A target declared .PHONY without a rule is one `make` accepts and does nothing for, exit 0 (`make verify`)."""
    for target in [t for t in phony() if t != "FORCE"]:
        done = make("-n", f"VENV={venv}", target)
        assert done.returncode == 0 and done.stdout.strip(), (target, done.stderr)
        assert "Nothing to be done" not in done.stdout + done.stderr, target


def test_make_verify_runs_mlxbench_verify(venv):
    assert f"{venv}/bin/mlxbench verify --preset tiny" in make("-n", f"VENV={venv}", "verify", "PRESET=tiny").stdout


def test_torch_is_honoured_once_the_environment_exists(venv):
    assert "pip install" not in make("-n", f"VENV={venv}", "test").stdout  # set up already: nothing to install
    other = make("-n", f"VENV={venv}", "test", "TORCH=torch==2.12.0").stdout
    assert "pip install --quiet torch==2.12.0" in other and f"(it had {DEFAULT_TORCH})" in other
    (venv / ".torch").unlink()  # an environment set up before the Makefile kept its torch
    assert "pip install" not in make("-n", f"VENV={venv}", "test").stdout
    assert "pip install --quiet torch==2.12.0" in make("-n", f"VENV={venv}", "test", "TORCH=torch==2.12.0").stdout
