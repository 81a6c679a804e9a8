"""A plain ``asv run`` keeps what ``mlxbench check-results`` accepts: samples thinned, each result's load recorded.

The keeping step on a result file as ASV writes it (every sample of a recorded run) and the load records its
benchmark processes write; the real ``asv run`` is in test_history_e2e.py.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from types import SimpleNamespace

from mlxbench.harness import load
from mlxbench.history import asv_command, asv_plain_run, submit
from mlxbench.store import loads

COMMIT = "0123456789abcdef0123456789abcdef01234567"
ENV = "virtualenv-py3.11-numpy-packaging"
NAME = "ops.ReLU.time_mlx_cpu"


def asv_wrote(folder: Path, samples: int = 1000) -> Path:
    """A result file as a recorded ASV run leaves it: one benchmark, two variants, every sample."""
    folder.mkdir(parents=True, exist_ok=True)
    doc = {
        "commit_hash": COMMIT,
        "env_name": ENV,
        "params": {"machine": folder.name},
        "result_columns": ["result", "params", "version", "samples"],
        "results": {NAME: [[1e-4, 2e-4], [["'a'", "'b'"]], "v", [[1e-4] * samples, [2e-4] * samples]]},
    }
    path = folder / f"{COMMIT[:8]}-{ENV}.json"
    path.write_text(json.dumps(doc))
    return path


def record(variant: str, commit: str | None = COMMIT, busy: bool = False) -> load.Record:
    return load.Record(NAME, variant, commit, ENV if commit else None, 0.5 if busy else 0.0, 0.0, 0.3, busy)


def test_what_a_run_wrote_is_thinned_and_its_load_recorded(tmp_path):
    path = asv_wrote(tmp_path / "results" / "m")
    lines = asv_plain_run.keep([path], [record("a"), record("b", busy=True), record("a", commit="f" * 40)])
    doc = json.loads(path.read_text())
    assert [len(s) for s in doc["results"][NAME][3]] == [submit.KEEP_SAMPLES] * 2
    stored = loads.stored(path.parent)
    assert set(stored) == {(COMMIT, ENV, NAME, "a"), (COMMIT, ENV, NAME, "b")}  # another commit's record: not its
    assert loads.busy(path.parent) == {(COMMIT, ENV, NAME, "b")}
    assert len(lines) == 1 and "the load of 2 result(s)" in lines[0]
    assert "1 sampled while the machine was busy" in lines[0]


def test_a_record_without_its_commit_belongs_to_the_only_file_written(tmp_path):
    path = asv_wrote(tmp_path / "results" / "m")
    asv_plain_run.keep([path], [record("a", commit=None)])
    assert set(loads.stored(path.parent)) == {(COMMIT, ENV, NAME, "a")}


def test_only_files_written_since_the_start_are_kept(tmp_path):
    results = tmp_path / "results"
    before_run = asv_wrote(results / "m")
    stamps = asv_plain_run.stamps(results)
    assert asv_plain_run.written(results, stamps) == []
    os.utime(before_run, ns=(0, 0))
    assert asv_plain_run.written(results, stamps) == [before_run]


def test_a_plain_run_gets_a_folder_for_its_records_and_keeps_them_at_the_end(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(load.LOAD_DIR_ENV, "")
    monkeypatch.delenv(load.LOAD_DIR_ENV)  # restored (unset) after the test, though record() sets it
    at_exit = []
    monkeypatch.setattr(asv_plain_run.atexit, "register", lambda f, *a: at_exit.append((f, a)))
    conf = SimpleNamespace(results_dir="results")
    assert asv_plain_run.record(asv_command.AsvCommand("show", argparse.Namespace(), conf, None)) is None
    directory = asv_plain_run.record(asv_command.AsvCommand("run", argparse.Namespace(), conf, None))
    assert directory is not None and os.environ[load.LOAD_DIR_ENV] == str(directory)
    path = asv_wrote(tmp_path / "results" / "m")  # what ASV writes while it runs
    (directory / "1.json").write_text(json.dumps(record("a").__dict__))
    ((finish, args),) = at_exit
    finish(*args)
    assert len(json.loads(path.read_text())["results"][NAME][3][0]) == submit.KEEP_SAMPLES
    assert set(loads.stored(path.parent)) == {(COMMIT, ENV, NAME, "a")} and not directory.exists()


def test_a_run_an_mlxbench_job_drives_is_left_to_it(tmp_path, monkeypatch):
    monkeypatch.setenv(load.LOAD_DIR_ENV, str(tmp_path))
    conf = SimpleNamespace(results_dir="results")
    assert asv_plain_run.record(asv_command.AsvCommand("run", argparse.Namespace(), conf, None)) is None
