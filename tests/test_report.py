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
import re
import shutil
from pathlib import Path

import pytest
from report_fixture import FIXTURE, MACHINE, result_file, row

from mlxbench.cli import main
from mlxbench.errors import UsageError
from mlxbench.history import asv_project
from mlxbench.history.asv_project import AsvProject
from mlxbench.report import notes, plots, readme, render
from mlxbench.report.formatting import format_ms, format_pct, format_rate
from mlxbench.report.tables import Report
from mlxbench.stack import releases, timeline
from mlxbench.store import loads, results


@pytest.fixture(scope="module")
def tags(tmp_path_factory) -> dict[str, str]:
    return timeline.sync(tmp_path_factory.mktemp("timeline") / "t.git", releases.load())


@pytest.fixture(scope="module")
def loaded(tags) -> results.ResultSet:
    return results.load(FIXTURE, tags)


def raw(
    tags: dict[str, str], release: str, op: str, backend: str, kind: str = "time", column: str = "result"
) -> dict[str, float]:
    """variant -> median seconds (peak bytes for peakmem), or another ASV column, straight from the ASV file."""
    (path,) = (FIXTURE / MACHINE).glob(f"{tags[release][:8]}-*.json")
    doc = json.loads(path.read_text())
    entry = dict(zip(doc["result_columns"], doc["results"][f"ops.{op}.{kind}_{backend}"]))
    return {p.strip("'"): v for p, v in zip(entry["params"][0], entry[column])}


def within_run_cell(tags: dict[str, str], release: str, op: str, first: str, other: str) -> str:
    """The speedup cell by hand: the percentage where most variants' 99% CIs do not overlap in its direction, else ~.

    The fixture has no samples, so ASV's test is the CI comparison.
    """
    a, b = raw(tags, release, op, first), raw(tags, release, op, other)
    ci = {
        name: (
            raw(tags, release, op, backend, column="stats_ci_99_a"),
            raw(tags, release, op, backend, column="stats_ci_99_b"),
        )
        for name, backend in (("a", first), ("b", other))
    }
    pct = (math.sqrt(math.prod(b.values())) / math.sqrt(math.prod(a.values())) - 1) * 100
    differ = [
        v
        for v in a
        if (ci["b"][0][v] > ci["a"][1][v] if pct > 0 else ci["b"][1][v] < ci["a"][0][v])  # b's CI wholly beyond a's
    ]
    return format_pct(pct) if len(differ) * 2 > len(a) else "~"


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
    assert cells["mlx_cpu_compile/mlx_cpu speedup"] == within_run_cell(
        tags, "v0.32.4", "ReLU", "mlx_cpu_compile", "mlx_cpu"
    )
    assert cells["mlx_cpu/cpu speedup"] == within_run_cell(tags, "v0.32.4", "ReLU", "mlx_cpu", "torch_cpu")
    assert cells["mlx_cpu/cpu speedup"] == format_pct((mean["cpu"] / mean["mlx_cpu"] - 1) * 100)  # torch: 4x faster
    speedups = {name: i for i, name in enumerate(c.name for c in table.columns)}
    relu = next(r for r in table.rows if r[0] == "ReLU")
    assert relu[speedups["mlx_cpu_compile/mlx_cpu speedup"]] == pytest.approx(
        (mean["mlx_cpu"] / mean["mlx_cpu_compile"] - 1) * 100
    )  # the number stays, whatever markdown prints
    text = render.markdown(table)
    assert "geometric mean over its variants" in text and "judged within the run only" in text


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
    floor = re.search(r"v0\.2\.0->v0\.32\.4 (\d+)%", render.markdown(table))
    assert floor and int(floor[1]) > abs(new / old - 1) * 100  # a 1% difference is inside the pair's noise floor
    assert cells["v0.32.4"] == f"{format_ms(new)} (~)"
    doc = json.loads(render.render([table], "json"))["tables"][0]
    names = [c["name"] for c in doc["columns"]]
    relu = next(r for r in doc["rows"] if r[0] == "ReLU")
    assert relu[names.index("v0.2.0->v0.32.4 change")] == pytest.approx((new / old - 1) * 100, abs=1e-5)
    assert relu[names.index("v0.2.0->v0.32.4 change beats noise")] is False
    assert row(table, "LayerNorm")["v0.2.0"] == "n/a"  # mx.fast.layer_norm is newer than 0.2.0


def test_memory_metric_is_the_largest_variants_peak(tags, loaded):
    table = Report(loaded, metric="memory").average(MACHINE, "v0.32.4")
    peaks = raw(tags, "v0.32.4", "Softmax", "torch_cpu", kind="peakmem")
    assert row(table, "Softmax")["cpu (MB)"] == format_rate(max(peaks.values()) / 1e6)
    text = render.markdown(table)
    assert "Peak resident memory" in text and "each op is its largest variant's peak" in text
    assert "mean over its variants" not in text and "no peak memory was measured" in text


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
    assert parsed["ReLU"]["mlx_cpu_compile/mlx_cpu speedup (%)"] != ""  # the number, though markdown prints ~
    assert parsed["ReLU"]["mlx_cpu_compile/mlx_cpu speedup beats noise"] == "false"
    assert parsed["ReLU"]["mlx_cpu/cpu speedup beats noise"] == "true"
    doc = json.loads(render.render([table], "json"))
    assert doc["tables"][0]["aggregation"] == "geometric"
    na = Report(loaded).average(MACHINE, "v0.2.0")
    doc = json.loads(render.render([na], "json"))
    sdpa = next(r for r in doc["tables"][0]["rows"] if r[0] == "ScaledDotProductAttention")
    assert sdpa[1] is None  # n/a is null, never NaN


def test_a_failed_benchmark_prints_failed(results_copy, tags):
    path = result_file(results_copy, tags, "v0.32.4")
    doc = json.loads(path.read_text())
    doc["results"]["ops.ReLU.time_mlx_cpu"][0][0] = None  # ASV's null: the benchmark raised
    path.write_text(json.dumps(doc))
    table = Report(results.load(results_copy, tags)).average(MACHINE, "v0.32.4")
    assert row(table, "ReLU")["mlx_cpu"] == "failed"


def test_stale_benchmark_versions_are_ignored_and_reported(results_copy, tags):
    path = result_file(results_copy, tags, "v0.32.4")
    doc = json.loads(path.read_text())
    doc["results"]["ops.ReLU.time_mlx_cpu"][2] = "ReLU-r0-h0"
    path.write_text(json.dumps(doc))
    loaded = results.load(results_copy, tags)
    assert any("ops.ReLU.time_mlx_cpu" in p and "ReLU-r0-h0" in p for p in loaded.problems)
    assert not [
        m for m in loaded.measurements if (m.op, m.backend, m.release, m.kind) == ("ReLU", "mlx_cpu", "v0.32.4", "time")
    ]


def test_torch_cpu_numbers_from_numpys_memory_are_another_series(results_copy, tags):
    """torch_cpu's inputs moved into torch's allocator (revision b1): its older numbers never mix in, MLX's stay."""
    path = result_file(results_copy, tags, "v0.32.4")
    doc = json.loads(path.read_text())
    version = doc["result_columns"].index("version")
    mlx_version = doc["results"]["ops.ReLU.time_mlx_cpu"][version]
    assert doc["results"]["ops.ReLU.time_torch_cpu"][version] == mlx_version + "-b1"
    doc["results"]["ops.ReLU.time_torch_cpu"][version] = mlx_version  # as recorded before the copy
    path.write_text(json.dumps(doc))
    loaded = results.load(results_copy, tags)
    assert any("ops.ReLU.time_torch_cpu" in p and f"now {mlx_version}-b1" in p for p in loaded.problems)
    kept = {(m.backend, m.kind) for m in loaded.measurements if (m.op, m.release) == ("ReLU", "v0.32.4")}
    assert ("mlx_cpu", "time") in kept and ("torch_cpu", "time") not in kept


def test_a_speedup_across_runs_is_never_judged_and_says_so(results_copy, tags):
    """torch measured days after MLX (issue 27's torch-only re-measure): the within-run test does not apply."""
    before = Report(results.load(results_copy, tags)).average(MACHINE, "v0.32.4")
    assert any(row(before, op)["mlx_cpu/cpu speedup"] != "~" for op in ("ReLU", "Softmax", "LayerNorm"))
    assert not any("separate runs" in n for n in before.notes)
    path = result_file(results_copy, tags, "v0.32.4")
    doc = json.loads(path.read_text())
    started = doc["result_columns"].index("started_at")
    for name, entry in doc["results"].items():
        if name.endswith("time_torch_cpu"):
            entry[started] += 5 * 86_400_000
    path.write_text(json.dumps(doc))
    after = Report(results.load(results_copy, tags)).average(MACHINE, "v0.32.4")
    for op in ("ReLU", "Softmax", "LayerNorm"):
        assert row(after, op)["mlx_cpu/cpu speedup"] == "~", op
        assert row(after, op)["mlx_cpu_compile/mlx_cpu speedup"] == row(before, op)["mlx_cpu_compile/mlx_cpu speedup"]
    (note,) = [n for n in after.notes if "separate runs" in n]
    assert "mlx_cpu/cpu (mlx_cpu 2026-" in note and "mlx_cpu_compile/mlx_cpu" not in note


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["report", "--preset", "tiny", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_prints_all_four_tables_with_release_names(capsys):
    code, out, _ = run_cli(capsys, "--results", str(FIXTURE))
    assert code == 0
    assert "Average benchmark: fixture-cpu, mlx v0.32.4, torch 2.13.0 (pinned)" in out
    assert "Detailed benchmark: fixture-cpu, mlx v0.32.4" in out
    assert "History: fixture-cpu, mlx_cpu" in out and "| v0.2.0 | v0.32.4 |" in out
    assert "Race: fixture-cpu, mlx_cpu vs cpu" in out


def test_the_terminal_report_says_each_note_once_and_csv_json_keep_every_tables(capsys, loaded):
    tables = Report(loaded).tables(["average", "detailed", "history", "race"])
    shared = {n for t in tables for n in t.notes if sum(n in u.notes for u in tables) > 1}
    assert len(shared) >= 3  # the mode, the noise rule and floors, the spread count: said under several tables
    code, out, _ = run_cli(capsys, "--results", str(FIXTURE))
    assert code == 0
    for note in shared:
        assert out.count(render.md_text(note)) == 1, note
    later = out.split("### ")[2]  # the detailed table: its notes the average table already gave are counted
    assert re.search(r"And \d+ note\(s\) as above\.", later)
    code, out, _ = run_cli(capsys, "--results", str(FIXTURE), "--format", "json")
    assert [t["notes"] for t in json.loads(out)["tables"]] == [t.notes for t in tables]


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
    result_file(results_copy, tags, "v0.2.0").write_text("{ not json")
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


def test_a_preset_reports_its_own_results_and_the_machines_ceilings(capsys, monkeypatch, tmp_path):
    asked: list[str] = []
    conf = {"repo": str(asv_project.repository().repo), "results_dir": str(FIXTURE)}  # the repository's timeline
    (tmp_path / "asv.conf.json").write_text(json.dumps(conf))

    def throwaway(preset: str = "default", **_: bool) -> AsvProject:
        asked.append(preset)
        return AsvProject(tmp_path, preset, synced=True)  # every preset's results: the fixture's

    monkeypatch.setattr(asv_project, "repository", throwaway)
    code, out, _ = run_cli(capsys, "--table", "average")
    assert code == 0 and "Average benchmark: fixture-cpu" in out
    assert asked == ["tiny", "default"]  # the preset's results; ceilings where `mlxbench calibrate` keeps them
    code, _, err = run_cli(capsys, "--update-readme")
    assert code == 2 and "the README shows the default preset's results, not 'tiny'" in err


def test_plots_are_pngs_one_per_backend_plus_the_bar_chart(loaded, tmp_path):
    from matplotlib.image import imread

    written = plots.write(Report(loaded), tmp_path)
    names = sorted(p.name for p in written)
    assert names == sorted(
        ["backends-fixture-cpu.png"]
        + [f"history-fixture-cpu-{b}.png" for b in ("mlx_cpu", "mlx_cpu_compile", "torch_cpu")]
        + ["race-fixture-cpu-mlx_cpu-torch_cpu.png"]
    )
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        pixels = imread(path)
        height, width, _ = pixels.shape
        assert width >= 600 and height >= 200
        assert pixels.std() > 0.05, f"{path.name} is blank"


@pytest.mark.parametrize("ops", [None, ["ReLU"]])  # every op, and one: a long title over a single panel
def test_plots_hold_their_text_and_warn_of_nothing(loaded, tmp_path, monkeypatch, ops):
    import warnings

    from matplotlib.figure import Figure

    outside: list[str] = []
    save = Figure.savefig

    def checked(fig, *args, **kwargs):
        renderer, box = fig.canvas.get_renderer(), fig.bbox
        drawn = [(f"panel {ax.get_title()!r}", ax.get_tightbbox(renderer)) for ax in fig.axes]  # ticks in view
        drawn += [(t.get_text(), t.get_window_extent(renderer)) for t in fig.texts if t.get_text()]  # title, y label
        for what, extent in drawn:
            if extent.x0 < box.x0 or extent.x1 > box.x1 or extent.y0 < box.y0 or extent.y1 > box.y1:
                outside.append(what)
        return save(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", checked)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's "Tight layout not applied", for one
        written = plots.write(Report(loaded, ops=ops), tmp_path)
    assert len(written) == 5 and not outside, f"clipped: {outside}"


def test_readme_section_is_rewritten_between_markers_only(loaded, tmp_path):
    doc = tmp_path / "README.md"
    doc.write_text(f"# title\nbefore\n{readme.START}\nold table\n{readme.END}\nafter\n")
    readme.update(doc, Report(loaded), tmp_path / "docs")
    text = doc.read_text()
    assert text.startswith("# title\nbefore\n") and text.endswith(f"{readme.END}\nafter\n")
    assert "old table" not in text and "Average benchmark: fixture-cpu" in text
    assert "![fixture-cpu: mlx_cpu across MLX releases](docs/history-fixture-cpu-mlx_cpu.png)" in text
    assert (tmp_path / "docs" / "history-fixture-cpu-mlx_cpu.png").exists()
    race = "![fixture-cpu: mlx_cpu vs torch_cpu over time](docs/race-fixture-cpu-mlx_cpu-torch_cpu.png)"
    assert text.index("(docs/history-fixture-cpu-mlx_cpu.png)") < text.index(race)
    assert "### History" not in text and "### Race" not in text  # the wide tables are on the chip page it links
    assert "[`html/chips/fixture-cpu.html`](html/chips/fixture-cpu.html)" in text
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
    assert notes.machine_notes(recorded, ["mlx_gpu", "mlx_cpu"])[-1].startswith("MLX GPU float32: MLX_ENABLE_TF32=0")


# -- noise: a change is shown only when it beats it ---------------------------

PLANTED = {"ops.ReLU.time_mlx_cpu": 1.30, "ops.Softmax.time_mlx_cpu": 1.10}
"""Planted v0.2.0 -> v0.32.4 changes; every torch benchmark drifts by +10% to +12%, every other one is unchanged."""


def plant(root: Path, tags: dict[str, str], factors: dict[str, float], torch_drift: bool = True) -> None:
    """Rewrite v0.32.4's results as v0.2.0's recorded run with each time benchmark scaled by its factor.

    Medians, CIs and quartiles scale together, as they would if the code ran
    that much slower; the torch benchmarks (the controls: torch did not
    change) drift by +10..12%, different per op.
    """
    old = json.loads(result_file(root, tags, "v0.2.0").read_text())
    target = result_file(root, tags, "v0.32.4")
    new = {**old, "commit_hash": json.loads(target.read_text())["commit_hash"]}
    columns = old["result_columns"]
    torch_ops = sorted(name for name in old["results"] if ".time_torch_" in name)
    for name, values in old["results"].items():
        factor = factors.get(name, 1.0)
        if torch_drift and name in torch_ops:
            factor = 1.10 + 0.02 * torch_ops.index(name) / len(torch_ops)
        entry = dict(zip(columns, values))
        for col in ("result", "stats_ci_99_a", "stats_ci_99_b", "stats_q_25", "stats_q_75"):
            if entry.get(col) is not None and ".time_" in name:
                entry[col] = [None if v is None else v * factor for v in entry[col]]
        new["results"][name] = [entry[c] for c in columns[: len(values)]]
    target.write_text(json.dumps(new))


def test_a_30pct_slowdown_beyond_the_noise_is_flagged_and_a_10pct_wobble_the_controls_show_is_not(results_copy, tags):
    plant(results_copy, tags, PLANTED)
    report = Report(results.load(results_copy, tags))
    table = report.history(MACHINE, "mlx_cpu")
    text = render.markdown(table)
    assert row(table, "ReLU")["v0.32.4"].endswith("(+30%)")
    assert row(table, "Softmax")["v0.32.4"].endswith("(~)")  # +10%: the torch controls drifted as much
    assert row(report.history(MACHINE, "mlx_cpu_compile"), "ReLU")["v0.32.4"].endswith("(~)")  # unchanged
    floor = re.search(
        r"v0\.2\.0->v0\.32\.4 (\d+)% \(90th percentile of \|ratio - 1\| over (\d+) op results of cpu", text
    )
    assert floor and 10 < int(floor[1]) <= 12 and int(floor[2]) == 4  # the fixture's 4 torch ops
    assert "torch 2.13.0 is the same at both points" in text
    doc = json.loads(render.render([table], "json"))["tables"][0]
    assert doc["noise_floors"]["v0.2.0->v0.32.4"]["fraction"] == pytest.approx(int(floor[1]) / 100, abs=0.005)
    names = [c["name"] for c in doc["columns"]]
    softmax = next(r for r in doc["rows"] if r[0] == "Softmax")
    assert softmax[names.index("v0.2.0->v0.32.4 change")] == pytest.approx(10.0)  # the number is kept
    assert softmax[names.index("v0.2.0->v0.32.4 change beats noise")] is False
    torch = report.history(MACHINE, "torch_cpu")  # torch is pinned: its +10..12% at v0.32.4 is drift, not a column
    assert [c.name for c in torch.columns] == ["Operation", "torch 2.13.0"]
    assert "torch is pinned to 2.13.0" in render.markdown(torch)


def test_a_result_sampled_on_a_busy_machine_never_calls_a_change(results_copy, tags):
    """The +30% of the planted slowdown, with one of its variants marked busy in load.jsonl: `~`, number kept."""
    plant(results_copy, tags, PLANTED)
    doc = json.loads(result_file(results_copy, tags, "v0.32.4").read_text())
    variant = raw(tags, "v0.32.4", "ReLU", "mlx_cpu")
    first = next(iter(variant))
    marks = [
        {
            "commit": doc["commit_hash"],
            "env": doc["env_name"],
            "benchmark": f"ops.ReLU.time_{backend}",
            "variant": v,
            "busy": backend == "mlx_cpu" and v == first,
            "others": 1.0,
            "steal": 0.0,
            "seconds": 0.2,
            "rounds": 2,
        }
        for backend in ("mlx_cpu", "mlx_cpu_compile")
        for v in variant
    ]
    (results_copy / MACHINE / loads.LOAD_FILE).write_text("".join(json.dumps(m) + "\n" for m in marks) + "not json\n")
    loaded = results.load(results_copy, tags)
    assert {(m.variant, m.backend) for m in loaded.measurements if m.busy} == {(first, "mlx_cpu")}
    table = Report(loaded).history(MACHINE, "mlx_cpu")
    assert row(table, "ReLU")["v0.32.4"].endswith("(~)")
    assert "1 result(s) of this series stayed busy" in render.markdown(table)
    average = render.markdown(Report(loaded).average(MACHINE, "v0.32.4"))
    note = "1 result(s) sampled while other processes used the machine, after every re-measurement (load.jsonl)"
    assert f"{note}: ReLU {first} on mlx_cpu." in average
    relu = next(r for r in json.loads(render.render([table], "json"))["tables"][0]["rows"] if r[0] == "ReLU")
    assert pytest.approx(30.0) in relu  # the number is kept, only the verdict is withheld


def test_a_change_asvs_test_cannot_tell_from_noise_is_not_flagged(results_copy, tags):
    """A 30% slower median whose 99% CIs overlap the old ones (a very spread run) is not evidence of a change."""
    plant(results_copy, tags, PLANTED)
    path = result_file(results_copy, tags, "v0.32.4")
    doc = json.loads(path.read_text())
    entry = dict(zip(doc["result_columns"], doc["results"]["ops.ReLU.time_mlx_cpu"]))
    entry["stats_ci_99_a"] = [v / 10 for v in entry["result"]]
    entry["stats_ci_99_b"] = [v * 10 for v in entry["result"]]
    doc["results"]["ops.ReLU.time_mlx_cpu"] = [entry[c] for c in doc["result_columns"][: len(entry)]]
    path.write_text(json.dumps(doc))
    table = Report(results.load(results_copy, tags)).history(MACHINE, "mlx_cpu")
    assert row(table, "ReLU")["v0.32.4"].endswith("(~)")


def _with_samples(path: Path, name: str, samples: list[list[float]]) -> None:
    """Add ASV's ``samples`` column (as ``asv run --record-samples`` stores it) to one benchmark."""
    doc = json.loads(path.read_text())
    columns = doc["result_columns"]
    entry = dict(zip(columns, doc["results"][name]))
    entry["samples"] = samples
    doc["results"][name] = [entry.get(c) for c in columns[: columns.index("samples") + 1]]
    path.write_text(json.dumps(doc))


def test_recorded_samples_are_read_and_decide_over_the_cis(results_copy, tags):
    """Same distribution at both releases: Mann-Whitney finds no difference, though the medians say +30%.

    The planted medians and their narrow CIs alone would flag ReLU (previous
    test); the samples, when recorded, are what ASV's test uses.
    """
    plant(results_copy, tags, PLANTED)
    name = "ops.ReLU.time_mlx_cpu"
    spread = [[1e-5 * (1 + i / 100) for i in range(100)]] * 2  # two variants, 100 samples each
    for release in ("v0.2.0", "v0.32.4"):
        _with_samples(result_file(results_copy, tags, release), name, spread)
    loaded = results.load(results_copy, tags)
    recorded = [m for m in loaded.measurements if (m.op, m.backend, m.kind) == ("ReLU", "mlx_cpu", "time")]
    assert all(m.samples is not None and len(m.samples) == 100 for m in recorded)
    table = Report(loaded).history(MACHINE, "mlx_cpu")
    assert row(table, "ReLU")["v0.32.4"].endswith("(~)")
    assert "Mann-Whitney U on the recorded samples" in render.markdown(table)
    slower = [[1.3e-5 * (1 + i / 100) for i in range(100)]] * 2  # now the samples move too
    _with_samples(result_file(results_copy, tags, "v0.32.4"), name, slower)
    assert row(Report(results.load(results_copy, tags)).history(MACHINE, "mlx_cpu"), "ReLU")["v0.32.4"].endswith(
        "(+30%)"
    )


def _drop_torch(root: Path) -> None:
    for path in (root / MACHINE).glob("*-*.json"):
        doc = json.loads(path.read_text())
        doc["results"] = {k: v for k, v in doc["results"].items() if "_torch_" not in k}
        path.write_text(json.dumps(doc))


def test_without_controls_the_floor_is_the_measured_repeatability_or_a_stated_default(results_copy, tags):
    plant(results_copy, tags, PLANTED)
    _drop_torch(results_copy)
    text = render.markdown(Report(results.load(results_copy, tags)).history(MACHINE, "mlx_cpu"))
    assert "v0.2.0->v0.32.4 10% (default: no control benchmarks or measured repeatability" in text
    (results_copy / MACHINE / "repeatability.json").write_text(
        json.dumps({"within_10pct": 0.79, "p90_abs_change": 0.35, "runs": [{"release": "v0.32.4"}] * 2})
    )
    table = Report(results.load(results_copy, tags)).history(MACHINE, "mlx_cpu")
    text = render.markdown(table)
    assert "v0.2.0->v0.32.4 35% (measured repeatability of 2 runs" in text and "79% of medians within 10%" in text
    assert row(table, "ReLU")["v0.32.4"].endswith("(~)")  # +30% is inside a 35% repeatability


def test_an_unreadable_repeatability_file_is_named_and_the_default_used(results_copy, tags):
    (results_copy / MACHINE / "repeatability.json").write_text('{"runs": []}')
    loaded = results.load(results_copy, tags)
    assert any("repeatability.json" in p and "not a repeatability file" in p for p in loaded.problems)
    assert MACHINE not in loaded.repeatability


# -- robust reading ----------------------------------------------------------


def test_a_corrupt_machine_json_keeps_the_machine_from_its_result_files(capsys, results_copy, tags):
    (results_copy / MACHINE / "machine.json").write_text("{ not json")
    loaded = results.load(results_copy, tags)
    assert loaded.machines[MACHINE]["machine"] == MACHINE  # from the result files' params
    assert "torch" not in loaded.machines[MACHINE] and "python" not in loaded.machines[MACHINE]
    assert any("machine.json" in p for p in loaded.problems)
    code, out, err = run_cli(capsys, "--results", str(results_copy), "--table", "history")
    assert code == 0 and "History: fixture-cpu" in out
    assert "skipped" in err and "machine.json" in err


def test_a_corrupt_benchmarks_json_is_named_and_the_report_goes_on(capsys, results_copy):
    (results_copy / "benchmarks.json").write_text("[1, 2")
    code, out, err = run_cli(capsys, "--results", str(results_copy), "--table", "average")
    assert code == 0 and "Average benchmark: fixture-cpu" in out
    assert "benchmarks.json" in err


@pytest.mark.parametrize("results_of_failed_install", [{}, "all null"])
def test_a_release_without_a_successful_measurement_adds_no_column(
    capsys, results_copy, tags, results_of_failed_install
):
    """`asv run 'v0.20.0^!'` on Linux (no wheel) leaves such a file; it must not break change-from-previous."""
    doc = json.loads(result_file(results_copy, tags, "v0.32.4").read_text())
    doc["commit_hash"] = tags["v0.21.1"]
    doc["results"] = (
        {name: [[None] * len(v[0]), *v[1:]] for name, v in doc["results"].items()}
        if results_of_failed_install == "all null"
        else {}
    )
    empty = results_copy / MACHINE / f"{tags['v0.21.1'][:8]}-virtualenv-py3.11-numpy-packaging-torch2.13.0.json"
    empty.write_text(json.dumps(doc))
    loaded = results.load(results_copy, tags)
    assert loaded.releases == ["v0.2.0", "v0.32.4"]
    assert any(empty.name in p and "no successful measurement" in p for p in loaded.problems)
    table = Report(loaded).history(MACHINE, "mlx_cpu")
    assert [c.name for c in table.columns] == ["Operation", "v0.2.0", "v0.32.4", "v0.2.0->v0.32.4 change"]
    code, out, err = run_cli(capsys, "--results", str(results_copy), "--table", "history")
    assert code == 0 and "v0.21.1" not in out and empty.name in err


# -- machines grouped by chip configuration ------------------------------------


def _machines(root: Path, names: dict[str, str]) -> None:
    """Replace the fixture machine by one copy per name, each with the given config (as `mlxbench machine` writes)."""
    source = root / MACHINE
    for name, config in names.items():
        shutil.copytree(source, root / name)
        info = {"machine": name, "config": config, "host": name[-6:], "version": 1}
        (root / name / "machine.json").write_text(json.dumps(info))
        for path in (root / name).glob("*-*.json"):
            doc = json.loads(path.read_text())
            doc["params"]["machine"] = name
            path.write_text(json.dumps(doc))
    shutil.rmtree(source)


def test_two_hosts_of_one_chip_are_two_machines_never_spliced(capsys, results_copy, tags):
    _machines(results_copy, {"Chip X a1b2c3": "Chip X", "Chip X d4e5f6": "Chip X", "Chip Y 0a0b0c": "Chip Y"})
    loaded = results.load(results_copy, tags)
    report = Report(loaded)
    assert report.machines == ["Chip X a1b2c3", "Chip X d4e5f6", "Chip Y 0a0b0c"]  # grouped by config
    titles = [t.title for t in report.tables(["history"]) if t.meta["backend"] == "mlx_cpu"]
    assert titles == [
        "History: Chip X, machine Chip X a1b2c3, mlx_cpu across MLX releases",
        "History: Chip X, machine Chip X d4e5f6, mlx_cpu across MLX releases",
        "History: Chip Y, machine Chip Y 0a0b0c, mlx_cpu across MLX releases",
    ]
    assert len(report.representatives()) == 2  # the README shows one machine's series per chip
    code, out, _ = run_cli(capsys, "--results", str(results_copy), "--machine", "chip y", "--table", "average")
    assert code == 0 and "Average benchmark: Chip Y, machine Chip Y 0a0b0c" in out  # the only Chip Y: unambiguous
    code, out, err = run_cli(capsys, "--results", str(results_copy), "--machine", "Chip X")
    assert code == 2 and out == ""
    assert "2 machines have config 'Chip X'" in err and "Chip X a1b2c3" in err and "Chip X d4e5f6" in err
    code, out, _ = run_cli(capsys, "--results", str(results_copy), "--machine", "Chip X d4e5f6", "--table", "history")
    assert code == 0 and "machine Chip X d4e5f6" in out and "a1b2c3" not in out


@pytest.mark.parametrize(
    ("planted", "why"),
    [
        (0.0, "median 0.0 is not positive"),
        (-1e-3, "median -0.001 is not positive"),
        (float("inf"), "median inf is not a finite number"),
        ("1 ms", "median '1 ms' is not a finite number"),
        (True, "median True is not a finite number"),
    ],
)
def test_an_untrusted_median_is_skipped_with_a_warning_and_the_rest_reports(results_copy, tags, planted, why):
    path = result_file(results_copy, tags, "v0.32.4")
    doc = json.loads(path.read_text())
    entry = dict(zip(doc["result_columns"], doc["results"]["ops.ReLU.time_mlx_cpu"]))
    variant = entry["params"][0][0].strip("'")
    entry["result"][0] = planted
    entry["started_at"] = 10**18
    doc["results"]["ops.ReLU.time_mlx_cpu"] = [entry[c] for c in doc["result_columns"][: len(entry)]]
    path.write_text(json.dumps(doc, allow_nan=True))
    loaded = results.load(results_copy, tags)
    assert f"skipped ops.ReLU.time_mlx_cpu({variant}) in {path.name}: {why}" in loaded.problems
    assert f"ignored the started_at of ops.ReLU.time_mlx_cpu in {path.name}: {10**18} is not a date" in loaded.problems
    assert not any(
        m.op == "ReLU"
        and m.kind == "time"
        and m.backend == "mlx_cpu"
        and m.variant == variant
        and m.release == "v0.32.4"
        for m in loaded.measurements
    )
    report = Report(loaded)
    for kind in ("average", "detailed", "history", "race"):
        assert report.tables([kind])  # everything else still reports
    assert row(report.average(MACHINE, "v0.32.4"), "Softmax")["mlx_cpu"] != "n/a"


def test_a_release_range_clips_to_what_was_measured_and_says_so(capsys):
    """The fixture measured v0.2.0 and v0.32.4: a range from v0.1.0 (in the timeline, not measured) starts at
    v0.2.0, said on stderr; a tag may leave out its v; a range or release with no results is refused."""
    code, out, err = run_cli(capsys, "--results", str(FIXTURE), "--table", "history", "--release", "v0.1.0..v0.32.4")
    assert code == 0 and "| v0.2.0 | v0.32.4 |" in out
    assert "note: v0.1.0 has no results here: the range starts at v0.2.0" in err
    code, out, err = run_cli(capsys, "--results", str(FIXTURE), "--table", "history", "--release", "0.2.0..0.32.3")
    assert code == 0 and "| v0.2.0 |" in out and "| v0.32.4 |" not in out
    assert "v0.32.3 has no results here: the range ends at v0.2.0" in err
    code, out, err = run_cli(capsys, "--results", str(FIXTURE), "--release", "v0.3.0..v0.32.3")
    assert code == 2 and "no release with results in v0.3.0..v0.32.3; releases with results: v0.2.0, v0.32.4" in err
    code, out, err = run_cli(capsys, "--results", str(FIXTURE), "--release", "v0.3.0")
    assert code == 2 and "no results of v0.3.0 here" in err
