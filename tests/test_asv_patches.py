"""ASV's patches go in only where they fit: the ASV version mlxbench requires, the parameters each wrapper names."""

from __future__ import annotations

import inspect
import re

import asv
import pytest
from asv import runner
from asv.commands import run as run_command

from mlxbench.history import asv_patches


def as_if_unpatched(monkeypatch: pytest.MonkeyPatch) -> None:
    """ASV's own functions back in place and nothing installed, as in a process that has not loaded the plugin."""
    asv_patches.install()  # once per process: ``_originals`` then holds ASV's own functions
    monkeypatch.setattr(runner, "get_spawner", asv_patches._originals["get_spawner"])
    monkeypatch.setattr(runner, "run_benchmark", asv_patches._originals["run_benchmark"])
    monkeypatch.setattr(run_command.Run, "run", classmethod(asv_patches._originals["run"]))
    monkeypatch.setattr(asv_patches, "_originals", {})


def patched() -> tuple[object, ...]:
    return runner.get_spawner, runner.run_benchmark, inspect.getattr_static(run_command.Run, "run")


def test_the_installed_asv_takes_what_every_wrapper_names():
    asv_patches.install()  # ``_originals``: ASV's own functions
    assert asv_patches.problems(asv.__version__, asv_patches.required_asv(), asv_patches._originals) == []
    assert str(asv_patches.required_asv()).startswith("==0.6.")  # pyproject.toml's pin, as installed


def test_another_asv_version_is_refused_and_nothing_is_patched(monkeypatch):
    as_if_unpatched(monkeypatch)
    before = patched()
    monkeypatch.setattr(asv, "__version__", "0.7.0")
    required = re.escape(str(asv_patches.required_asv()))
    with pytest.raises(
        asv_patches.UnsupportedAsv, match=rf"cannot patch asv 0\.7\.0: mlxbench requires asv{required}$"
    ):
        asv_patches.install()
    assert patched() == before and asv_patches._originals == {}


def test_a_patched_function_without_a_parameter_its_wrapper_names_is_refused(monkeypatch):
    def run_benchmark(benchmark, process, profile, selected_idx=None):  # ASV renamed spawner
        raise AssertionError("never called")

    as_if_unpatched(monkeypatch)
    monkeypatch.setattr(runner, "run_benchmark", run_benchmark)
    before = patched()
    with pytest.raises(
        asv_patches.UnsupportedAsv,
        match=rf"asv {re.escape(asv.__version__)}: asv\.runner\.run_benchmark\(.*\) has no parameter spawner$",
    ):
        asv_patches.install()
    assert patched() == before and asv_patches._originals == {}


def test_the_run_command_is_checked_for_every_parameter_its_wrapper_reads():
    def run(cls, conf, range_spec=None, bench=None, quick=False, env_spec=None, fast=False):  # dry_run renamed
        raise AssertionError("never called")

    asv_patches.install()  # ``_originals``: ASV's own functions
    (problem,) = asv_patches.problems(
        asv.__version__, asv_patches.required_asv(), {**asv_patches._originals, "run": run}
    )
    assert problem.startswith("asv.commands.run.Run.run(") and problem.endswith("has no parameter dry_run")


def test_a_moved_or_redefaulted_parameter_is_refused():
    def wrapper(a, b, *args, quick=False, **kwargs):
        raise AssertionError("never called")

    def fits(a, b, c=None, quick=False, d=1): ...
    def moved(b, a, quick=False): ...
    def redefaulted(a, b, quick=True): ...
    def positional_only(a, b, /, quick=False): ...

    assert asv_patches.signature_problem("f", fits, wrapper) is None
    assert asv_patches.signature_problem("f", moved, wrapper) == "f(b, a, quick=False) does not start with (a, b)"
    assert asv_patches.signature_problem("f", redefaulted, wrapper) == "f's quick defaults to True, not False"
    assert "does not take the wrapper's parameters" in asv_patches.signature_problem("f", positional_only, wrapper)
