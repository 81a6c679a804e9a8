"""`mlxbench report` on a real recorded run (tests/fixtures/results, see record.py).

Expected cells are worked out here by hand from the raw medians in the fixture
files (read with plain json, not through mlxbench), so the tables are checked
against the formula, not against themselves.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import shutil
from pathlib import Path

import pytest

from mlxbench.cli import main
from mlxbench.errors import UsageError
from mlxbench.history import releases, timeline
from mlxbench.report import plots, readme, render, results, tables
from mlxbench.report.tables import Report, format_ms, format_pct, format_rate

FIXTURE = Path(__file__).parent / "fixtures" / "results"
MACHINE = "fixture-cpu"


@pytest.fixture(scope="module")
def tags(tmp_path_factory) -> dict[str, str]:
    return timeline.sync(tmp_path_factory.mktemp("timeline") / "t.git", releases.load())


@pytest.fixture(scope="module")
def loaded(tags) -> results.ResultSet:
    return results.load(FIXTURE, tags)


def raw(tags: dict[str, str], release: str, op: str, backend: str, kind: str = "time") -> dict[str, float]:
    """variant -> median seconds (peak bytes for peakmem), straight from the ASV file."""
    (path,) = (FIXTURE / MACHINE).glob(f"{tags[release][:8]}-*.json")
    doc = json.loads(path.read_text())
    entry = dict(zip(doc["result_columns"], doc["results"][f"ops.{op}.{kind}_{backend}"]))
    return {p.strip("'"): v for p, v in zip(entry["params"][0], entry["result"])}


def row(table, op: str) -> dict[str, str]:
    """The markdown row of ``op`` as heading -> cell text."""
    lines = render.markdown(table).splitlines()
    header = next(line for line in lines if line.startswith("| Operation"))
    names = [c.strip() for c in header.strip("|").split("|")]
    cells = next(line for line in lines if line.startswith(f"| {op} |"))
    return dict(zip(names, (c.strip() for c in cells.strip("|").split("|"))))


def test_formatting_rounds_instead_of_truncating():
    assert format_pct(57.5) == "+58%"
    assert format_pct(-41.5) == "-42%"
    assert format_pct(-0.4) == "+0%"
    assert format_pct(None) == "n/a"
    assert format_ms(2 / 3) == "0.667"
    assert format_ms(0.01236) == "0.0124"
    assert format_ms(1234.5678) == "1234.57"
    assert format_ms(None) == "n/a"


def test_average_is_the_geometric_mean_in_ms_with_the_older_speedup_formula(tags, loaded):
    table = Report(loaded).average(MACHINE, "v0.32.4")
    cpu = raw(tags, "v0.32.4", "ReLU", "mlx_cpu")
    compiled = raw(tags, "v0.32.4", "ReLU", "mlx_cpu_compile")
    torch = raw(tags, "v0.32.4", "ReLU", "torch_cpu")
    mean = {
        name: math.sqrt(math.prod(v.values())) * 1e3
        for name, v in (("mlx_cpu", cpu), ("mlx_cpu_compile", compiled), ("cpu", torch))
    }
    cells = row(table, "ReLU")
    for name, value in mean.items():
        assert cells[name] == format_ms(value)
    assert cells["mlx_cpu_compile/mlx_cpu speedup"] == format_pct((mean["mlx_cpu"] / mean["mlx_cpu_compile"] - 1) * 100)
    assert cells["mlx_cpu/cpu speedup"] == format_pct((mean["cpu"] / mean["mlx_cpu"] - 1) * 100)
    assert "geometric mean over its variants" in render.markdown(table)


def test_arithmetic_mean_is_an_option_and_the_header_says_so(tags, loaded):
    table = Report(loaded, how="arithmetic").average(MACHINE, "v0.32.4")
    cpu = raw(tags, "v0.32.4", "Softmax", "mlx_cpu")
    assert row(table, "Softmax")["mlx_cpu"] == format_ms(sum(cpu.values()) / len(cpu) * 1e3)
    assert "arithmetic mean over its variants" in render.markdown(table)


def test_missing_api_prints_na_and_backends_never_run_get_no_column(loaded):
    table = Report(loaded).average(MACHINE, "v0.2.0")
    text = render.markdown(table)
    assert "nan" not in text
    cells = row(table, "ScaledDotProductAttention")
    assert cells["mlx_cpu"] == "n/a" and cells["mlx_cpu/cpu speedup"] == "n/a"
    assert cells["cpu"] != "n/a"
    assert "mlx_gpu" not in text and "mps" not in text and "cuda" not in text


def test_detailed_table_has_one_row_per_variant(tags, loaded):
    table = Report(loaded).detailed(MACHINE, "v0.32.4")
    softmax = raw(tags, "v0.32.4", "Softmax", "torch_cpu")
    rows = [r for r in table.rows if r[0] == "Softmax"]
    assert [r[1] for r in rows] == ["3x50-axis-1", "50x3-axis-1", "2x3x4x9-axis-1", "2x3x4x9-axis1"]  # catalog order
    cpu_col = [c.name for c in table.columns].index("cpu")
    assert {r[1]: r[cpu_col] for r in rows} == pytest.approx({k: v * 1e3 for k, v in softmax.items()})


def test_history_shows_each_release_and_the_change(tags, loaded):
    table = Report(loaded).history(MACHINE, "mlx_cpu")
    old = math.sqrt(math.prod(raw(tags, "v0.2.0", "ReLU", "mlx_cpu").values())) * 1e3
    new = math.sqrt(math.prod(raw(tags, "v0.32.4", "ReLU", "mlx_cpu").values())) * 1e3
    cells = row(table, "ReLU")
    assert cells["v0.2.0"] == format_ms(old)
    assert cells["v0.32.4"] == f"{format_ms(new)} ({format_pct((new / old - 1) * 100)})"
    assert row(table, "LayerNorm")["v0.2.0"] == "n/a"  # mx.fast.layer_norm is newer than 0.2.0


def test_memory_metric_is_the_largest_variants_peak(tags, loaded):
    table = Report(loaded, metric="memory").average(MACHINE, "v0.32.4")
    peaks = raw(tags, "v0.32.4", "Softmax", "torch_cpu", kind="peakmem")
    assert row(table, "Softmax")["cpu (MB)"] == format_rate(max(peaks.values()) / 1e6)
    assert "Peak resident memory" in render.markdown(table)


def test_a_preset_keeps_only_its_own_variants(loaded, capsys):
    assert Report(loaded, preset="tiny").average(MACHINE, "v0.32.4").rows
    with pytest.raises(UsageError, match="no results match"):
        Report(loaded, preset="default").tables(["average"])  # the fixture ran the tiny preset only
    code, _, err = run_cli(capsys, "--results", str(FIXTURE), "--preset", "default")
    assert code == 2 and "no results match" in err


def test_release_range_selects_columns(loaded):
    only_new = Report(loaded, release_range="v0.32.4").history(MACHINE, "mlx_cpu")
    assert [c.name for c in only_new.columns] == ["Operation", "v0.32.4"]
    with pytest.raises(UsageError, match="comes after"):
        Report(loaded, release_range="v0.32.4..v0.2.0")


def test_csv_and_json_carry_unrounded_numbers(tags, loaded):
    report = Report(loaded, machines=[MACHINE])
    table = report.average(MACHINE, "v0.32.4")
    lines = [line for line in render.csv_text(table).splitlines() if not line.startswith("#")]
    parsed = {r["Operation"]: r for r in csv.DictReader(io.StringIO("\n".join(lines)))}
    expected = math.sqrt(math.prod(raw(tags, "v0.32.4", "ReLU", "mlx_cpu").values())) * 1e3
    assert float(parsed["ReLU"]["mlx_cpu (ms)"]) == pytest.approx(expected, rel=1e-5)
    assert parsed["LayerNorm"]["mlx_cpu (ms)"] != ""
    doc = json.loads(render.render([table], "json"))
    assert doc["tables"][0]["aggregation"] == "geometric"
    na = Report(loaded).average(MACHINE, "v0.2.0")
    doc = json.loads(render.render([na], "json"))
    sdpa = next(r for r in doc["tables"][0]["rows"] if r[0] == "ScaledDotProductAttention")
    assert sdpa[1] is None  # n/a is null, never NaN


@pytest.fixture
def results_copy(tmp_path) -> Path:
    return Path(shutil.copytree(FIXTURE, tmp_path / "results"))


def _result_file(root: Path, tags: dict[str, str], release: str) -> Path:
    (path,) = (root / MACHINE).glob(f"{tags[release][:8]}-*.json")
    return path


def test_a_failed_benchmark_prints_failed(results_copy, tags):
    path = _result_file(results_copy, tags, "v0.32.4")
    doc = json.loads(path.read_text())
    doc["results"]["ops.ReLU.time_mlx_cpu"][0][0] = None  # ASV's null: the benchmark raised
    path.write_text(json.dumps(doc))
    table = Report(results.load(results_copy, tags)).average(MACHINE, "v0.32.4")
    assert row(table, "ReLU")["mlx_cpu"] == "failed"


def test_stale_benchmark_versions_are_ignored_and_reported(results_copy, tags):
    path = _result_file(results_copy, tags, "v0.32.4")
    doc = json.loads(path.read_text())
    doc["results"]["ops.ReLU.time_mlx_cpu"][2] = "ReLU-r0-h0"
    path.write_text(json.dumps(doc))
    loaded = results.load(results_copy, tags)
    assert any("ops.ReLU.time_mlx_cpu" in p and "ReLU-r0-h0" in p for p in loaded.problems)
    assert not [
        m for m in loaded.measurements if (m.op, m.backend, m.release, m.kind) == ("ReLU", "mlx_cpu", "v0.32.4", "time")
    ]


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["report", "--preset", "tiny", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_prints_all_three_tables_with_release_names(capsys):
    code, out, _ = run_cli(capsys, "--results", str(FIXTURE))
    assert code == 0
    assert "Average benchmark: fixture-cpu, mlx v0.32.4" in out
    assert "Detailed benchmark: fixture-cpu, mlx v0.32.4" in out
    assert "History: fixture-cpu, mlx_cpu" in out and "| v0.2.0 | v0.32.4 |" in out


@pytest.mark.parametrize(
    "args, named",
    [
        (["--machine", "M9 Ultra"], "machines with results: fixture-cpu"),
        (["--backend", "tpu"], "valid backends: mlx_gpu"),
        (["--release", "v9.9.9"], "releases with results: v0.2.0, v0.32.4"),
        (["--format", "xml"], "valid formats: markdown, csv, json"),
        (["--metric", "joules"], "valid metrics: time, bandwidth, flops, roofline, memory"),
        (["--metric", "roofline"], "run `mlxbench calibrate`"),
        (["--preset", "huge"], "valid presets: default, seed, tiny"),
    ],
)
def test_cli_bad_input_exits_2_naming_what_exists(capsys, args, named):
    code, out, err = run_cli(capsys, "--results", str(FIXTURE), *args)
    assert code == 2 and out == ""
    assert named in err


def test_partly_unreadable_results_render_the_rest(capsys, results_copy, tags):
    _result_file(results_copy, tags, "v0.2.0").write_text("{ not json")
    code, out, err = run_cli(capsys, "--results", str(results_copy), "--table", "history")
    assert code == 0
    assert "skipped" in err and tags["v0.2.0"][:8] in err
    assert "| v0.32.4 |" in out and "v0.2.0" not in out


def test_wholly_unreadable_results_exit_2(capsys, results_copy):
    for path in (results_copy / MACHINE).glob("*-*.json"):
        path.write_text("[]")
    code, out, err = run_cli(capsys, "--results", str(results_copy))
    assert code == 2 and "nothing readable" in err and "not an ASV results file" in err


def test_missing_results_directory_exits_2(capsys, tmp_path):
    code, _, err = run_cli(capsys, "--results", str(tmp_path / "nowhere"))
    assert code == 2 and "no results directory" in err


def test_plots_are_pngs_one_per_backend_plus_the_bar_chart(loaded, tmp_path):
    from matplotlib.image import imread

    written = plots.write(Report(loaded), tmp_path)
    names = sorted(p.name for p in written)
    assert names == sorted(
        ["backends-fixture-cpu.png"]
        + [f"history-fixture-cpu-{b}.png" for b in ("mlx_cpu", "mlx_cpu_compile", "torch_cpu")]
    )
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        pixels = imread(path)
        height, width, _ = pixels.shape
        assert width >= 600 and height >= 200
        assert pixels.std() > 0.05, f"{path.name} is blank"


def test_readme_section_is_rewritten_between_markers_only(loaded, tmp_path):
    doc = tmp_path / "README.md"
    doc.write_text(f"# title\nbefore\n{readme.START}\nold table\n{readme.END}\nafter\n")
    readme.update(doc, Report(loaded), tmp_path / "docs")
    text = doc.read_text()
    assert text.startswith("# title\nbefore\n") and text.endswith(f"{readme.END}\nafter\n")
    assert "old table" not in text and "Average benchmark: fixture-cpu" in text
    assert "![fixture-cpu: mlx_cpu across MLX releases](docs/history-fixture-cpu-mlx_cpu.png)" in text
    assert (tmp_path / "docs" / "history-fixture-cpu-mlx_cpu.png").exists()
    doc.write_text("no markers\n")
    with pytest.raises(UsageError, match="no results markers"):
        readme.update(doc, Report(loaded), tmp_path / "docs")


def test_header_prints_the_threads_and_mlx_float32_setting_the_machine_recorded(loaded):
    recorded = {
        **loaded.machines[MACHINE],
        "torch_threads": 2,
        "mlx_cpu_threads": "1 (single-threaded CPU backend)",
        "mlx_enable_tf32": "0",
    }
    with_threads = dataclasses.replace(loaded, machines={**loaded.machines, MACHINE: recorded})
    text = render.markdown(Report(with_threads).average(MACHINE, "v0.32.4"))
    assert "Threads: torch 2, MLX CPU 1 (single-threaded CPU backend)." in text
    assert "MLX_ENABLE_TF32" not in text  # no MLX GPU column on this machine: nothing to say
    assert "Threads:" not in render.markdown(Report(loaded).average(MACHINE, "v0.32.4"))  # not recorded: no claim
    assert tables._machine_notes(recorded, ["mlx_gpu", "mlx_cpu"])[-1].startswith("MLX GPU float32: MLX_ENABLE_TF32=0")
