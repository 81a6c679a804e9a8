"""``mlxbench bench``'s main job: what of its release it measures and keeps, and how its tables are headed.

ASV and verification are faked: the fake ``asv run`` records its command, and the results this machine
already has are the fixture's (ReLU, Softmax, LayerNorm and attention on the three CPU backends).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import asv_project
import pytest

from mlxbench.catalog import CATALOG
from mlxbench.commands import bench as bench_command
from mlxbench.harness import benchmark_names, verified, versions
from mlxbench.harness.backends import BACKENDS
from mlxbench.history import machine, main_job
from mlxbench.history.asv_project import AsvProject
from mlxbench.history.main_job import MainJobPlan

FIXTURE = Path(__file__).parent / "fixtures" / "results" / "fixture-cpu"
TAG = f"v{versions.mlx_version()}"
MLX_CPU, TORCH_CPU = BACKENDS["mlx_cpu"], BACKENDS["torch_cpu"]


@pytest.fixture
def project(tmp_path, monkeypatch) -> Iterator[AsvProject]:
    """A throwaway project whose timeline holds the installed MLX release; HOME is its own, the host fixed."""
    asv_project.make(tmp_path, ["0.31.1", versions.mlx_version()], {"numpy": [""], "packaging": [""]})
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv(machine.HOST_ID_ENV, "host-a")
    yield AsvProject(tmp_path, "tiny")


class Recorder:
    """Stands for verification and for ``asv run``: records what each was asked, verifies everything, runs nothing."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.verified: list[tuple[list[str], list[str]]] = []
        self.commands: list[list[str]] = []
        self.said: list[str] = []

        def passing(ops, preset, backends, write, child=None):
            self.verified.append(([op.name for op in ops], [b.name for b in backends]))
            return verified.Verified(list(backends), frozenset())

        monkeypatch.setattr(main_job.verified, "passing", passing)

    def call(self, command: list[str], cwd: Path, env: dict[str, str]) -> int:
        self.commands.append(command)
        return 0

    def selects(self, name: str) -> bool:
        """Whether the last ``asv run``'s ``-b`` selects ``name`` (as ASV matches it: bare, and with parameters)."""
        (command,) = self.commands
        regex = command[command.index("-b") + 1]
        return bool(re.search(regex, name)) or bool(re.search(regex, f"{name}('4x3x8')"))


def plan(project: AsvProject, ops: list[str], backends: list, rerun: bool = False) -> MainJobPlan:
    """The main job at the installed release on machine ``m``, its series that of the fixture's files."""
    commit = project.tags[TAG]
    return MainJobPlan(
        project, [CATALOG[o] for o in ops], backends, {}, TAG, commit, [_series()], {"machine": "m"}, rerun
    )


def _series() -> str:
    return json.loads(sorted(FIXTURE.glob("*-*.json"))[0].read_text())["env_name"]


def has_fixture_results(project: AsvProject) -> Path:
    """This machine's results at the installed release: the fixture's file, as an earlier bench left it."""
    doc = json.loads(sorted(FIXTURE.glob("*-*.json"))[0].read_text())
    doc["commit_hash"] = project.tags[TAG]
    folder = project.results_dir / "m"
    folder.mkdir(parents=True)
    path = folder / f"{doc['commit_hash'][:8]}-{doc['env_name']}.json"
    path.write_text(json.dumps(doc))
    return path


def test_a_bench_of_other_ops_measures_them_and_keeps_what_the_release_has(project, monkeypatch):
    """`bench --op ReLU`, then `bench --op Sum`: the second measures Sum, keeps ReLU and says so; a selection the
    release already has is left alone, no ASV run, no verification, not a byte written."""
    path = has_fixture_results(project)
    before = path.read_bytes()
    fake = Recorder(monkeypatch)
    outcome = main_job.run(plan(project, ["ReLU", "Softmax"], [MLX_CPU, TORCH_CPU]), fake.said.append, fake.call)
    assert outcome.code == 0 and not outcome.measured
    assert fake.commands == [] and fake.verified == [] and path.read_bytes() == before
    outcome = main_job.run(plan(project, ["ReLU", "Sum"], [MLX_CPU]), fake.said.append, fake.call)
    assert outcome.code == 0 and outcome.measured
    for kind in ("time", "peakmem"):
        assert fake.selects(benchmark_names.build("Sum", kind, "mlx_cpu"))
        assert not fake.selects(benchmark_names.build("ReLU", kind, "mlx_cpu"))  # kept as it is
    assert not fake.selects(benchmark_names.build("Sum", "time", "mlx_cpu_compile"))  # not selected
    assert fake.verified == [(["Sum"], ["mlx_cpu"])]  # nothing kept is verified again
    (kept,) = [line for line in fake.said if line.startswith("kept as they are")]
    assert "(mlx_cpu: LayerNorm, ReLU, ScaledDotProductAttention, Softmax; mlx_cpu_compile: " in kept
    assert "measuring what the selection lacks (mlx_cpu: Sum)" in kept
    assert "--skip-existing-commits" not in fake.commands[0]  # that would skip the whole commit
    assert {op.name for op in outcome.plan.ops} == {"ReLU", "Sum"}  # the tables show the whole selection


def test_pairs_kept_on_one_backend_are_measured_on_another(project, monkeypatch):
    has_fixture_results(project)
    fake = Recorder(monkeypatch)
    main_job.run(plan(project, ["ReLU", "Sum"], [MLX_CPU, BACKENDS["mlx_gpu"]]), fake.said.append, fake.call)
    assert fake.selects("ops.ReLU.time_mlx_gpu") and fake.selects("ops.Sum.time_mlx_gpu")
    assert fake.selects("ops.ReLU.track_device_peak_mlx_gpu") and not fake.selects("ops.ReLU.time_mlx_cpu")


def test_a_rerun_measures_its_selection_and_says_what_else_it_keeps(project, monkeypatch):
    has_fixture_results(project)
    fake = Recorder(monkeypatch)
    outcome = main_job.run(plan(project, ["ReLU"], [MLX_CPU], rerun=True), fake.said.append, fake.call)
    assert outcome.measured and fake.selects("ops.ReLU.time_mlx_cpu")
    assert not fake.selects("ops.Softmax.time_mlx_cpu")
    (kept,) = [line for line in fake.said if line.startswith("kept as they are")]
    assert "outside the selection (mlx_cpu: LayerNorm, ScaledDotProductAttention, Softmax; mlx_cpu_compile: " in kept


def test_a_stale_timing_counts_as_missing(project, monkeypatch):
    """A result under an older benchmark version is one the reports ignore: bench measures it again."""
    path = has_fixture_results(project)
    doc = json.loads(path.read_text())
    at = doc["result_columns"].index("version")
    doc["results"]["ops.ReLU.time_mlx_cpu"][at] = "ReLU-r0-h0"
    path.write_text(json.dumps(doc))
    fake = Recorder(monkeypatch)
    main_job.run(plan(project, ["ReLU"], [MLX_CPU, TORCH_CPU]), fake.said.append, fake.call)
    assert fake.selects("ops.ReLU.time_mlx_cpu") and not fake.selects("ops.ReLU.time_torch_cpu")


def test_the_bench_table_names_torchs_threads_and_a_trial_says_it_is_one(project):
    has_fixture_results(project)
    p = plan(project, ["ReLU"], [MLX_CPU, TORCH_CPU])
    info = {"machine": "m", "torch_threads": 1}
    text = bench_command.summary(MainJobPlan(**{**p.__dict__, "machine": info}))
    (heading,) = [line for line in text.splitlines() if line.startswith("### ")]
    assert heading.startswith("### Average benchmark: m,") and heading.endswith(", torch 1 thread")
    trial = AsvProject(project.root, "tiny", trial=True)
    folder = trial.results_dir / "m"
    folder.mkdir(parents=True)
    for path in (project.results_dir / "m").iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    text = bench_command.summary(MainJobPlan(**{**p.__dict__, "project": trial, "machine": info}))
    (heading,) = [line for line in text.splitlines() if line.startswith("### ")]
    assert heading.startswith("### Trial (--quick: one sample per benchmark, not history): Average benchmark: m,")
