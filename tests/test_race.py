"""Reports show both axes of the stack timeline: each framework's own history, its pair, and the race.

The recorded fixture (tests/fixtures/results) is a pinned environment: torch
2.13.0 at v0.2.0 and v0.32.4. The timeline-mode series is built here from its
v0.32.4 file, re-filed at three commits with planted factors, as ASV would
file a configuration without torch in its matrix:

- ``torch-v2.12.0`` (mlx 0.31.2, torch 2.12.0): the file as recorded;
- ``torch-v2.12.1`` (mlx 0.31.2, torch 2.12.1): torch ReLU 0.7x, Softmax 1.04x,
  every MLX benchmark 1.05x (drift: MLX did not change);
- ``v0.32.0`` (mlx 0.32.0, torch 2.12.1): as torch-v2.12.1, then mlx_cpu ReLU
  1.3x and every torch benchmark 1.02x (drift: torch did not change).

Expected cells are worked out from those factors and the raw medians.
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
import re
import shutil
from pathlib import Path

import pytest
from report_fixture import FIXTURE, MACHINE, row

from mlxbench.cli import main
from mlxbench.report import plots, readme, render
from mlxbench.report.formatting import format_pct, format_ratio
from mlxbench.report.tables import RACES, Report
from mlxbench.stack import releases, timeline
from mlxbench.store import results

TIMELINE_ENV = "virtualenv-py3.11-numpy-packaging"
PINNED_ENV = "virtualenv-py3.11-numpy-packaging-torch2.13.0"


@pytest.fixture(scope="module")
def tags(tmp_path_factory) -> dict[str, str]:
    return timeline.sync(tmp_path_factory.mktemp("timeline") / "t.git", releases.load())


def _source(tags: dict[str, str], release: str) -> dict:
    (path,) = (FIXTURE / MACHINE).glob(f"{tags[release][:8]}-*.json")
    return json.loads(path.read_text())


def raw(tags: dict[str, str], op: str, backend: str, release: str = "v0.32.4") -> list[float]:
    """The recorded medians (seconds) of one time benchmark, straight from the fixture file."""
    doc = _source(tags, release)
    return dict(zip(doc["result_columns"], doc["results"][f"ops.{op}.time_{backend}"]))["result"]


def gmean_ms(values: list[float], factor: float = 1.0) -> float:
    return math.prod(values) ** (1 / len(values)) * factor * 1e3


def file_timeline_result(root: Path, tags: dict[str, str], tag: str, factor) -> Path:
    """The fixture's v0.32.4 run re-filed at ``tag`` in a timeline environment, each time benchmark scaled.

    ``factor(name)`` gives the scale of benchmark ``name``; medians, CIs and
    quartiles scale together, as they would if the code ran that much slower.
    """
    doc = _source(tags, "v0.32.4")
    doc["commit_hash"] = tags[tag]
    doc["env_name"] = TIMELINE_ENV
    for key in ("params", "requirements"):
        doc[key].pop("torch")
    columns = doc["result_columns"]
    for name, values in doc["results"].items():
        entry = dict(zip(columns, values))
        for col in ("result", "stats_ci_99_a", "stats_ci_99_b", "stats_q_25", "stats_q_75"):
            if ".time_" in name and entry.get(col) is not None:
                entry[col] = [None if v is None else v * factor(name) for v in entry[col]]
        doc["results"][name] = [entry[c] for c in columns[: len(values)]]
    path = root / MACHINE / f"{tags[tag][:8]}-{TIMELINE_ENV}.json"
    path.write_text(json.dumps(doc))
    return path


TORCH_2_12_1 = {"ops.ReLU.time_torch_cpu": 0.7, "ops.Softmax.time_torch_cpu": 1.04}


def at_torch_2_12_1(name: str) -> float:
    return 1.05 if "_mlx_" in name else TORCH_2_12_1.get(name, 1.0)


def at_v0_32_0(name: str) -> float:
    if "_mlx_" in name:
        return 1.05 * (1.3 if name == "ops.ReLU.time_mlx_cpu" else 1.0)
    return at_torch_2_12_1(name) * 1.02


def build_timeline(root: Path, tags: dict[str, str]) -> None:
    file_timeline_result(root, tags, "torch-v2.12.0", lambda name: 1.0)
    file_timeline_result(root, tags, "torch-v2.12.1", at_torch_2_12_1)
    file_timeline_result(root, tags, "v0.32.0", at_v0_32_0)


@pytest.fixture
def timeline_only(tmp_path, tags) -> Path:
    """A results directory whose one machine has only the timeline-mode series."""
    root = tmp_path / "timeline-results"
    (root / MACHINE).mkdir(parents=True)
    shutil.copy(FIXTURE / MACHINE / "machine.json", root / MACHINE)
    build_timeline(root, tags)
    return root


@pytest.fixture
def both_modes(tmp_path, tags) -> Path:
    """The recorded pinned series and the timeline series, one machine."""
    root = Path(shutil.copytree(FIXTURE, tmp_path / "results"))
    build_timeline(root, tags)
    return root


def headings(table) -> list[str]:
    return [c.name for c in table.columns]


# -- the races come from the backends ------------------------------------------


def test_races_pair_each_mlx_backend_with_torch_on_the_same_kind_of_device():
    assert RACES == (("mlx_gpu", "torch_mps"), ("mlx_gpu", "torch_cuda"), ("mlx_cpu", "torch_cpu"))


# -- pinned mode: the recorded fixture -------------------------------------------


def test_pinned_average_header_names_both_versions_and_the_mode(tags):
    table = Report(results.load(FIXTURE, tags)).average(MACHINE, "v0.32.4")
    assert table.title == "Average benchmark: fixture-cpu, mlx v0.32.4, torch 2.13.0 (pinned)"
    assert (table.meta["mlx"], table.meta["torch"], table.meta["mode"]) == ("0.32.4", "2.13.0", "pinned")
    assert f"Pinned mode: torch 2.13.0 at every commit (the environment {PINNED_ENV} pins it)" in render.markdown(table)


def test_pinned_histories_have_mlx_release_columns_and_one_pinned_torch_column(tags):
    report = Report(results.load(FIXTURE, tags))
    assert headings(report.history(MACHINE, "mlx_cpu")) == ["Operation", "v0.2.0", "v0.32.4", "v0.2.0->v0.32.4 change"]
    torch = report.history(MACHINE, "torch_cpu")
    assert headings(torch) == ["Operation", "torch 2.13.0"]
    assert torch.meta["points"] == {"torch 2.13.0": "v0.32.4"}  # both measured it all: the newest
    text = render.markdown(torch)
    assert "History: fixture-cpu, cpu (torch_cpu) across torch releases" in text
    assert "torch is pinned to 2.13.0 in this environment" in text and "measured that one torch at 2 commit(s)" in text
    assert row(torch, "ReLU")["torch 2.13.0"] == f"{gmean_ms(raw(tags, 'ReLU', 'torch_cpu', 'v0.32.4')):#.3g}"
    assert "(" not in row(torch, "ReLU")["torch 2.13.0"]  # v0.32.4's torch run is a control, never a change


def test_pinned_race_is_the_mlx_over_torch_ratio_at_each_mlx_commit(tags):
    table = Report(results.load(FIXTURE, tags)).race(MACHINE, "mlx_cpu", "torch_cpu")
    assert table.title == "Race: fixture-cpu, mlx_cpu vs cpu"
    assert headings(table) == ["Operation", "v0.2.0", "v0.32.4", "v0.2.0->v0.32.4 change"]
    for release in ("v0.2.0", "v0.32.4"):
        expected = gmean_ms(raw(tags, "Softmax", "mlx_cpu", release)) / gmean_ms(
            raw(tags, "Softmax", "torch_cpu", release)
        )
        assert row(table, "Softmax")[release].split(" ")[0] == format_ratio(expected)
    assert row(table, "ScaledDotProductAttention")["v0.2.0"] == "n/a"  # no mx.fast in 0.2.0
    assert table.meta["stacks"]["v0.2.0"] == {"mlx": "0.2.0", "torch": "2.13.0"}  # the pin, not the plan's 2.2.0
    assert (table.meta["mlx_backend"], table.meta["torch_backend"]) == ("mlx_cpu", "torch_cpu")


def test_cli_race_table_only_races_the_backends_this_machine_ran(capsys):
    code = main(["report", "--preset", "tiny", "--results", str(FIXTURE), "--table", "race", "--format", "json"])
    out, _ = capsys.readouterr()
    doc = json.loads(out)
    assert code == 0
    assert [(t["kind"], t["mlx_backend"], t["torch_backend"]) for t in doc["tables"]] == [
        ("race", "mlx_cpu", "torch_cpu")
    ]
    columns = [(c["name"], c["unit"]) for c in doc["tables"][0]["columns"]]
    assert columns == [
        ("Operation", None),
        ("v0.2.0", "x"),
        ("v0.32.4", "x"),
        ("v0.2.0->v0.32.4 change", "%"),
        ("v0.2.0->v0.32.4 change beats noise", None),
    ]


# -- timeline mode: built from the fixture ---------------------------------------


def test_timeline_histories_have_one_column_per_release_of_their_own_framework(timeline_only, tags):
    report = Report(results.load(timeline_only, tags))
    torch = report.history(MACHINE, "torch_cpu")
    assert headings(torch) == ["Operation", "torch 2.12.0", "torch 2.12.1", "torch 2.12.0->torch 2.12.1 change"]
    assert torch.meta["points"] == {"torch 2.12.0": "torch-v2.12.0", "torch 2.12.1": "torch-v2.12.1"}
    text = render.markdown(torch)
    assert "1 later commit(s) measured a torch release already shown" in text  # v0.32.0: torch 2.12.1 again
    assert "torch is pinned" not in text and "Timeline mode: each commit's own torch" in text
    mlx = report.history(MACHINE, "mlx_cpu")
    assert headings(mlx) == ["Operation", "v0.31.2", "v0.32.0", "v0.31.2->v0.32.0 change"]
    assert "Measured at another commit than the release's own: v0.31.2 at torch-v2.12.0." in render.markdown(mlx)


def test_a_torch_release_is_judged_against_the_mlx_backends_drift(timeline_only, tags):
    report = Report(results.load(timeline_only, tags))
    torch = report.history(MACHINE, "torch_cpu")
    relu = gmean_ms(raw(tags, "ReLU", "torch_cpu"))
    assert row(torch, "ReLU") == {
        "Operation": "ReLU",
        "torch 2.12.0": f"{relu:#.3g}",
        "torch 2.12.1": f"{relu * 0.7:#.3g} (-30%)",  # beats the MLX backends' 5% drift
    }
    assert row(torch, "Softmax")["torch 2.12.1"].endswith("(~)")  # +4%: inside it
    floor = re.search(
        r"torch 2\.12\.0->torch 2\.12\.1 (\d+)% \(.* of mlx_cpu, mlx_cpu_compile, whose mlx 0\.31\.2 ",
        render.markdown(torch),
    )
    assert floor and int(floor[1]) == 5
    # MLX's columns are v0.31.2 at torch-v2.12.0 (its earliest) and v0.32.0, where torch had changed too:
    # no controls between them, so the default floor
    mlx = report.history(MACHINE, "mlx_cpu")
    assert row(mlx, "ReLU")["v0.32.0"].endswith(f"({format_pct((1.05 * 1.3 - 1) * 100)})")
    assert row(mlx, "Softmax")["v0.32.0"].endswith("(~)")  # +5%
    assert "v0.31.2->v0.32.0 10% (default: no control benchmarks" in render.markdown(mlx)


def test_timeline_average_header_names_the_commits_pair(timeline_only, tags):
    report = Report(results.load(timeline_only, tags))
    assert (
        report.average(MACHINE, "v0.32.0").title
        == "Average benchmark: fixture-cpu, mlx v0.32.0, torch 2.12.1 (timeline)"
    )
    assert report.average(MACHINE, "torch-v2.12.0").title.endswith("mlx v0.31.2, torch 2.12.0 (timeline)")


def test_timeline_race_marks_only_the_changes_of_the_framework_that_changed(timeline_only, tags):
    table = Report(results.load(timeline_only, tags)).race(MACHINE, "mlx_cpu", "torch_cpu")
    assert [c.name for c in table.columns if c.kind == "ratio"] == ["torch-v2.12.0", "torch-v2.12.1", "v0.32.0"]
    base = gmean_ms(raw(tags, "ReLU", "mlx_cpu")) / gmean_ms(raw(tags, "ReLU", "torch_cpu"))
    relu = row(table, "ReLU")
    assert relu["torch-v2.12.0"] == format_ratio(base)
    # torch got 30% faster (a change) while MLX drifted 5%: the ratio rose by 1.05 / 0.7
    assert relu["torch-v2.12.1"] == f"{format_ratio(base * 1.05 / 0.7)} ({format_pct((1.05 / 0.7 - 1) * 100)})"
    # MLX got 30% slower (a change) while torch drifted 2%
    assert relu["v0.32.0"] == f"{format_ratio(base * 1.05 * 1.3 / 0.7 / 1.02)} ({format_pct((1.3 / 1.02 - 1) * 100)})"
    softmax = row(table, "Softmax")  # torch +4% inside the 5% floor; then nothing of MLX changed beyond its drift
    assert softmax["torch-v2.12.1"].endswith("(~)") and softmax["v0.32.0"].endswith("(~)")
    assert "Pairs: torch-v2.12.0 = mlx 0.31.2 + torch 2.12.0" in render.markdown(table)


def test_a_ratio_moved_only_by_the_unchanged_frameworks_drift_is_not_a_change(timeline_only, tags):
    """torch changed at torch-v2.12.1, but LayerNorm's ratio rose 50% because MLX's LayerNorm drifted: `~`."""
    file_timeline_result(
        timeline_only,
        tags,
        "torch-v2.12.1",
        lambda name: 1.5 if name == "ops.LayerNorm.time_mlx_cpu" else at_torch_2_12_1(name),
    )
    table = Report(results.load(timeline_only, tags)).race(MACHINE, "mlx_cpu", "torch_cpu")
    step = "torch-v2.12.0->torch-v2.12.1"
    floor = table.meta["noise_floors"][step]["fraction"]
    layer_norm = next(r for r in table.rows if r[0] == "LayerNorm")[headings(table).index(f"{step} change")]
    assert layer_norm == pytest.approx(50.0) and layer_norm > floor * 100  # beyond the floor, yet
    assert not layer_norm.beats_noise  # torch's LayerNorm did not change: the ratio's move is MLX's drift
    assert row(table, "ReLU")["torch-v2.12.1"].endswith("(+50%)")  # torch's ReLU did


# -- both modes on one machine: two series, never spliced -----------------------------


def test_pinned_and_timeline_results_of_one_machine_are_two_series(both_modes, tags):
    report = Report(results.load(both_modes, tags))
    pinned, timeline_series = f"{MACHINE} [{PINNED_ENV}]", f"{MACHINE} [{TIMELINE_ENV}]"
    assert report.series == [pinned, timeline_series]  # the pinned environment first
    assert report.releases_of(pinned) == ["v0.2.0", "v0.32.4"]
    assert report.releases_of(timeline_series) == ["torch-v2.12.0", "torch-v2.12.1", "v0.32.0"]
    assert headings(report.history(pinned, "torch_cpu")) == ["Operation", "torch 2.13.0"]
    assert report.history(timeline_series, "torch_cpu").title.startswith(
        "History: fixture-cpu (each commit's torch), cpu (torch_cpu)"
    )
    only = Report(results.load(both_modes, tags), mode="timeline")
    assert only.series == [MACHINE] and only.mode(MACHINE) == "timeline"


def with_torch_threads(root: Path, threads: str) -> None:
    """Every result file re-filed as ASV files a matrix with ``MLXBENCH_TORCH_THREADS``: env_vars and the name."""
    for path in sorted((root / MACHINE).glob("*-virtualenv-*.json")):
        doc = json.loads(path.read_text())
        doc["env_vars"] = {"MLXBENCH_TORCH_THREADS": threads}
        doc["env_name"] += f"-MLXBENCH_TORCH_THREADS{threads}"
        path.unlink()
        (root / MACHINE / f"{doc['commit_hash'][:8]}-{doc['env_name']}.json").write_text(json.dumps(doc))


def test_each_series_of_one_machine_is_named_as_a_reader_names_it(both_modes, tags, tmp_path):
    from mlxbench.report import pages

    with_torch_threads(both_modes, "1")
    loaded = results.load(both_modes, tags)
    report = Report(loaded)
    assert [report.setting(s) for s in report.series] == [
        "torch 2.13.0 pinned, 1 thread",
        "each commit's torch, 1 thread",
    ]
    titles = [t.title for t in report.tables(["average", "history", "race"])]
    assert "History: fixture-cpu (torch 2.13.0 pinned, 1 thread), mlx_cpu across MLX releases" in titles
    assert "History: fixture-cpu (each commit's torch, 1 thread), mlx_cpu across MLX releases" in titles
    assert not any("virtualenv" in title for title in titles)  # the ASV environment's name stays in the notes
    pages.write(tmp_path / "chips", loaded, {}, None)
    index = (tmp_path / "chips" / "index.html").read_text()
    rows = re.findall(r'<tr><th scope="row">.*?</tr>', index)  # per series: the machine, then its cells
    series = [html.unescape(re.search(r"<td>(.*?)</td>", row)[1]) for row in rows]
    assert series == ["torch 2.13.0 pinned, 1 thread", "each commit's torch, 1 thread"]


def test_a_pinned_and_a_timeline_run_of_the_same_commit_both_stay(both_modes, tags):
    file_timeline_result(both_modes, tags, "v0.32.4", lambda name: 2.0)
    report = Report(results.load(both_modes, tags))
    pinned, timeline_series = report.series
    one = gmean_ms(raw(tags, "ReLU", "mlx_cpu"))
    assert row(report.average(pinned, "v0.32.4"), "ReLU")["mlx_cpu"] == f"{one:#.3g}"
    assert row(report.average(timeline_series, "v0.32.4"), "ReLU")["mlx_cpu"] == f"{one * 2:#.3g}"
    assert report.average(timeline_series, "v0.32.4").title.endswith("mlx v0.32.4, torch 2.14.1 (timeline)")


def test_readme_shows_the_average_then_both_frameworks_histories_and_the_race_as_plots(both_modes, tags, tmp_path):
    """The wide tables (a column per release) live on the chip page the README links; the README keeps the
    average table and the plots."""
    doc = tmp_path / "README.md"
    doc.write_text(f"{readme.START}\n{readme.END}\n")
    readme.update(doc, Report(results.load(both_modes, tags)), tmp_path / "docs")
    text = doc.read_text()
    titles = re.findall(r"^### (.*)$", text, flags=re.M)
    assert [t.split(":")[0] for t in titles] == ["Average benchmark"]
    assert titles[0].endswith("mlx v0.32.4, torch 2.13.0 (pinned)")
    assert "[`html/chips/fixture-cpu.html`](html/chips/fixture-cpu.html)" in text
    images = re.findall(r"^!\[(.*?)\]\((docs/[^)]+)\)$", text, flags=re.M)
    alts = [alt.split(": ", 1)[1] for alt, _ in images]
    assert alts == [
        "mlx_cpu across MLX releases",
        "mlx_cpu vs torch_cpu over time",
        "mlx_cpu across MLX releases",
        "torch_cpu across torch releases",  # the timeline's torch history; the pinned one has 1 column
        "mlx_cpu vs torch_cpu over time",
    ]
    assert all((tmp_path / path).exists() for _, path in images)


def test_race_plots_are_written_per_series(timeline_only, tags, tmp_path):
    written = {p.name for p in plots.write(Report(results.load(timeline_only, tags)), tmp_path)}
    assert "race-fixture-cpu-mlx_cpu-torch_cpu.png" in written
    assert (tmp_path / "race-fixture-cpu-mlx_cpu-torch_cpu.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_partial_run_at_an_older_release_never_hides_the_newest_complete_torch_measurement(tags):
    """A ReLU-only run at v0.2.0: the pinned torch column still comes from v0.32.4, which measured every op."""
    loaded = results.load(FIXTURE, tags)
    partial = [
        m for m in loaded.measurements if not (m.release == "v0.2.0" and m.backend == "torch_cpu" and m.op != "ReLU")
    ]
    torch = Report(dataclasses.replace(loaded, measurements=partial)).history(MACHINE, "torch_cpu")
    assert torch.meta["points"] == {"torch 2.13.0": "v0.32.4"}
    assert {r[0] for r in torch.rows} == {m.op for m in loaded.measurements if m.backend == "torch_cpu"}
