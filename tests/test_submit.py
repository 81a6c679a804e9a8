"""Submitting results: samples thinned to a sketch, ASV's statistics and reading untouched."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from asv.results import Results

from mlxbench import noise
from mlxbench.errors import UsageError
from mlxbench.history import submit
from mlxbench.store import repeatability

FIXTURE = Path(__file__).parent / "fixtures" / "results" / "fixture-cpu"


def _with_samples(tmp_path: Path, n: int) -> Path:
    """The recorded fixture with ``n`` samples per variant, as `--record-samples` stores them."""
    folder = tmp_path / "results" / "m"
    shutil.copytree(FIXTURE, folder)
    path = next(p for p in sorted(folder.glob("*.json")) if p.name != "machine.json")
    doc = json.loads(path.read_text())
    columns = doc["result_columns"]
    at = columns.index("samples")
    rng = np.random.default_rng(0)
    for values in doc["results"].values():
        values += [None] * (len(columns) - len(values))
        medians = values[columns.index("result")] or []
        values[at] = [list(m * (1 + 0.05 * rng.standard_normal(n))) if m else None for m in medians]
    path.write_text(json.dumps(doc))
    return path


def test_thin_keeps_an_evenly_spaced_sketch_with_the_extremes():
    samples = list(np.random.default_rng(1).permutation(np.arange(1, 1001) / 1000))
    kept = submit.thin(samples, 101)
    assert len(kept) == 101 and kept == sorted(kept)
    assert kept[0] == 0.001 and kept[-1] == 1.0 and kept[50] == pytest.approx(0.5005, abs=0.001)
    assert submit.thin([3.0, 1.0], 200) == [1.0, 3.0]  # fewer than kept: all of them


def test_compact_thins_samples_and_leaves_asv_statistics_and_reading_intact(tmp_path):
    path = _with_samples(tmp_path, 1000)
    before = json.loads(path.read_text())
    total, kept = submit.compact(path, keep=50)
    after = json.loads(path.read_text())
    assert total > kept > 0
    columns = after["result_columns"]
    for name, values in after["results"].items():
        old = dict(zip(columns, before["results"][name]))
        new = dict(zip(columns, values))
        for column in columns:
            if column != "samples":
                assert new.get(column) == old.get(column), (name, column)  # ASV's numbers, untouched
        assert all(s is None or len(s) <= 50 for s in new["samples"])
    result = Results.load(str(path))  # ASV still reads it
    name = next(iter(result.get_all_result_keys()))
    assert result.get_result_samples(name, result.get_result_params(name))
    # the within-run test still tells a 30% slowdown from the same distribution
    a = [s for s in dict(zip(columns, after["results"][name]))["samples"] if s][0]
    assert not noise.is_different(
        noise.Stats(float(np.median(a)), samples=a), noise.Stats(float(np.median(a)), samples=a)
    )
    slower = [x * 1.3 for x in a]
    assert noise.is_different(
        noise.Stats(float(np.median(a)), samples=a), noise.Stats(np.median(slower), samples=slower)
    )


def test_submit_refuses_a_machine_without_results(tmp_path):
    with pytest.raises(UsageError, match="no results for 'nowhere'"):
        submit.run(tmp_path, "nowhere")


def test_submit_removes_files_that_measured_nothing(tmp_path, capsys):
    folder = tmp_path / "results" / "m"
    shutil.copytree(FIXTURE, folder)
    empty = folder / "1ad976d0-virtualenv-py3.11-numpy-packaging-torch2.13.0.json"
    doc = json.loads(next(p for p in sorted(folder.glob("*.json")) if p.name != "machine.json").read_text())
    doc["results"] = {name: [None] + values[1:] for name, values in doc["results"].items()}  # install failed: null
    empty.write_text(json.dumps(doc))
    assert submit.run(tmp_path / "results", "m") == 0
    assert not empty.exists() and "removed 1ad976d0" in capsys.readouterr().err
    assert len(list(folder.glob("*-virtualenv-*.json"))) == 2  # the measured ones stay


def test_submit_keeps_what_is_not_an_asv_result_file_and_refuses_to_keep_too_few_samples(tmp_path, capsys):
    """A legacy repeatability.json (a JSON file with no measurement) is the machine's data, not an empty result."""
    folder = tmp_path / "results" / "m"
    shutil.copytree(FIXTURE, folder)
    legacy = folder / repeatability.LEGACY_REPEATABILITY_FILE
    legacy.write_text(json.dumps({"within_10pct": 0.8, "p90_abs_change": 0.2}))
    load_file = folder / "load.jsonl"
    load_file.write_text('{"busy": false}\n')
    assert submit.run(tmp_path / "results", "m") == 0
    assert json.loads(legacy.read_text())["p90_abs_change"] == 0.2 and load_file.exists()
    assert "removed" not in capsys.readouterr().err
    for keep in (0, 1, submit.MIN_KEEP - 1):
        with pytest.raises(UsageError, match=f"keep at least {submit.MIN_KEEP} samples"):
            submit.run(tmp_path / "results", "m", keep)


def test_a_second_compact_leaves_the_file_byte_for_byte(tmp_path):
    """Results already thinned (the committed history) are not rewritten: submit shows git no change."""
    path = _with_samples(tmp_path, 1000)
    submit.compact(path, keep=50)
    pretty = json.dumps(json.loads(path.read_text()), indent=1)  # as a committed file may be laid out
    path.write_text(pretty)
    submit.compact(path, keep=50)
    assert path.read_text() == pretty


def _git(repo: Path, *args: str) -> None:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env={**os.environ, **env})


def test_submit_with_nothing_changed_prints_no_commit_that_would_fail(tmp_path, capsys):
    """A folder exactly as committed: submit says so instead of a `git commit` with nothing to commit."""
    _with_samples(tmp_path, 500)
    assert submit.run(tmp_path / "results", "m") == 0
    assert 'git add -f "' in capsys.readouterr().out  # not in a repository: the command to commit it
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-f", "results/m")
    _git(tmp_path, "commit", "-q", "-m", "Results: m")
    assert submit.run(tmp_path / "results", "m") == 0
    out, err = capsys.readouterr()
    assert out == "" and "nothing to commit" in err and "is as committed" in err
    (tmp_path / "results" / "m" / "load.jsonl").write_text("")  # something new: a commit to make
    assert submit.run(tmp_path / "results", "m") == 0
    assert capsys.readouterr().out.startswith('git add -f "')
