"""``mlxbench history``: which commits reach ASV, with which command, and the refusals (ASV itself is faked).

The project is a throwaway one (:mod:`asv_project`) whose timeline holds a few
real releases of both frameworks and whose matrix pins torch, as the
repository's does. Whether a release installs here is faked, so the selection
does not depend on the test machine; the fake ``asv run`` reads the hash file
it is given and writes what a real run would leave behind.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import asv_project
import pytest

from mlxbench.catalog import CATALOG
from mlxbench.cli import main
from mlxbench.commands import bench as bench_command
from mlxbench.commands import history as history_command
from mlxbench.errors import UsageError
from mlxbench.harness import asv_suite, benchmark_names
from mlxbench.harness.backends import BACKENDS
from mlxbench.history import commits, history_run, machine
from mlxbench.history.asv_project import AsvProject, load_conf
from mlxbench.history.main_job import MainJobPlan
from mlxbench.selection import Selection
from mlxbench.stack import timeline
from mlxbench.stack.releases import Release

FIXTURE = Path(__file__).parent / "fixtures" / "results" / "fixture-cpu"
PINNED = {"torch": ["2.13.0"], "numpy": [""], "packaging": [""]}
MLX = ["0.0.2", "0.2.0", "0.31.1", "0.32.4"]
TORCH = ["2.12.0", "2.13.0"]
OPS = [CATALOG["ReLU"]]
CPU = [BACKENDS["mlx_cpu"], BACKENDS["torch_cpu"]]


def _installs(release: Release) -> bool:
    """Linux x86-64 as this project knows it: no MLX 0.0.x; every torch here installs."""
    return not release.version.startswith("0.0.")


@pytest.fixture
def project(tmp_path, monkeypatch) -> Iterator[Path]:
    """The project's asv.conf.json; HOME is its own (ASV's machine file), the host fixed."""
    asv_project.make(tmp_path, MLX, PINNED, torch_versions=TORCH)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv(machine.HOST_ID_ENV, "host-a")
    yield tmp_path / "asv.conf.json"


class FakeAsv:
    """Stands for ``subprocess.call``: records the call and the hashes, writes result files as told."""

    def __init__(self, results: dict[str, str] | None = None, code: int = 0) -> None:
        self.results = results or {}  # tag -> "measured" | "failed": what ASV leaves for that commit
        self.code = code
        self.calls: list[tuple[list[str], Path, dict[str, str]]] = []
        self.hashes: list[str] = []

    def __call__(self, command: list[str], cwd: Path, env: dict[str, str]) -> int:
        self.calls.append((command, Path(cwd), env))
        (spec,) = [a for a in command if a.startswith("HASHFILE:")]
        self.hashes = Path(spec.removeprefix("HASHFILE:")).read_text().split()
        config = Path(command[command.index("--config") + 1])
        project = AsvProject(config.parent, "tiny")  # the configuration ASV is given: the base, a twin or a trial
        conf = load_conf(config)
        tags = timeline.tags(Path(conf["repo"]))
        folder = Path(conf["results_dir"]) / command[command.index("--machine") + 1]
        for tag, what in self.results.items():
            for env_name in project.series_names:
                write_result(folder, tags[tag], env_name, measured=what == "measured")
        return self.code


def write_result(folder: Path, commit: str, env_name: str, measured: bool = True) -> Path:
    """A result file as ASV writes it (one of the fixture's), with numbers or, like a failed install, none.

    An environment name without torch is a timeline-mode one: its params and requirements carry no torch either.
    """
    doc = json.loads(sorted(FIXTURE.glob("*-*.json"))[0].read_text())
    doc.update(commit_hash=commit, env_name=env_name)
    if "torch" not in env_name:
        for key in ("params", "requirements"):
            doc[key].pop("torch")
    if not measured:
        at = doc["result_columns"].index("result")
        for entry in doc["results"].values():
            entry[at] = None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{commit[:8]}-{env_name}.json"
    path.write_text(json.dumps(doc))
    return path


def run(
    config: Path, fake: FakeAsv, dry_run: bool = False, timeline_mode: bool = False, quick: bool = False, **kwargs
) -> int:
    """Plan, then run (or describe) as `mlxbench history` does, printing what it prints."""
    project = AsvProject(config.parent, "tiny", timeline=timeline_mode, trial=quick)
    p = history_run.plan(project, Selection(OPS, CPU), installs=_installs, **kwargs)
    return history_command.measure(p, dry_run=dry_run, call=fake)


def test_a_pinned_host_runs_the_mlx_commits_that_install_here_in_one_asv_run(project, capsys):
    fake = FakeAsv({"v0.2.0": "measured", "v0.32.4": "failed"})
    tags = timeline.tags(project.parent / "timeline.git")
    name = machine.describe()["machine"]
    (env_name,) = AsvProject(project.parent, "tiny").series_names
    assert env_name.endswith("-torch2.13.0")  # the pinned series
    kept = write_result(project.parent / "results" / name, tags["v0.31.1"], env_name)
    assert run(project, fake) == 0
    (command, cwd, env), *more = fake.calls
    assert not more and cwd == project.parent and env["MLXBENCH_PRESET"] == "tiny"
    assert fake.hashes == [tags[t] for t in ("v0.2.0", "v0.31.1", "v0.32.4")]  # no 0.0.x, no torch commit
    assert command[1:4] == ["run", "--config", str(project)]
    assert command[command.index("--machine") + 1] == name
    assert command[command.index("-b") + 1] == benchmark_names.selection_regex(OPS, CPU, kinds=("time",))
    assert "--interleave-rounds" in command and command[command.index("-a") + 1] == f"rounds={history_run.ROUNDS}"
    assert env[asv_suite.ROUNDS_ENV] == str(history_run.ROUNDS)  # the rounds share one round's sampling time
    assert {"--record-samples", "--skip-existing-successful", "--show-stderr"} <= set(command)
    assert "-E" not in command and "--quick" not in command  # ASV's own virtualenvs, each commit installed
    if sys.platform == "linux":
        assert command[-2:] == ["--launch-method", "forkserver"]
    out = capsys.readouterr().out
    assert "mlx commit(s), pinned mode: torch 2.13.0 at every commit" in out
    assert "  measured: v0.2.0\n" in out
    assert "  kept: already measured here (--rerun measures again): v0.31.1\n" in out
    assert "  failed: no successful measurement (see ASV's output above): v0.32.4\n" in out
    assert "  left out, release has no wheel here: v0.0.2\n" in out and "wall time:" in out
    assert "History: " in out and "mlx_cpu" in out  # this machine's history table follows
    assert kept.exists()


def test_rerun_and_quick_reach_asv_and_a_commit_asv_never_measured_is_named(project, capsys):
    fake = FakeAsv(code=1)
    assert run(project, fake, spec="v0.31.1..", rerun=True, quick=True) == 1  # ASV's exit status
    (command, _, _) = fake.calls[0]
    assert "--skip-existing-successful" not in command and "--quick" in command
    tags = timeline.tags(project.parent / "timeline.git")
    assert fake.hashes == [tags["v0.31.1"], tags["v0.32.4"]]
    out = capsys.readouterr().out
    assert "no result: ASV did not measure it (see its output above): v0.31.1, v0.32.4" in out
    assert "no history table:" in out


def test_timeline_mode_runs_both_frameworks_under_a_configuration_without_torch(project, capsys):
    fake = FakeAsv()
    assert run(project, fake, spec="v0.31.1..", timeline_mode=True) == 0
    (command, cwd, _) = fake.calls[0]
    config = project.parent / ".asv" / "timeline-mode" / "tiny" / "asv.conf.json"
    assert command[command.index("--config") + 1] == str(config) and cwd == config.parent
    twin = AsvProject(project.parent, "tiny", timeline=True)
    conf = load_conf(config)
    assert twin.pinned_torch == [] and conf["mlxbench_preset"] == "tiny"
    assert Path(conf["results_dir"]) == project.parent / "results"  # beside the pinned series, never in its files
    assert [n for n in twin.series_names if "torch" in n] == []
    tags = timeline.tags(project.parent / "timeline.git")
    selected = [t for t in tags if t in ("v0.31.1", "v0.32.4") or t.startswith("torch-")]
    in_range = list(tags)[list(tags).index("v0.31.1") :]
    assert fake.hashes == [tags[t] for t in in_range if t in selected]
    assert "commit(s) of either framework, timeline mode" in capsys.readouterr().out


def test_refusals_come_before_anything_runs_or_is_written(project):
    fake = FakeAsv()
    results = project.parent / "results"
    with pytest.raises(UsageError, match=r"torch is pinned.*`mlxbench history --timeline --framework torch`"):
        run(project, fake, framework="torch")
    with pytest.raises(UsageError, match="nothing to run: no mlx commit in ..v0.0.2 installs here"):
        run(project, fake, spec="..v0.0.2")
    with pytest.raises(UsageError, match="unknown release 'v9.9.9'"):
        run(project, fake, spec="v9.9.9")
    with pytest.raises(UsageError, match="valid: mlx, torch, all"):
        run(project, fake, framework="jax")
    with pytest.raises(UsageError, match="none of the backends to time .mlx_cpu. is a torch backend"):
        history_run.plan(
            AsvProject(project.parent, "tiny", timeline=True), Selection(OPS, [BACKENDS["mlx_cpu"]]), framework="torch"
        )
    assert not results.exists()
    other = results / machine.describe()["machine"]
    other.mkdir(parents=True)
    (other / "machine.json").write_text(json.dumps({"machine": other.name, "host": "someone-else"}))
    with pytest.raises(UsageError, match="holds the results of host someone-else"):
        run(project, fake)
    assert fake.calls == [] and sorted(results.rglob("*")) == [other, other / "machine.json"]


def test_a_dry_run_prints_the_commits_and_the_command_and_runs_nothing(project, capsys):
    fake = FakeAsv()
    assert run(project, fake, dry_run=True) == 0
    out = capsys.readouterr().out
    assert fake.calls == [] and not (project.parent / "results").exists()
    assert "would run 3 mlx commit(s)" in out and "  v0.2.0, v0.31.1, v0.32.4\n" in out
    assert "left out, release has no wheel here: v0.0.2" in out and "HASHFILE:<file of their hashes>" in out
    assert "already measured" not in out


def test_a_dry_run_names_the_commits_already_measured_here(project, capsys):
    tags = timeline.tags(project.parent / "timeline.git")
    (env_name,) = AsvProject(project.parent, "tiny").series_names
    folder = project.parent / "results" / machine.describe()["machine"]
    write_result(folder, tags["v0.31.1"], env_name)
    write_result(folder, tags["v0.2.0"], env_name, measured=False)  # a failed install: nothing kept there
    assert run(project, FakeAsv(), dry_run=True) == 0
    out = capsys.readouterr().out
    assert "  already measured here, kept benchmark by benchmark (--rerun measures again): v0.31.1\n" in out
    assert run(project, FakeAsv(), dry_run=True, rerun=True) == 0
    assert "already measured" not in capsys.readouterr().out


def test_left_out_commits_are_grouped_by_reason():
    skipped = [
        ("v0.0.2", "mlx 0.0.2 has no wheel here"),
        ("torch-v2.1.0", "torch 2.1.0 has no wheel here"),
        ("torch-v2.9.0", "torch is pinned by the environment"),
    ]
    assert history_run.skip_lines(skipped) == [
        "release has no wheel here: v0.0.2, torch-v2.1.0",
        "torch is pinned by the environment: torch-v2.9.0",
    ]


def test_the_cli_refuses_a_torch_history_on_the_pinned_repository(capsys):
    assert main(["history", "--framework", "torch", "--preset", "tiny"]) == 2
    err = capsys.readouterr().err
    assert "torch is pinned" in err and "--timeline" in err


def test_summaries_show_the_runs_own_series_where_the_machine_has_pinned_and_timeline_results(project):
    """A machine with both series has no table named after the machine alone: each summary picks its own."""
    tags = timeline.tags(project.parent / "timeline.git")
    results = project.parent / "results"
    pinned, free = "virtualenv-py3.11-numpy-packaging-torch2.13.0", "virtualenv-py3.11-numpy-packaging"
    for env_name in (pinned, free):
        for tag in ("v0.31.1", "v0.32.4"):
            write_result(results / "m", tags[tag], env_name)
    throwaway = AsvProject(project.parent, "tiny")  # its results: the folder above; its tags: the timeline's
    main_job = MainJobPlan(throwaway, OPS, CPU, {}, "v0.32.4", tags["v0.32.4"], [free], {"machine": "m"})
    text = bench_command.summary(main_job)
    assert "Average benchmark: m, mlx v0.32.4" in text and "Detailed benchmark" not in text  # the answer, only
    assert "Detailed benchmark: m, mlx v0.32.4" in bench_command.summary(main_job, detailed=True)
    assert "(timeline)" in text and "(pinned)" not in text
    history = history_run.HistoryPlan(throwaway, "mlx", commits.Selection(), OPS, CPU, {}, [pinned], {"machine": "m"})
    text = history_command.history_tables(history)
    assert "History: m, mlx_cpu" in text and "| v0.31.1 | v0.32.4 |" in text
    assert "Pinned mode" in text and "Timeline mode" not in text


def test_a_counted_history_of_the_other_frameworks_backends_is_the_control_not_drift():
    torch_only = [BACKENDS["torch_cpu"]]
    with pytest.raises(UsageError, match="would measure only the machine's drift"):
        history_run.check_backends("mlx", torch_only)
    history_run.check_backends("mlx", torch_only, "instructions")  # counts do not drift: they must not move
