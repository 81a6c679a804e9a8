"""Shared fixtures: the backends this machine can verify on, the suite as ASV discovers it, the tests' own lock."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from mlxbench.harness import asv_suite
from mlxbench.harness.backends import BACKENDS

CPU_BACKENDS = ("mlx_cpu", "mlx_cpu_compile", "torch_cpu")


@pytest.fixture(scope="session")
def cpu_backends():
    """The three backends every supported machine has; missing ones are a setup error here."""
    missing = {n: BACKENDS[n].unavailable() for n in CPU_BACKENDS if BACKENDS[n].unavailable()}
    assert not missing, f"test environment lacks CPU backends: {missing}"
    return [BACKENDS[n] for n in CPU_BACKENDS]


@pytest.fixture(autouse=True, scope="session")
def _own_measurement_lock(tmp_path_factory):
    """The tests' ASV runs take a lock of their own, never the machine's (a real measurement may hold that one),
    and wait at most a few seconds for a quiet machine."""
    from mlxbench.history import lock

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(lock.PATH_ENV, str(tmp_path_factory.mktemp("lock") / "measure.lock"))
        mp.setenv("MLXBENCH_QUIET_WAIT", "5")  # seconds, not a history's 120 s
        mp.delenv(lock.HELD_ENV, raising=False)
        yield


@pytest.fixture
def benchmarks(monkeypatch):
    """ASV's own discovery of the suite (tiny preset), fresh, with its per-process caches emptied."""
    from asv_runner.discovery import disc_benchmarks

    monkeypatch.setenv("MLXBENCH_PRESET", "tiny")
    for name in [m for m in sys.modules if m == "benchmarks" or m.startswith("benchmarks.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(asv_suite, "_plans", {})
    monkeypatch.setattr(asv_suite, "_loads", {})
    return {b.name: b for b in disc_benchmarks(f"{Path(__file__).resolve().parent.parent}/benchmarks")}


@pytest.fixture
def results_copy(tmp_path) -> Path:
    """A copy of the report fixture's results folder, to plant into."""
    from report_fixture import FIXTURE

    return Path(shutil.copytree(FIXTURE, tmp_path / "results"))
