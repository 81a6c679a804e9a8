"""tools/host_noise.py: what a history would read, drawn from a host's sampling windows."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

TOOL = Path(__file__).resolve().parent.parent / "tools" / "host_noise.py"


@pytest.fixture(scope="module")
def host_noise():
    spec = importlib.util.spec_from_file_location("host_noise", TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules["host_noise"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    del sys.modules["host_noise"]


def test_a_steady_host_reads_the_same_at_every_commit(host_noise) -> None:
    windows = [[1e-3, 1.01e-3, 0.99e-3]] * 40
    assert np.all(host_noise.history_draws(windows, commits=28, rounds=2, draws=50) == 1.0)


def test_a_host_in_two_states_moves_the_commits_apart(host_noise) -> None:
    """Half the windows at twice the time: one round per commit reads both states across 28 commits."""
    windows = [[1.0, 1.0]] * 50 + [[2.0, 2.0]] * 50
    spread = host_noise.history_draws(windows, commits=28, rounds=1, draws=200)
    assert np.median(spread) == 2.0
    pooled = host_noise.history_draws(windows, commits=28, rounds=3, draws=200)
    assert np.median(pooled) == 2.0  # a median of three windows still lands in either state


def test_the_draws_are_repeatable(host_noise) -> None:
    rng = np.random.default_rng(1)
    windows = [list(rng.uniform(1.0, 1.5, 5)) for _ in range(30)]
    first = host_noise.history_draws(windows, commits=10, rounds=2, draws=20)
    assert np.array_equal(first, host_noise.history_draws(windows, commits=10, rounds=2, draws=20))


def test_an_unknown_variant_names_the_ones_there_are(host_noise) -> None:
    with pytest.raises(SystemExit, match="ReLU has no variant '1x1'.*16x128x1024"):
        host_noise.prepare("ReLU:1x1", "torch_cpu", "default")
