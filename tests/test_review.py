"""mlxbench check-results: each planted bad folder fails on its rule, and the committed results pass."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from mlxbench import review
from mlxbench.catalog import CATALOG
from mlxbench.cli import main
from mlxbench.harness.asv_suite import benchmark_version
from mlxbench.history import asv_project
from mlxbench.report.plots import slug
from mlxbench.store import files

NAME = "Lab Mac (M4) a1b2c3"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
ENV = "virtualenv-py3.11-numpy-packaging-torch2.13.0-MLXBENCH_TORCH_THREADS1"
COLUMNS = ["result", "params", "version", "started_at", "samples"]


def good_folder(results_dir: Path, name: str = NAME) -> Path:
    """One host's thinned, current measurement of ReLU on two backends."""
    folder = results_dir / name
    folder.mkdir(parents=True)
    info = {"machine": name, "host": "a1b2c3", "config": "Lab Mac (M4)", "version": 1}
    (folder / "machine.json").write_text(json.dumps(info))
    op = CATALOG["ReLU"]
    variants = [repr(v.id) for v in op.variants("default")[:2]]

    def entry(backend: str) -> list:
        return [[1e-4, 2e-4], [variants], benchmark_version(op, backend), 1_790_000_000_000, [[1e-4] * 30, [2e-4] * 30]]

    doc = {
        "commit_hash": COMMIT,
        "env_name": ENV,
        "params": {"machine": name, "host": "a1b2c3", "torch": "2.13.0"},
        "result_columns": COLUMNS,
        "results": {"ops.ReLU.time_mlx_cpu": entry("mlx_cpu"), "ops.ReLU.time_torch_cpu": entry("torch_cpu")},
    }
    (folder / f"{COMMIT[:8]}-{ENV}.json").write_text(json.dumps(doc))
    return folder


def edit_result(folder: Path, change: Callable[[dict], None]) -> None:
    (path,) = files.result_files(folder)
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def relu(doc: dict) -> list:
    return doc["results"]["ops.ReLU.time_mlx_cpu"]


def rename(folder: Path, new: str) -> Path:
    target = folder.with_name(new)
    folder.rename(target)
    return target


PLANTED: dict[str, tuple[Callable[[Path], Path], str]] = {
    "a name that is no name": (lambda f: rename(f, "lab$mac"), "cannot be a machine name"),
    "machine.json of another machine": (
        lambda f: (f / "machine.json").write_text(json.dumps({"machine": "other", "host": "a1b2c3"})) and f,
        "names the machine 'other'",
    ),
    "no host id": (lambda f: (f / "machine.json").write_text(json.dumps({"machine": NAME})) and f, "no host id"),
    "another host's file": (
        lambda f: edit_result(f, lambda d: d["params"].update(host="ffffff")) or f,
        "measured on host 'ffffff'",
    ),
    "not ASV's schema": (lambda f: edit_result(f, lambda d: d.pop("commit_hash")) or f, "not an ASV result file"),
    "truncated": (lambda f: files.result_files(f)[0].write_text('{"commit_hash": ') and f, "not JSON"),
    "a zero median": (lambda f: edit_result(f, lambda d: relu(d)[0].__setitem__(0, 0.0)) or f, "not positive"),
    "an implausible median": (lambda f: edit_result(f, lambda d: relu(d)[0].__setitem__(0, 1e4)) or f, "outside"),
    "a quick run": (lambda f: edit_result(f, lambda d: relu(d).__setitem__(4, [[1e-4], [2e-4]])) or f, "trial"),
    "not thinned": (lambda f: edit_result(f, lambda d: relu(d)[4].__setitem__(0, [1e-4] * 500)) or f, "not thinned"),
    "an old benchmark version": (lambda f: edit_result(f, lambda d: relu(d).__setitem__(2, "old")) or f, "version"),
    "a stray json file": (lambda f: (f / "notes.json").write_text("{}") and f, "not an ASV result file"),
    "a truncated file set aside": (
        lambda f: (f / f"fedcba98-{ENV}.json.unreadable").write_text("{") and f,
        "leftover of an interrupted write",
    ),
    "a temporary file": (lambda f: (f / ".load.jsonl.123.tmp").write_text("") is not None and f, "leftover"),
    "no results at all": (lambda f: files.result_files(f)[0].unlink() or f, "no ASV result files"),
}


def test_a_good_folder_passes(tmp_path):
    assert review.check([good_folder(tmp_path)], tmp_path) == []


@pytest.mark.parametrize("rule", sorted(PLANTED))
def test_each_planted_problem_fails_on_its_rule(tmp_path, rule):
    plant, says = PLANTED[rule]
    folder = plant(good_folder(tmp_path))
    problems = review.check([folder], tmp_path)
    assert problems and any(says in line for line in problems), problems


def test_a_name_that_takes_another_machines_page_fails(tmp_path):
    good_folder(tmp_path, "Lab Mac")
    squatter = good_folder(tmp_path, slug("Lab Mac"))
    problems = review.check([squatter], tmp_path)
    assert any("its page would be 'Lab Mac'" in line for line in problems)


def test_the_command_prints_one_line_per_problem_and_exits_1(tmp_path, capsys):
    folder = PLANTED["a zero median"][0](good_folder(tmp_path))
    assert main(["check-results", str(folder), "--results", str(tmp_path)]) == 1
    out = capsys.readouterr()
    assert len(out.out.splitlines()) == 1 and "not positive" in out.out and "1 problem(s)" in out.err
    assert main(["check-results", "--results", str(tmp_path / "none")]) == 0  # no folders, nothing wrong


def test_the_committed_results_pass(capsys):
    assert main(["check-results"]) == 0, capsys.readouterr().out
    assert files.machine_dirs(asv_project.repository().results_dir)  # there is something to check


def test_a_results_directory_named_as_a_folder_checks_its_machine_folders(tmp_path, capsys):
    """`check-results results` checks what `check-results` checks, not the directory as one bogus machine."""
    bad = PLANTED["a zero median"][0](good_folder(tmp_path))
    good_folder(tmp_path, "Lab Mac (M4) d4e5f6")
    assert main(["check-results", str(bad)]) == 1
    alone = capsys.readouterr().out
    assert main(["check-results", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert out == alone and "not positive" in out
    assert "check-results: 2 folder(s)" in err


def test_an_unthinned_folder_is_told_the_submit_of_its_own_preset(tmp_path, monkeypatch, capsys):
    (tmp_path / "asv.conf.json").write_text(json.dumps({"mlxbench_preset": "default", "results_dir": "results"}))
    monkeypatch.setattr(
        asv_project, "repository", lambda preset="default", **_: asv_project.AsvProject(tmp_path, preset)
    )
    tiny = asv_project.AsvProject(tmp_path, "tiny").results_dir
    folder = PLANTED["not thinned"][0](good_folder(tiny))
    problems = review.check([folder], tiny)
    assert any(f"not thinned (run `mlxbench submit --preset tiny --machine '{NAME}'`)" in p for p in problems)
    default = PLANTED["not thinned"][0](good_folder(tmp_path / "results"))
    problems = review.check([default], tmp_path / "results")
    assert any(f"not thinned (run `mlxbench submit --machine '{NAME}'`)" in p for p in problems)
