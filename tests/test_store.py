"""The results store: one reader (any number of parameter axes), one file rule, writes that cannot half-happen."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import pytest

from mlxbench.catalog import CATALOG
from mlxbench.harness.asv_suite import benchmark_version
from mlxbench.store import files, loads, machines, repeatability, results

ROOT = Path(__file__).resolve().parents[1]
COMMIT = "0123456789abcdef0123456789abcdef01234567"
ENV = "virtualenv-py3.11-torch2.13.0"
COLUMNS = ["result", "params", "version", "started_at", "samples"]


def result_doc(benchmarks: dict[str, tuple[list[list[str]], list[object]]], commit: str = COMMIT) -> dict:
    """An ASV result document: benchmark -> (parameter axes, one median per combination)."""
    out = {}
    for name, (params, medians) in benchmarks.items():
        op, backend = CATALOG[name.split(".")[1]], name.split(".")[2].partition("_")[2]
        out[name] = [medians, params, benchmark_version(op, backend), 1_700_000_000_000, None]
    return {"commit_hash": commit, "env_name": ENV, "params": {}, "result_columns": COLUMNS, "results": out}


def write_machine(results_dir: Path, machine: str, doc: dict, name: str | None = None) -> Path:
    folder = results_dir / machine
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "machine.json").write_text(json.dumps({"machine": machine, "version": 1}))
    path = folder / (name or f"{doc['commit_hash'][:8]}-{ENV}.json")
    path.write_text(json.dumps(doc))
    return path


def test_the_reader_attaches_each_value_to_its_combination_of_every_parameter_axis(tmp_path):
    """A second axis (a dtype, say) gives the product of the axes, first axis slowest, as ASV stores it."""
    params = [["'2x3'", "'4x5'"], ["'float32'", "'bfloat16'"]]
    write_machine(tmp_path, "m", result_doc({"ops.ReLU.time_mlx_cpu": (params, [1e-3, 2e-3, 3e-3, 4e-3])}))
    loaded = results.load(tmp_path, {"v0.1.0": COMMIT})
    got = {(m.variant, m.axes): m.value for m in loaded.measurements}
    assert got == {
        ("2x3", ("float32",)): 1e-3,
        ("2x3", ("bfloat16",)): 2e-3,
        ("4x5", ("float32",)): 3e-3,
        ("4x5", ("bfloat16",)): 4e-3,
    }


def test_one_axis_keeps_its_variant_ids_and_no_further_axes(tmp_path):
    write_machine(tmp_path, "m", result_doc({"ops.ReLU.time_mlx_cpu": ([["'2x3'", "'4x5'"]], [1e-3, 2e-3])}))
    loaded = results.load(tmp_path, {"v0.1.0": COMMIT})
    assert sorted((m.variant, m.axes, m.release) for m in loaded.measurements) == [
        ("2x3", (), "v0.1.0"),
        ("4x5", (), "v0.1.0"),
    ]


@pytest.mark.parametrize(
    ("median", "why"),
    [(0.0, "not positive"), (-1e-3, "not positive"), (float("inf"), "not a finite number"), ("fast", "not a finite")],
)
def test_an_untrusted_median_is_skipped_with_a_warning_naming_file_and_benchmark(tmp_path, median, why):
    doc = result_doc({"ops.ReLU.time_mlx_cpu": ([["'2x3'", "'4x5'"]], [median, 2e-3])})
    path = write_machine(tmp_path, "m", doc)
    loaded = results.load(tmp_path, {"v0.1.0": COMMIT})
    assert [m.variant for m in loaded.measurements] == ["4x5"]  # the good one stays
    assert any(path.name in p and "ops.ReLU.time_mlx_cpu(2x3)" in p and why in p for p in loaded.problems)


def test_an_absurd_timestamp_is_ignored_with_a_warning(tmp_path):
    doc = result_doc({"ops.ReLU.time_mlx_cpu": ([["'2x3'"]], [1e-3])})
    doc["results"]["ops.ReLU.time_mlx_cpu"][3] = 10**18
    write_machine(tmp_path, "m", doc)
    loaded = results.load(tmp_path, {"v0.1.0": COMMIT})
    assert loaded.measurements[0].started_at == 0
    assert any("started_at" in p and "not a date" in p for p in loaded.problems)


def test_only_asv_result_files_are_results(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    for name in (
        "machine.json",
        "repeatability.json",
        "load.jsonl",
        "notes.json",
        f"{COMMIT[:8]}-{ENV}.json.unreadable",
    ):
        (folder / name).write_text("{}")
    (folder / f"{COMMIT[:8]}-{ENV}.json").write_text("{}")
    (tmp_path / "benchmarks.json").write_text("{}")
    (tmp_path / "not-a-machine").mkdir()
    assert [p.name for p in files.result_files(folder)] == [f"{COMMIT[:8]}-{ENV}.json"]
    assert files.result_files(folder, "fedcba98" + COMMIT[8:]) == []
    assert files.machine_dirs(tmp_path) == [folder]  # not-a-machine holds nothing of a machine


def test_a_file_holds_a_measurement_only_with_a_positive_finite_median():
    def holds(*medians: object) -> bool:
        return files.holds_measurement(result_doc({"ops.ReLU.time_mlx_cpu": ([["'a'"] * len(medians)], list(medians))}))

    assert holds(float("nan"), 1e-3)
    assert not holds(float("nan"), None)  # n/a and failed
    assert not holds(0, -1.0, float("inf"), True)
    assert not files.holds_measurement({"results": "nonsense"})


def test_an_interrupted_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "load.jsonl"
    path.write_text("old\n")

    def crash(*args: object) -> None:
        raise KeyboardInterrupt  # e.g. Ctrl-C between writing the new text and renaming it

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        files.write_atomic(path, "new\n")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["load.jsonl"]  # no temporary file left behind


def test_a_truncated_result_file_is_set_aside_with_a_message_and_the_rest_still_reads(tmp_path, capsys):
    good = write_machine(tmp_path, "m", result_doc({"ops.ReLU.time_mlx_cpu": ([["'2x3'"]], [1e-3])}))
    broken = good.with_name(f"fedcba98-{ENV}.json")
    broken.write_text(good.read_text()[:50])  # a run killed mid-write
    moved = files.set_aside_unreadable(tmp_path / "m")
    assert moved == [broken.with_name(broken.name + files.SET_ASIDE_SUFFIX)] and moved[0].exists()
    assert not broken.exists() and good.exists()
    assert "not valid JSON" in capsys.readouterr().err
    assert [m.variant for m in results.load(tmp_path, {"v0.1.0": COMMIT}).measurements] == ["2x3"]


def test_the_load_file_merges_atomically_the_newest_reading_winning(tmp_path):
    key = (COMMIT, ENV, "ops.ReLU.time_mlx_cpu", "2x3")
    loads.merge(tmp_path, {key: {"busy": True}})
    loads.merge(tmp_path, {key: {"busy": False}, (COMMIT, ENV, "ops.ReLU.time_torch_cpu", "2x3"): {"busy": True}})
    assert loads.busy(tmp_path) == {(COMMIT, ENV, "ops.ReLU.time_torch_cpu", "2x3")}
    with (tmp_path / loads.LOAD_FILE).open("a") as f:
        f.write("not json\n")
    assert len(loads.stored(tmp_path)) == 2  # a bad line is skipped, not fatal


def test_repeatability_appends_a_line_and_the_newest_counts(tmp_path):
    machine = tmp_path / "m"
    repeatability.append(machine, {"within_10pct": 0.8, "p90_abs_change": 0.12}, info={"machine": "m"})
    repeatability.append(machine, {"within_10pct": 0.9, "p90_abs_change": 0.07})
    assert json.loads((machine / "machine.json").read_text())["machine"] == "m"
    assert repeatability.read(machine).fraction == 0.07
    assert repeatability.newest(machine)["within_10pct"] == 0.9
    (machine / repeatability.REPEATABILITY_FILE).write_text(json.dumps({"within_10pct": 7, "p90_abs_change": 0.1}))
    with pytest.raises(ValueError, match="within_10pct"):
        repeatability.read(machine)


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("history", ("mlxbench.report", "mlxbench.cli", "mlxbench.commands")),
        ("report", ("mlxbench.history", "mlxbench.cli", "mlxbench.commands")),
        ("store", ("mlxbench.history", "mlxbench.report", "mlxbench.cli", "mlxbench.commands")),
    ],
)
def test_history_report_and_store_never_import_each_other_the_wrong_way(package, forbidden):
    offenders = {
        f"{path.name}: {name}"
        for path in (ROOT / "mlxbench" / package).glob("*.py")
        for name in _imports(path)
        if name.startswith(forbidden)
    }
    assert not offenders


def test_no_package_module_is_over_500_lines():
    long = {
        str(p.relative_to(ROOT)): n
        for p in (ROOT / "mlxbench").rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 500
    }
    assert not long


def test_the_machine_registry_keeps_other_machines_and_sets_a_broken_one_aside(tmp_path, capsys):
    path = tmp_path / ".asv-machine.json"
    path.write_text(json.dumps({"other": {"machine": "other"}, "version": 1}))
    machines.register({"machine": "mine", "cpu": "x"}, path)
    doc = json.loads(path.read_text())
    assert doc["other"] == {"machine": "other"} and doc["mine"]["cpu"] == "x" and doc["version"] == 1
    path.write_text('{"other": ')  # truncated by a crash of ASV's own writer
    machines.register({"machine": "mine"}, path)
    assert json.loads(path.read_text())["mine"] == {"machine": "mine"}
    assert path.with_name(path.name + files.SET_ASIDE_SUFFIX).read_text() == '{"other": '
    assert "set aside" in capsys.readouterr().err
