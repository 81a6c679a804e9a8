"""Publishing leaves out what check-results rejects for its numbers, names it in one line, and publishes the rest.

The store's rule on a planted folder of bad numbers (0, negative, a string, 1e300) beside a recorded one, and
``asv publish`` and ``mlxbench publish`` run over them (the recorded fixture: seconds, not the committed history).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import planted
from asv_project import ASV

from mlxbench import review
from mlxbench.history import asv_project, asv_publish
from mlxbench.stack import releases, timeline
from mlxbench.store import publishable

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "results"


def results_with_planted(tmp_path: Path) -> Path:
    """A copy of the recorded fixture with a planted folder beside it."""
    results = tmp_path / "results"
    shutil.copytree(FIXTURE, results)
    planted.plant(results, results / "fixture-cpu")
    return results


def test_a_folder_of_bad_numbers_is_left_out_whole_with_its_first_problem(tmp_path):
    results = results_with_planted(tmp_path)
    folder = results / planted.NAME
    assert review.check([folder], results)  # check-results rejects it ...
    assert publishable.left_out(results) == {folder: publishable.left_out(results)[folder]}  # ... and only it is out
    why = publishable.left_out(results)[folder]
    assert "result 0 is not a positive finite number" in why and "(and 1 more file(s))" in why, why


def test_each_bad_number_alone_keeps_its_file_off_the_site(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(FIXTURE, results)
    (first, second) = sorted((results / "fixture-cpu").glob("*-*.json"))
    said = ["not a positive", "not a positive", "not a positive", "1e+300"]
    for bad, expected in zip(planted.BAD, said):
        doc = json.loads(first.read_text())
        name = next(n for n in sorted(doc["results"]) if ".time_" in n)
        doc["results"][name][0][0] = bad
        first.write_text(json.dumps(doc))
        out = publishable.left_out(results)
        assert list(out) == [first] and name in out[first] and expected in out[first], out  # the other file stays
        shutil.copyfile(FIXTURE / "fixture-cpu" / first.name, first)
    assert publishable.left_out(results) == {}
    assert publishable.file_problem(second) is None


def test_a_folder_whose_machine_json_is_unreadable_is_left_out(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(FIXTURE, results)
    (results / "fixture-cpu" / "machine.json").write_text("{")
    assert list(publishable.left_out(results)) == [results / "fixture-cpu"]


def test_publishing_reads_a_view_without_what_is_left_out_and_the_results_stay_as_they_are(tmp_path, capsys):
    results = results_with_planted(tmp_path)
    before = {p: p.read_bytes() for p in results.rglob("*") if p.is_file()}
    conf = SimpleNamespace(results_dir=str(results))
    with asv_publish.screened(conf) as skipped:
        view = Path(conf.results_dir)
        assert view != results and list(skipped) == [results / planted.NAME]
        assert sorted(p.name for p in view.iterdir()) == ["benchmarks.json", "fixture-cpu"]
        assert all(p.is_symlink() for p in (view / "fixture-cpu").iterdir())
    assert conf.results_dir == str(results) and not view.exists()
    assert {p: p.read_bytes() for p in results.rglob("*") if p.is_file()} == before
    conf = SimpleNamespace(results_dir=str(FIXTURE))
    with asv_publish.screened(conf) as skipped:  # nothing to leave out: ASV reads the results themselves
        assert skipped == {} and conf.results_dir == str(FIXTURE)


def _project(work: Path, results: Path) -> None:
    """``work``: a repository-like root (configuration, code, suite) on the fixture and the planted folder."""
    for name in ("mlxbench", "benchmarks"):
        shutil.copytree(ROOT / name, work / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(results, work / "results")
    (work / "asv.conf.json").write_text(json.dumps(asv_project.load_conf(ROOT / "asv.conf.json"), indent=1))
    timeline.sync(work / ".asv" / "timeline.git", releases.load())


def test_asv_publish_and_mlxbench_publish_leave_the_planted_folder_out_and_publish_the_rest(tmp_path):
    work = tmp_path / "root"
    _project(work, results_with_planted(tmp_path))
    env = {**os.environ, "HOME": str(tmp_path)}
    for command in ([ASV, "publish"], [sys.executable, "-m", "mlxbench", "publish"]):
        shutil.rmtree(work / "html", ignore_errors=True)
        proc = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=600)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out[-3000:]
        named = [line for line in out.splitlines() if "left out of the site" in line]
        assert len(named) == 1 and f"results/{planted.NAME}" in named[0] and "not a positive" in named[0], out
        machines = json.loads((work / "html" / "index.json").read_text())["machines"]
        assert list(machines) == ["fixture-cpu"], machines
        chips = work / "html" / "chips"
        assert (chips / "index.html").exists() and planted.NAME not in (chips / "index.html").read_text()
