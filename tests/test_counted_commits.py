"""A counted history counts each backend only where its count can move: torch once per build, and
``mlx_cpu_compile`` at the run's ends alone for the ops whose stored counts prove compiling changes nothing.

The commits come from the throwaway project of :mod:`test_history_run` (a pinned torch, a few real
releases); the proof is read from counts planted into the report fixture's two releases.
"""

from __future__ import annotations

from pathlib import Path

import asv_project
import pytest
from report_fixture import plant_counts
from test_history_run import FakeAsv

from mlxbench.catalog import CATALOG
from mlxbench.errors import UsageError
from mlxbench.harness import benchmark_names, counting
from mlxbench.harness.backends import BACKENDS
from mlxbench.history import compare, compare_counts, counted_commits, history_run, machine
from mlxbench.history.asv_project import AsvProject
from mlxbench.selection import Selection
from mlxbench.stack import releases, timeline
from mlxbench.stack.releases import Release

MLX = ["0.2.0", "0.31.1", "0.32.4"]
TORCH = ["2.12.0", "2.13.0"]
OPS = [CATALOG["ReLU"], CATALOG["Softmax"]]
CPU = [BACKENDS["mlx_cpu"], BACKENDS["mlx_cpu_compile"], BACKENDS["torch_cpu"]]
COMPILED = BACKENDS["mlx_cpu_compile"]


@pytest.fixture(scope="module")
def tags(tmp_path_factory) -> dict[str, str]:
    return timeline.sync(tmp_path_factory.mktemp("timeline") / "t.git", releases.load())


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    asv_project.make(tmp_path, MLX, {"torch": ["2.13.0"], "numpy": [""], "packaging": [""]}, torch_versions=TORCH)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv(machine.HOST_ID_ENV, "host-a")
    return tmp_path / "asv.conf.json"


def counted_plan(config: Path, timeline_mode: bool = False, **kwargs) -> history_run.HistoryPlan:
    project = AsvProject(config.parent, "tiny", timeline=timeline_mode)
    return history_run.plan(
        project, Selection(OPS, CPU), installs=lambda r: isinstance(r, Release), metric="instructions", **kwargs
    )


def what(group: counted_commits.CountGroup) -> dict[str, list[str]]:
    return {b.name: [op.name for op in ops] for b, ops in group.counts}


def test_pinned_torch_is_counted_at_the_first_commit_only_and_mlx_at_every_commit(project):
    p = counted_plan(project)
    first, rest = history_run.count_groups(p)
    assert [s.tag for s in first.commits] == ["v0.2.0"]
    assert what(first) == {b.name: ["ReLU", "Softmax"] for b in CPU}
    assert [s.tag for s in rest.commits] == ["v0.31.1", "v0.32.4"]
    assert what(rest) == {"mlx_cpu": ["ReLU", "Softmax"], "mlx_cpu_compile": ["ReLU", "Softmax"]}


def test_every_commit_counts_every_backend_everywhere_the_control(project):
    (group,) = history_run.count_groups(counted_plan(project, every_commit=True))
    assert [s.tag for s in group.commits] == ["v0.2.0", "v0.31.1", "v0.32.4"]
    assert what(group) == {b.name: ["ReLU", "Softmax"] for b in CPU}


def test_every_commit_is_refused_for_a_timed_history(project):
    project_ = AsvProject(project.parent, "tiny")
    with pytest.raises(UsageError, match="--every-commit is for counted histories"):
        history_run.plan(project_, Selection(OPS, CPU), installs=lambda r: True, every_commit=True)


def test_in_timeline_mode_torch_is_counted_at_the_first_commit_of_each_build(project):
    p = counted_plan(project, timeline_mode=True, framework="all")
    torch_at = [s.tag for g in history_run.count_groups(p) for s in g.commits if "torch_cpu" in what(g)]
    builds = [s.commit.torch for s in p.picked.commits]
    assert len(set(builds)) >= 2  # the project's timeline changes torch
    firsts = [s.tag for n, s in enumerate(p.picked.commits) if s.commit.torch not in builds[:n]]
    assert sorted(torch_at) == sorted(firsts)


def test_compile_is_neutral_where_stored_counts_equal_the_uncompiled_ones_at_every_commit(results_copy, tags):
    for release in ("v0.2.0", "v0.32.4"):
        for backend in ("mlx_cpu", "mlx_cpu_compile"):
            plant_counts(results_copy, tags, release, "ReLU", backend)
            plant_counts(results_copy, tags, release, "Softmax", backend, 1.01 if backend.endswith("compile") else 1)
    assert counted_commits.compile_neutral(results_copy, OPS, COMPILED) == {"ReLU"}


def test_one_commit_does_not_prove_compile_neutral(results_copy, tags):
    for backend in ("mlx_cpu", "mlx_cpu_compile"):
        plant_counts(results_copy, tags, "v0.32.4", "ReLU", backend)
    assert counted_commits.PROOF_COMMITS == 2
    assert counted_commits.compile_neutral(results_copy, OPS, COMPILED) == set()


def test_one_changed_commit_disproves_compile_neutral(results_copy, tags):
    for release, scale in (("v0.2.0", 1.0), ("v0.32.4", 1.01)):
        plant_counts(results_copy, tags, release, "ReLU", "mlx_cpu")
        plant_counts(results_copy, tags, release, "ReLU", "mlx_cpu_compile", scale)
    assert counted_commits.compile_neutral(results_copy, OPS, COMPILED) == set()


def test_a_proved_op_is_compiled_and_counted_at_the_runs_ends_only(project):
    p = counted_plan(project)
    groups = counted_commits.groups(p.picked.commits, OPS, CPU, pinned=True, neutral={COMPILED.name: {"Softmax"}})
    by_tag = {s.tag: what(g) for g in groups for s in g.commits}
    assert by_tag["v0.2.0"]["mlx_cpu_compile"] == by_tag["v0.32.4"]["mlx_cpu_compile"] == ["ReLU", "Softmax"]
    assert by_tag["v0.31.1"] == {"mlx_cpu": ["ReLU", "Softmax"], "mlx_cpu_compile": ["ReLU"]}


def test_each_group_is_one_asv_run_selecting_its_backends_ops(project):
    p = counted_plan(project)
    first, rest = history_run.count_groups(p)
    command = history_run.asv_command(p, Path("hashes"), rest.counts)
    selected = [command[i + 1] for i, a in enumerate(command) if a == "-b"]
    kinds = benchmark_names.COUNTED
    assert selected == [
        benchmark_names.selection_regex(OPS, [BACKENDS["mlx_cpu"]], kinds=kinds),
        benchmark_names.selection_regex(OPS, [COMPILED], kinds=kinds),
    ]
    assert "HASHFILE:hashes" in command


def test_the_dry_run_shows_each_group_and_its_command(project):
    text = history_run.describe(counted_plan(project))
    assert "counting each backend only where its count can move" in text
    assert "  v0.2.0: mlx_cpu (2 ops), mlx_cpu_compile (2 ops), torch_cpu (2 ops)" in text
    assert "  v0.31.1, v0.32.4: mlx_cpu (2 ops), mlx_cpu_compile (2 ops)" in text


class RecordingAsv(FakeAsv):
    """The fake ASV, keeping each call's hashes."""

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[tuple[list[str], list[str]]] = []

    def __call__(self, command: list[str], cwd: Path, env: dict[str, str]) -> int:
        code = super().__call__(command, cwd, env)
        self.runs.append((self.hashes, [command[i + 1] for i, a in enumerate(command) if a == "-b"]))
        return code


def test_a_counted_history_runs_asv_once_per_group_and_says_which_commits_it_left_out(project):
    tags = timeline.tags(project.parent / "timeline.git")
    fake = RecordingAsv()
    p = counted_plan(project)
    ran = history_run.run(p, call=fake)
    assert [hashes for hashes, _ in fake.runs] == [[tags["v0.2.0"]], [tags["v0.31.1"], tags["v0.32.4"]]]
    assert len(fake.runs[0][1]) == 3 and len(fake.runs[1][1]) == 2
    assert history_run.NOT_COUNTED not in ran.summary

    fake = RecordingAsv()
    torch_only = history_run.plan(
        AsvProject(project.parent, "tiny"),
        Selection(OPS, [BACKENDS["torch_cpu"]]),
        installs=lambda r: True,
        metric="instructions",
    )
    ran = history_run.run(torch_only, call=fake)
    assert [hashes for hashes, _ in fake.runs] == [[tags["v0.2.0"]]]
    assert f"{history_run.NOT_COUNTED}: v0.31.1, v0.32.4" in ran.summary


def test_a_counted_compare_leaves_out_the_pinned_torch_whose_counts_cannot_differ(project):
    p = compare.plan(
        AsvProject(project.parent, "tiny"), Selection(OPS, CPU), "v0.31.1", "v0.32.4", metric="instructions"
    )
    regexes: list[str] = []
    heard: list[str] = []

    def fake_asv(command: list[str], cwd: Path, env: dict[str, str]) -> int:
        regexes.append(command[command.index("-b") + 1])
        return 0

    compare_counts.run(p, heard.append, fake_asv)
    moving = [BACKENDS["mlx_cpu"], COMPILED]
    assert regexes == [benchmark_names.selection_regex(OPS, moving, kinds=benchmark_names.COUNTED)] * 2
    assert "not counted: torch_cpu (torch 2.13.0 is pinned, the same build on both sides" in "\n".join(heard)

    torch_only = compare.plan(
        AsvProject(project.parent, "tiny"),
        Selection(OPS, [BACKENDS["torch_cpu"]]),
        "v0.31.1",
        "v0.32.4",
        metric="instructions",
    )
    regexes.clear()
    outcome = compare_counts.run(torch_only, heard.append, fake_asv)
    assert regexes == [] and outcome.code == 0
    assert outcome.warnings == ["nothing counted: torch_cpu cannot differ here"]


def test_counts_of_an_earlier_counting_method_still_prove_compile_neutral(results_copy, tags):
    for release in ("v0.2.0", "v0.32.4"):
        for backend in ("mlx_cpu", "mlx_cpu_compile"):
            plant_counts(results_copy, tags, release, "ReLU", backend)
    for path in (results_copy / "fixture-cpu").glob("*-*.json"):
        text, current = path.read_text(), f"-c{counting.method_revision('mlx')}"
        assert current in text
        path.write_text(text.replace(current, "-c1"))  # stale for reports, still MLX's graphs
    assert counted_commits.compile_neutral(results_copy, OPS, COMPILED) == {"ReLU"}
