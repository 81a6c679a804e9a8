"""The counted series in reports: counted tables, and time changes confirmed or not by the counts.

Counts are planted into a copy of the report fixture (two releases of ``fixture-cpu``) as ASV stores
``track_instructions_`` results; times are scaled where a test needs a time change that beats the noise.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from report_fixture import MACHINE, plant_counts, result_file, row

from mlxbench.harness.benchmark_names import INSTRUCTIONS
from mlxbench.history import compare_counts
from mlxbench.report import render
from mlxbench.report.tables import Report
from mlxbench.stack import releases, timeline
from mlxbench.store import results

TIME_COLUMNS = ("result", "stats_ci_99_a", "stats_ci_99_b", "stats_q_25", "stats_q_75")


@pytest.fixture(scope="module")
def tags(tmp_path_factory) -> dict[str, str]:
    return timeline.sync(tmp_path_factory.mktemp("timeline") / "t.git", releases.load())


def scale_time(root: Path, tags: dict[str, str], release: str, op: str, backend: str, factor: float) -> None:
    """Every time statistic of the benchmark times ``factor``: a change the noise test sees."""
    path = result_file(root, tags, release)
    doc = json.loads(path.read_text())
    columns = doc["result_columns"]
    entry = doc["results"][f"ops.{op}.time_{backend}"]
    for c in TIME_COLUMNS:
        i = columns.index(c)
        if i < len(entry) and entry[i] is not None:
            entry[i] = [v * factor if isinstance(v, float) else v for v in entry[i]]
    i = columns.index("samples")
    if i < len(entry) and entry[i] is not None:
        entry[i] = [[s * factor for s in v] if isinstance(v, list) else v for v in entry[i]]
    path.write_text(json.dumps(doc))


def test_the_counted_table_shows_millions_and_calls_any_change_beyond_a_tenth_of_a_percent(results_copy, tags):
    plant_counts(results_copy, tags, "v0.2.0", "ReLU", "mlx_cpu")
    plant_counts(results_copy, tags, "v0.32.4", "ReLU", "mlx_cpu", scale=1.01)  # a planted 1% change
    plant_counts(results_copy, tags, "v0.2.0", "Softmax", "mlx_cpu")
    plant_counts(results_copy, tags, "v0.32.4", "Softmax", "mlx_cpu", scale=1.0005)  # within the counts' threshold
    report = Report(results.load(results_copy, tags))
    assert report.counted_backends(MACHINE) == ["mlx_cpu"]
    (table,) = report.tables(["counted"])
    relu, softmax = row(table, "ReLU"), row(table, "Softmax")
    n = len(json.loads(result_file(results_copy, tags, "v0.2.0").read_text())["results"]["ops.ReLU.time_mlx_cpu"][1][0])
    mean = (1.0 * 2.0) ** 0.5 if n == 2 else None  # the geometric mean of 1e6 and 2e6, in millions
    if mean is not None:
        assert relu["v0.2.0"] == f"{mean:#.3g}"
    assert relu["v0.32.4"].endswith("(+1.0%)"), "the planted change is flagged"
    assert softmax["v0.32.4"].endswith("(~)"), "and nothing else"
    doc = json.loads(render.render([table], "json"))["tables"][0]
    names = [c["name"] for c in doc["columns"]]
    cells = next(r for r in doc["rows"] if r[0] == "ReLU")
    assert cells[names.index("v0.2.0->v0.32.4 change beats noise")] is True


def test_a_time_change_is_confirmed_where_the_counts_move_the_same_way(results_copy, tags):
    scale_time(results_copy, tags, "v0.32.4", "ReLU", "mlx_cpu", 2.0)
    scale_time(results_copy, tags, "v0.32.4", "Softmax", "mlx_cpu", 2.0)
    for op in ("ReLU", "Softmax"):
        plant_counts(results_copy, tags, "v0.2.0", op, "mlx_cpu")
    plant_counts(results_copy, tags, "v0.32.4", "ReLU", "mlx_cpu", scale=1.3)  # more work: confirms the slowdown
    plant_counts(results_copy, tags, "v0.32.4", "Softmax", "mlx_cpu", scale=1.0)  # the same work: the host moved
    table = Report(results.load(results_copy, tags)).history(MACHINE, "mlx_cpu")
    assert re.search(r"\(\+\d+% ✓\)$", row(table, "ReLU")["v0.32.4"])
    assert re.search(r"\(\+\d+% \?\)$", row(table, "Softmax")["v0.32.4"])
    assert any(n.startswith("✓: the change is confirmed") for n in table.notes)


def test_a_counted_change_with_no_time_change_is_listed(results_copy, tags):
    plant_counts(results_copy, tags, "v0.2.0", "ReLU", "mlx_cpu")
    plant_counts(results_copy, tags, "v0.32.4", "ReLU", "mlx_cpu", scale=1.2)
    table = Report(results.load(results_copy, tags)).history(MACHINE, "mlx_cpu")
    assert row(table, "ReLU")["v0.32.4"].endswith("(~)")
    (listed,) = [n for n in table.notes if n.startswith("Counted changes with no time change")]
    assert "ReLU v0.2.0->v0.32.4 +20.0% instructions" in listed


def test_without_counts_the_time_tables_are_as_before(results_copy, tags):
    scale_time(results_copy, tags, "v0.32.4", "ReLU", "mlx_cpu", 2.0)
    table = Report(results.load(results_copy, tags)).history(MACHINE, "mlx_cpu")
    assert re.search(r"\(\+\d+%\)$", row(table, "ReLU")["v0.32.4"])
    assert not any("✓" in n or "Counted" in n for n in table.notes)
    assert Report(results.load(results_copy, tags)).tables(["history"])  # and no counted table is asked for


def test_the_instructions_metric_fills_the_average_table_with_counts(results_copy, tags):
    plant_counts(results_copy, tags, "v0.32.4", "ReLU", "torch_cpu", scale=3.0)
    table = Report(results.load(results_copy, tags), metric="instructions").average(MACHINE, "v0.32.4")
    cells = row(table, "ReLU")
    assert cells["cpu (M instructions)"] != "n/a" and cells["mlx_cpu (M instructions)"] == "n/a"


def test_compare_names_only_the_variants_whose_instructions_moved():
    base = {("Sigmoid", "a", "mlx_cpu"): {INSTRUCTIONS: 213.9e6}, ("ReLU", "a", "mlx_cpu"): {INSTRUCTIONS: 5.8e6}}
    head = {("Sigmoid", "a", "mlx_cpu"): {INSTRUCTIONS: 239.1e6}, ("ReLU", "a", "mlx_cpu"): {INSTRUCTIONS: 5.8048e6}}
    (moved,) = compare_counts.changes(base, head)
    assert moved.key[0] == "Sigmoid" and moved.ratio() == pytest.approx(239.1 / 213.9)
    assert compare_counts.changes(base, base) == []
    # a small call's fixed part moves by thousands of instructions from run to run: not a change
    small = {("ReLU", "tiny", "mlx_cpu"): {INSTRUCTIONS: 37_836.0}}
    assert compare_counts.changes(small, {("ReLU", "tiny", "mlx_cpu"): {INSTRUCTIONS: 40_120.0}}) == []
