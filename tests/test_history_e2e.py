"""A chip's history end to end, with real ASV runs in throwaway projects (tiny preset, ReLU on mlx_cpu only).

- the main job (``installed``) and ``asv run`` (virtualenv) fill one series: ``asv compare`` lists each once;
- two hosts are two machines, and a run on one never touches the other's files;
- the main job keeps what this machine already measured unless asked to measure again, and measures what the
  release lacks (a bench of one op leaves the rest to the next bench);
- a tiny/default alternation leaves the other preset's results and published graphs exactly as they were;
- ``mlxbench compare`` measures two releases in interleaved rounds outside the history; a narrowed ``vA vA`` keeps
  its repeatability apart from the machine's noise floor;
- ``mlxbench history`` runs its commits with ``asv run HASHFILE:`` in ASV's virtualenv and keeps what is there,
  in rounds interleaved across its commits, with each result's load recorded;
- two plain ``asv run`` started together take turns (the machine's lock) and keep both results.

The matrix is numpy-only (no torch is ever installed into a virtualenv here), as in test_asv_suite.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asv_project
import pytest

from mlxbench import review
from mlxbench.catalog import CATALOG
from mlxbench.commands import bench as bench_command
from mlxbench.commands import compare as compare_command
from mlxbench.commands import history as history_command
from mlxbench.errors import UsageError
from mlxbench.harness import benchmark_names, counting, versions
from mlxbench.harness.backends import BACKENDS
from mlxbench.history import asv_environment, asv_run, compare, history_run, machine, main_job
from mlxbench.history.asv_project import AsvProject, derived_config, repository
from mlxbench.selection import Selection
from mlxbench.store import loads, repeatability

pytestmark = pytest.mark.e2e

MATRIX = {"numpy": [""], "packaging": [""]}
OPS = [CATALOG["ReLU"]]
BACKEND = [BACKENDS["mlx_cpu"]]
INSTALLED = versions.mlx_version()  # the main job measures the MLX installed here
OLDER = "0.31.1" if INSTALLED != "0.31.1" else "0.32.4"
TAG, OLDER_TAG = f"v{INSTALLED}", f"v{OLDER}"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Iterator[tuple[Path, asv_project.Asv]]:
    """A throwaway ASV project whose timeline has an older release and the installed one; HOME is its own."""
    work = tmp_path_factory.mktemp("history")
    asv = asv_project.make(work, [OLDER, INSTALLED], MATRIX)
    _later_commit(work / "timeline.git")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(work))  # ~/.asv-machine.json of this project only
        mp.setenv("MLXBENCH_TORCH_INSTALL", "never")
        mp.setenv(machine.HOST_ID_ENV, "host-a")
        yield work, asv


def _later_commit(repo: Path) -> None:
    """A commit after the installed release's, as torch commits follow it on the real timeline.

    ASV looks up already-measured results by the commits of its loop: the main
    job must make that its own commit, not the branch head.
    """

    def git(*args: str) -> str:
        env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t"}
        env["GIT_COMMITTER_EMAIL"] = "t@t"
        return subprocess.run(
            ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
        ).stdout

    head = git("rev-parse", "main").strip()
    later = git("commit-tree", f"{head}^{{tree}}", "-p", head, "-m", "a later commit").strip()
    git("update-ref", "refs/heads/main", later)


def run_main_job(project: AsvProject, rerun: bool = False) -> None:
    """The main job as `make bench` runs it (a --quick run writes elsewhere: it is a trial, never history)."""
    assert main_job.run(main_job.plan(project, Selection(OPS, BACKEND), rerun=rerun)).code == 0


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``directory``: its bytes and modification time."""
    return {
        str(p.relative_to(directory)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in directory.rglob("*")
        if p.is_file()
    }


def test_the_main_job_and_asv_run_fill_one_series(project):
    work, asv = project
    run_main_job(AsvProject(work, "tiny"))  # the installed release, in this interpreter
    name = machine.describe()["machine"]
    asv(
        "run",
        f"{OLDER_TAG}^!",
        "--machine",
        name,
        "--quick",
        "--record-samples",
        "-b",
        benchmark_names.selection_regex(OPS, BACKEND),
    )
    files = sorted((work / "results" / name).glob("*-*.json"))
    series = {f.name.split("-", 1)[1] for f in files}
    py = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert len(files) == 2 and series == {f"{asv_environment.SERIES_TOOL}-py{py}-numpy-packaging.json"}, files
    readings = [json.loads(line) for line in (work / "results" / name / loads.LOAD_FILE).read_text().splitlines()]
    tags = {f.name.split("-", 1)[0] for f in files}
    assert {d["commit"][:8] for d in readings} <= tags and {d["env"] for d in readings} == {s[:-5] for s in series}
    assert {d["benchmark"] for d in readings} == {"ops.ReLU.time_mlx_cpu"}  # the main job's results record their load
    for f in files:
        doc = json.loads(f.read_text())
        assert doc["python"] == py and doc["requirements"] == {"numpy": "", "packaging": ""}
    out = asv("compare", OLDER_TAG, TAG, "--machine", name).stdout
    rows = [line for line in out.splitlines() if "ops.ReLU.time_mlx_cpu(" in line]
    variants = [v.id for v in CATALOG["ReLU"].variants("tiny")]
    assert len(rows) == len(variants), out  # once per benchmark and variant, not once per series
    assert all(len(re.findall(r"\d+(?:\.\d+)?[μm]?s", row)) >= 2 for row in rows), rows  # both releases measured


def test_two_hosts_are_two_machines_and_never_touch_each_others_files(project, monkeypatch):
    work, _ = project
    first = machine.describe()["machine"]
    if not (work / "results" / first).exists():
        run_main_job(AsvProject(work, "tiny"))
    before = snapshot(work / "results" / first)
    run_main_job(AsvProject(work, "tiny"))  # again on host a: what it has is kept (--skip-existing-commits)
    again = snapshot(work / "results" / first)
    assert again["machine.json"][0] == before["machine.json"][0]  # ASV rewrites its own machine's entry, same bytes
    assert {k: v for k, v in again.items() if k != "machine.json"} == {
        k: v for k, v in before.items() if k != "machine.json"
    }
    before = again
    monkeypatch.setenv(machine.HOST_ID_ENV, "host-b")
    second = machine.describe()["machine"]
    run_main_job(AsvProject(work, "tiny"))
    assert second != first and (work / "results" / second / "machine.json").exists()
    assert (
        json.loads((work / "results" / second / "machine.json").read_text())["config"] == machine.describe()["config"]
    )
    assert snapshot(work / "results" / first) == before  # host a's files: not a byte, not a timestamp
    with pytest.raises(UsageError, match="holds the results of host"):  # host b cannot borrow host a's name
        main_job.plan(AsvProject(work, "tiny"), Selection(OPS, BACKEND, first))
    assert snapshot(work / "results" / first) == before


def _root(work: Path) -> Path:
    """A repository-like root: the repository's configuration (default preset) on the project's timeline."""
    root = work / "root"
    root.mkdir(exist_ok=True)
    conf = derived_config(repository().conf, repository().config_dir, "default")
    conf.update(repo=str(work / "timeline.git"), env_dir=str(work / "env"), matrix={"req": MATRIX})
    (root / "asv.conf.json").write_text(json.dumps(conf, indent=1))
    return root


def _publish(project: AsvProject) -> dict[str, tuple[bytes, int]]:
    proc = subprocess.run([asv_project.ASV, "publish", "--config", str(project.config)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    graphs = project.html_dir / "graphs"
    return {k: v[0] for k, v in snapshot(graphs).items() if k.endswith(".json")}


def test_presets_never_overwrite_each_other(project):
    work, _ = project
    root = _root(work)
    default, tiny = AsvProject(root, "default"), AsvProject(root, "tiny")
    run_main_job(default)
    run_main_job(tiny)
    assert tiny.results_dir != default.results_dir
    default_results, default_graphs = snapshot(default.results_dir), _publish(default)
    tiny_results, tiny_graphs = snapshot(tiny.results_dir), _publish(tiny)
    assert any("ops.ReLU.time_mlx_cpu" in k for k in default_graphs) and default_graphs.keys() == tiny_graphs.keys()
    assert default_graphs != tiny_graphs  # other variants, other numbers: two histories

    run_main_job(tiny, rerun=True)  # measures again, into tiny's own results
    assert snapshot(tiny.results_dir) != tiny_results
    assert snapshot(default.results_dir) == default_results
    assert _publish(default) == default_graphs
    tiny_results, tiny_graphs = snapshot(tiny.results_dir), _publish(tiny)

    run_main_job(default, rerun=True)
    default_results_after_rerun = snapshot(default.results_dir)
    assert snapshot(tiny.results_dir) == tiny_results
    assert _publish(tiny) == tiny_graphs
    params = json.loads((default.results_dir / "benchmarks.json").read_text())
    assert params["ops.ReLU.time_mlx_cpu"]["params"] == [[repr(v.id) for v in CATALOG["ReLU"].variants("default")]]
    (tiny.results_dir / "benchmarks.json").unlink()  # not committed: publish regenerates it
    regenerated = json.loads(asv_run.ensure_benchmarks_json(tiny).read_text())
    assert regenerated["ops.ReLU.time_mlx_cpu"]["params"] == [[repr(v.id) for v in CATALOG["ReLU"].variants("tiny")]]
    assert snapshot(default.results_dir) == default_results_after_rerun

    # and `MLXBENCH_PRESET=tiny asv run` under the default configuration is refused before it starts,
    # also in an existing environment, where the suite is told no configuration directory to check
    default_results = snapshot(default.results_dir)
    for env_spec in (f"installed:{sys.executable}", f"existing:{sys.executable}"):
        proc = subprocess.run(
            [asv_project.ASV, "run", "--config", str(default.config), "-E", env_spec]
            + ["--set-commit-hash", TAG, "--machine", machine.describe()["machine"], "-b", "ReLU.time_mlx_cpu"],
            capture_output=True,
            text=True,
            env={**os.environ, "MLXBENCH_PRESET": "tiny"},
        )
        assert proc.returncode != 0 and "keeps the 'default' preset's results" in proc.stdout + proc.stderr
        assert "Traceback" not in proc.stdout + proc.stderr  # ASV's own one-line refusal
    assert {k: v for k, v in snapshot(default.results_dir).items() if "machine.json" not in k} == {
        k: v for k, v in default_results.items() if "machine.json" not in k
    }


def test_compare_measures_outside_the_history_and_keeps_a_narrowed_repeatability_apart(project, capsys):
    work, _ = project
    name = machine.describe()["machine"]
    history = work / "results" / name
    history.mkdir(parents=True, exist_ok=True)
    before = snapshot(history)
    throwaway = AsvProject(work, "tiny")
    code = compare_command.measure(
        compare.plan(throwaway, Selection(OPS, BACKEND), OLDER_TAG, TAG, rounds=2, fail_above=50.0)
    )
    captured = capsys.readouterr()
    out = captured.out
    assert code == 0, out
    order = [line.rsplit("(", 1)[1].rstrip(")") for line in captured.err.splitlines() if line.startswith("round ")]
    assert order == ["a", "b", "a", "b"]  # no two runs of one side next to each other
    assert f"mlxbench compare {OLDER_TAG} -> {TAG}" in out and "noise floor:" in out
    assert snapshot(history) == before  # the history is never written by a comparison
    sides = throwaway.comparison_dir(OLDER_TAG, TAG)
    for label in "ab":
        (result,) = (sides / label / "results" / name).glob("*-*.json")
        doc = json.loads(result.read_text())
        samples = dict(zip(doc["result_columns"], doc["results"]["ops.ReLU.time_mlx_cpu"]))["samples"]
        assert all(len(s) >= 2 for s in samples)  # both rounds' samples kept

    assert compare_command.measure(compare.plan(throwaway, Selection(OPS, BACKEND), TAG, TAG, rounds=2)) == 0
    out = capsys.readouterr().out
    assert snapshot(history) == before  # one op on one backend: never the machine's noise floor
    apart = throwaway.comparison_dir(TAG, TAG) / name / repeatability.REPEATABILITY_FILE
    doc = json.loads(apart.read_text())
    assert 0 <= doc["within_10pct"] <= 1 and doc["p90_abs_change"] >= 0 and len(doc["runs"]) == 2
    assert doc["selection"] == {"ops": ["ReLU"], "backends": ["mlx_cpu"]}
    assert f"repeatability of {TAG} on {name} over a narrowed selection" in out and "not this machine's" in out


def test_history_runs_its_commits_through_asv_in_asvs_virtualenv_and_keeps_what_is_there(project, capsys):
    """A real ``asv run HASHFILE:``: the older release measured in ASV's virtualenv, then kept on the next run;
    a trial run (--quick) measures again every time, outside the history."""
    work, _ = project
    history, selection = AsvProject(work, "tiny"), Selection(OPS, BACKEND)
    code = history_command.measure(history_run.plan(history, selection, OLDER_TAG, rerun=True))
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"  measured: {OLDER_TAG}\n" in out and "History: " in out
    assert history_command.measure(history_run.plan(history, selection, OLDER_TAG)) == 0
    assert f"  kept: already measured here (--rerun measures again): {OLDER_TAG}\n" in capsys.readouterr().out
    before = snapshot(work / "results")
    for _ in range(2):
        trial = history_run.plan(AsvProject(work, "tiny", trial=True), selection, OLDER_TAG)
        assert history_command.measure(trial) == 0
        assert f"  measured: {OLDER_TAG}\n" in capsys.readouterr().out
    assert work / ".asv" / "trial" in trial.results_dir.parents and any(trial.machine_dir.glob("*-*.json"))
    assert snapshot(work / "results") == before  # one-sample numbers never reach the history


def test_the_main_job_leaves_a_commit_this_machine_has_exactly_as_it_is(project, monkeypatch):
    """A time-only history at the installed release, then `make bench`: the file gains no peak-memory rows."""
    work, _ = project
    monkeypatch.setenv(machine.HOST_ID_ENV, "host-c")
    run_main_job(AsvProject(work, "tiny"))
    folder = work / "results" / machine.describe()["machine"]
    (path,) = [p for p in folder.glob("*-*.json")]
    doc = json.loads(path.read_text())
    doc["results"] = {name: values for name, values in doc["results"].items() if ".time_" in name}
    path.write_text(json.dumps(doc))  # as a time-only history run leaves it
    before = snapshot(folder)
    run_main_job(AsvProject(work, "tiny"))
    after = snapshot(folder)
    assert {k: v for k, v in after.items() if k != "machine.json"} == {
        k: v for k, v in before.items() if k != "machine.json"
    }


def test_a_bench_of_one_op_leaves_the_rest_of_its_release_to_the_next_bench(project, monkeypatch, capsys):
    """`bench --op ReLU`, then `bench --op Sum`: Sum is measured into the release's file, ReLU kept byte for byte."""
    work, _ = project
    monkeypatch.setenv(machine.HOST_ID_ENV, "host-d")
    tiny = AsvProject(work, "tiny")
    run_main_job(tiny)
    (path,) = (work / "results" / machine.describe()["machine"]).glob("*-*.json")
    relu = {k: v for k, v in json.loads(path.read_text())["results"].items() if ".ReLU." in k}
    sum_op = Selection([CATALOG["Sum"]], BACKEND)
    outcome = bench_command.measure(main_job.plan(tiny, sum_op))
    assert outcome.code == 0 and outcome.measured
    results = json.loads(path.read_text())["results"]
    assert {k: v for k, v in results.items() if ".ReLU." in k} == relu
    assert {"ops.Sum.time_mlx_cpu", "ops.Sum.peakmem_mlx_cpu"} <= set(results)
    assert "kept as they are" in capsys.readouterr().err
    assert not bench_command.measure(main_job.plan(tiny, sum_op)).measured  # and now it has Sum too


def test_a_history_interleaves_its_rounds_across_commits_and_records_each_results_load(project):
    """Round 1 visits every commit, round 2 every commit again in the other order, and so on; each result's load is
    kept."""
    work, _ = project
    outputs: list[str] = []

    def call(command: list[str], cwd: Path, env: dict[str, str]) -> int:
        proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=1500)
        outputs.append(proc.stdout + proc.stderr)
        return proc.returncode

    p = history_run.plan(AsvProject(work, "tiny"), Selection(OPS, BACKEND), f"{OLDER_TAG}..{TAG}", rerun=True)
    assert history_run.run(p, call=call).code == 0, outputs[-1][-3000:]
    visits = re.findall(rf"For mlxbench commit \w+ <(v[\d.]+)> \(round (\d)/{history_run.ROUNDS}\)", outputs[0])
    rounds = [[tag for tag, r in visits if r == str(n)] for n in range(1, history_run.ROUNDS + 1)]
    assert [tag for tag, _ in visits] == [tag for r in rounds for tag in r]  # every commit of a round before the next
    assert sorted(rounds[0]) == sorted([OLDER_TAG, TAG])
    assert all(r == (rounds[0] if i % 2 == 0 else rounds[0][::-1]) for i, r in enumerate(rounds))  # order alternates
    stored = [json.loads(line) for line in (p.machine_dir / loads.LOAD_FILE).read_text().splitlines()]
    mine = [d for d in stored if d["benchmark"] == "ops.ReLU.time_mlx_cpu"]
    variants = {v.id for v in CATALOG["ReLU"].variants("tiny")}
    assert {(d["commit"], d["variant"]) for d in mine} == {(p.tags[t], v) for t in (OLDER_TAG, TAG) for v in variants}
    assert all(d["rounds"] == history_run.ROUNDS and d["env"] in p.series for d in mine)


def test_two_plain_asv_runs_at_once_take_turns_and_keep_both_results(project):
    """Two `asv run` through the configuration, started together on different ops: one waits, nothing is lost."""
    work, asv = project
    name = "host-two-runs"
    asv("machine", "--yes", "--machine", name)
    env = {**os.environ, "HOME": str(work), "MLXBENCH_PRESET": "tiny", "MLXBENCH_TORCH_INSTALL": "never"}
    runs = [
        subprocess.Popen(
            [
                asv_project.ASV,
                "run",
                f"{OLDER_TAG}^!",
                "--machine",
                name,
                "--quick",
                "-b",
                rf"^ops\.{op}\.time_mlx_cpu",
            ],
            cwd=work,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for op in ("ReLU", "Sum")
    ]
    outputs = [run.communicate(timeout=1500)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert sum("waiting for the measurement running on this machine to finish" in out for out in outputs) == 1
    (path,) = (work / "results" / name).glob("*-*.json")
    doc = json.loads(path.read_text())  # one valid file holding both runs' results
    assert {"ops.ReLU.time_mlx_cpu", "ops.Sum.time_mlx_cpu"} <= set(doc["results"])


@pytest.mark.skipif(counting.tools_missing() is not None, reason=counting.INSTALL_LINE)
def test_a_count_is_stored_beside_the_times_by_one_valgrind_server_and_leaves_no_dump(project):
    work, _ = project
    p = AsvProject(work, "tiny")
    run_main_job(p)
    name = machine.describe()["machine"]
    (path,) = (work / "results" / name).glob(f"{p.tags[TAG][:8]}-*.json")
    before = json.loads(path.read_text())["results"]
    servers = set(Path(tempfile.gettempdir()).glob("mlxbench-callgrind-*"))
    plan = main_job.plan(p, Selection(OPS, BACKEND), metric="instructions")
    assert main_job.run(plan).code == 0
    after = json.loads(path.read_text())
    assert {k: v for k, v in after["results"].items() if k in before} == before, "the times are kept as they were"
    columns = after["result_columns"]
    variants = [v.id for v in CATALOG["ReLU"].variants("tiny")]
    for kind in benchmark_names.COUNTED:
        entry = dict(zip(columns, after["results"][f"ops.ReLU.{kind}_mlx_cpu"]))
        assert len(entry["result"]) == len(variants) and all(isinstance(x, (int, float)) for x in entry["result"])
    instructions = dict(zip(columns, after["results"]["ops.ReLU.track_instructions_mlx_cpu"]))["result"]
    assert all(x > 1000 for x in instructions)
    assert set(Path(tempfile.gettempdir()).glob("mlxbench-callgrind-*")) == servers, "valgrind's files are removed"
    assert not [f for f in (work / "results").rglob("*") if "callgrind" in f.name], "none in the results tree"


def test_a_plain_asv_run_stores_samples_and_load_that_check_results_accepts(project):
    """`asv run --machine <this machine> -b <ReLU on mlx_cpu>` as a user types it: no --record-samples, no driver.

    Into results of its own (the project's configuration, another results folder): what it stores passes
    check-results, samples thinned as submit keeps them and each result's load recorded.
    """
    work, asv = project
    plain = work / "plain"
    plain.mkdir()
    conf = json.loads((work / "asv.conf.json").read_text())
    (plain / "asv.conf.json").write_text(json.dumps({**conf, "results_dir": str(plain / "results")}))
    info = machine.describe()
    machine.save(info)  # as `mlxbench machine` (this test's host id: the plugin's own registration would not know it)
    name = info["machine"]
    regex = benchmark_names.selection_regex(OPS, BACKEND)
    out = asv("run", "--config", str(plain / "asv.conf.json"), f"{TAG}^!", "--machine", name, "-b", regex)
    folder = plain / "results" / name
    assert review.check([folder], plain / "results") == [], out.stdout[-3000:] + out.stderr[-3000:]
    (path,) = folder.glob("*-*.json")
    doc = json.loads(path.read_text())
    samples = doc["results"]["ops.ReLU.time_mlx_cpu"][doc["result_columns"].index("samples")]
    variants = [v.id for v in CATALOG["ReLU"].variants("tiny")]
    assert len(samples) == len(variants) and all(review.MIN_SAMPLES <= len(s) <= review.MAX_SAMPLES for s in samples)
    stored = loads.stored(folder)
    assert {(k[0], k[2], k[3]) for k in stored} == {(doc["commit_hash"], "ops.ReLU.time_mlx_cpu", v) for v in variants}
    assert "samples thinned" in out.stderr and "load.jsonl" in out.stderr
