"""``mlxbench compare``: what counts as a change, the CI gate, repeatability, and releases that cannot run here."""

from __future__ import annotations

import json
import random
from pathlib import Path

import asv_project
import pytest

from mlxbench import noise, verdicts
from mlxbench import selection as names
from mlxbench.catalog import CATALOG
from mlxbench.errors import UsageError
from mlxbench.harness import versions
from mlxbench.harness.backends import BACKENDS
from mlxbench.history import compare, machine
from mlxbench.history.asv_project import AsvProject, repository
from mlxbench.selection import Selection
from mlxbench.stack import releases
from mlxbench.store import repeatability
from mlxbench.verdicts import Floor, Point


def _point(median: float, spread: float = 0.01, n: int = 40, seed: int = 0) -> Point:
    """A timing with ``n`` samples scattered +-``spread`` around ``median`` (seconds)."""
    rng = random.Random(seed)
    samples = sorted(median * (1 + rng.uniform(-spread, spread)) for _ in range(n))
    return Point(median, (samples[1], samples[-2]), samples, n)


def _pair(ratios: dict[str, float], spread: float = 0.01) -> tuple[dict, dict]:
    before = {(name, "v"): _point(1e-3, spread, seed=i) for i, name in enumerate(ratios)}
    after = {(name, "v"): _point(1e-3 * r, spread, seed=100 + i) for i, (name, r) in enumerate(ratios.items())}
    return before, after


def test_a_slowdown_beyond_the_noise_fails_the_gate_and_a_wobble_does_not():
    before, after = _pair({"ops.Softmax.time_mlx_cpu": 1.30, "ops.ReLU.time_mlx_cpu": 1.05})
    rows = {r.key[0]: r for r in verdicts.compare_points(before, after, Floor(0.10, "test"))}
    assert rows["ops.Softmax.time_mlx_cpu"].changed and rows["ops.Softmax.time_mlx_cpu"].ratio == pytest.approx(1.3)
    assert not rows["ops.ReLU.time_mlx_cpu"].changed  # ASV's test may see it; the floor says it is drift
    assert [r.key[0] for r in verdicts.gate(list(rows.values()), 1.2)] == ["ops.Softmax.time_mlx_cpu"]
    assert verdicts.gate(list(rows.values()), 1.5) == []
    assert verdicts.gate(list(rows.values()), None) == []
    text = compare.render("v0.31.1", "v0.32.4", "m", "tiny", 2, Floor(0.10, "test"), list(rows.values()), 2, 2)
    assert "ops.Softmax.time_mlx_cpu v" in text and "x1.30  slower" in text and "ops.ReLU" not in text


def test_a_difference_asvs_test_cannot_tell_from_noise_is_not_a_change():
    before = {("ops.Sum.time_mlx_cpu", "v"): _point(1e-3, spread=0.5, n=6, seed=1)}
    after = {("ops.Sum.time_mlx_cpu", "v"): _point(1.3e-3, spread=0.5, n=6, seed=2)}
    (row,) = verdicts.compare_points(before, after, Floor(0.0, "none"))
    assert not row.changed


def test_controls_whose_framework_did_not_change_set_the_floor():
    """Only MLX changed: the torch backends' drift is the machine's, and a 10% MLX change inside it is noise."""
    drift = {f"ops.Op{i}.time_torch_cpu": 1.0 + 0.1 * (-1) ** i for i in range(10)}
    before, after = _pair({**drift, "ops.A.time_mlx_cpu": 1.10, "ops.B.time_mlx_cpu": 1.30})
    pinned = noise.point_versions({"mlx": "0.31.1"}, "2.13.0"), noise.point_versions({"mlx": "0.32.4"}, "2.13.0")
    changed = noise.changed_frameworks(*pinned)
    assert changed == {"mlx"}
    floor = verdicts.noise_floor(before, after, pinned, None)
    assert floor.fraction == pytest.approx(0.1) and "torch" in floor.source
    rows = {r.key[0]: r for r in verdicts.compare_points(before, after, floor) if "mlx" in r.key[0]}
    assert not rows["ops.A.time_mlx_cpu"].changed and rows["ops.B.time_mlx_cpu"].changed
    # no controls (both frameworks changed): the measured repeatability, else the stated default
    both = (
        noise.point_versions({"mlx": "0.31.1", "torch": "2.9.0"}, None),
        noise.point_versions({"mlx": "0.32.4", "torch": "2.10.0"}, None),
    )
    assert verdicts.noise_floor(before, after, both, Floor(0.07, "measured")).fraction == 0.07
    assert verdicts.noise_floor(before, after, both, None).fraction == verdicts.DEFAULT_FLOOR
    # two controls are too few to set the floor: the fallback says they were seen
    few = dict(list(drift.items())[:2])
    before, after = _pair({**few, "ops.B.time_mlx_cpu": 1.30})
    floor = verdicts.noise_floor(before, after, pinned, Floor(0.15, "measured"))
    assert floor.fraction == 0.15 and "2 control variant(s) of torch" in floor.source and "too few" in floor.source


def test_two_runs_of_one_release_record_the_machines_repeatability(tmp_path):
    ratios = {
        f"ops.Op{i}.time_mlx_cpu": r for i, r in enumerate([1.0, 1.02, 0.97, 1.05, 1.12, 0.85, 1.01, 1.0, 0.99, 1.3])
    }
    before, after = _pair(ratios)
    rows = verdicts.compare_points(before, after, Floor(0.1, "test"))
    doc = verdicts.summarize_repeatability(rows)
    assert doc["within_10pct"] == pytest.approx(0.7)  # 1.12, 0.85 and 1.3 are outside +-10%
    assert doc["p90_abs_change"] == pytest.approx(verdicts.quantile([abs(r - 1) for r in ratios.values()], 0.9))
    assert doc["max_abs_change"] == pytest.approx(0.3) and doc["variants"] == 10
    sides = [compare.Side(label, "v0.32.4", "c" * 40, tmp_path / label / "asv.conf.json") for label in "ab"]
    info = {"machine": "m", "config": "AMD EPYC (2C+24GB)", "host": "35c790"}
    path = compare.save_repeatability(tmp_path / "m", rows, "v0.32.4", "tiny", 2, sides, info)
    saved = json.loads(path.read_text())
    assert json.loads((tmp_path / "m" / "machine.json").read_text()) == {**info, "version": 1}  # a folder ASV reads
    assert saved["p90_abs_change"] == doc["p90_abs_change"] and len(saved["runs"]) == 2
    floor = compare.read_repeatability(tmp_path / "m")  # what the noise rules read back
    assert floor is not None and floor.fraction == pytest.approx(doc["p90_abs_change"])
    again = verdicts.compare_points(before, before, Floor(0.1, "test"))  # no drift at all
    compare.save_repeatability(tmp_path / "m", again, "v0.32.4", "tiny", 2, sides, info)
    assert len(path.read_text().splitlines()) == 2  # kept, like calibrations; the newest counts
    assert compare.read_repeatability(tmp_path / "m").fraction == 0.0


def test_releases_that_do_not_install_here_are_refused_before_anything_runs():
    tags = {r.tag: "0" * 40 for r in releases.load()}
    here = [r for r in releases.load() if r.installs_here()]
    not_here = [r for r in releases.load() if not r.installs_here()]
    assert compare.check_release(here[-1].tag, tags) == (here[-1].tag, "0" * 40)
    if not_here:
        with pytest.raises(UsageError, match="has no wheel for this Python and platform"):
            compare.check_release(not_here[0].tag, tags)
    with pytest.raises(UsageError, match="not a catalogued MLX release"):
        compare.check_release("v9.9.9", tags)


def test_gate_and_rounds_are_validated():
    with pytest.raises(UsageError, match="at least 2 rounds"):
        compare.plan(repository("tiny"), Selection([], []), "v0.31.1", "v0.32.4", rounds=1)
    with pytest.raises(UsageError, match="above 1"):
        compare.plan(repository("tiny"), Selection([], []), "v0.31.1", "v0.32.4", fail_above=0.8)


def test_a_change_counts_only_where_every_round_shows_it_alone():
    """A burst over one side of one round moves the pooled medians as a change would: no verdict then."""
    key = ("ops.Sum.time_mlx_cpu", "v")
    before, after = {key: _point(1e-3, seed=1)}, {key: _point(1.3e-3, seed=2)}
    floor = Floor(0.15, "test")
    (steady,) = verdicts.compare_points(before, after, floor, rounds={key: ([1.0, 1.02], [1.28, 1.36])})
    assert steady.changed
    (burst,) = verdicts.compare_points(before, after, floor, rounds={key: ([1.0, 1.0], [1.7, 1.02])})
    assert not burst.changed and "1 of 2 round(s) alone read x1.02" in burst.why
    (reversed_round,) = verdicts.compare_points(before, after, floor, rounds={key: ([1.0, 1.5], [1.6, 1.2])})
    assert not reversed_round.changed and "x0.80" in reversed_round.why
    # of four rounds, one may dissent (a burst can hide a change as well as make one); two may not
    (one_off,) = verdicts.compare_points(before, after, floor, rounds={key: ([1.0] * 4, [1.3, 1.3, 0.9, 1.35])})
    assert one_off.changed
    (two_off,) = verdicts.compare_points(before, after, floor, rounds={key: ([1.0] * 4, [1.3, 1.1, 0.9, 1.35])})
    assert not two_off.changed and "2 of 4 round(s)" in two_off.why
    (unknown,) = verdicts.compare_points(before, after, floor, rounds={})
    assert unknown.changed  # rounds not known apart: the pooled verdict stands
    text = compare.render("v0.32.3", "v0.32.4", "m", "tiny", 2, floor, [burst], 1, 1)
    assert "1 variant(s) beyond the noise pooled, but the rounds disagree" in text and "x1.30  slower" not in text
    assert "ops.Sum.time_mlx_cpu v  x1.30 pooled; 1 of 2 round(s) alone read x1.02" in text  # which, and why


def test_rounds_are_cut_from_the_pooled_samples_asv_appended():
    key = ("ops.Sum.time_mlx_cpu", "v")
    a = Point(1.0, None, [1.0, 1.0, 1.0, 1.0, 1.0], 5)
    b = Point(1.5, None, [2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0], 7)
    assert compare.round_medians(b, [3, 7]) == [2.0, 1.0]
    assert compare.round_medians(b, [3, 6]) is None  # the counts must end at the pooled total
    assert compare.round_medians(b, [3, 3, 7]) is None  # a round that added nothing
    rounds = compare.rounds_of({key: a}, {key: b}, [{key: 2}, {key: 5}], [{key: 3}, {key: 7}])
    assert rounds == {key: ([1.0, 1.0], [2.0, 1.0])}
    assert compare.rounds_of({key: a}, {key: b}, [{key: 2}, {}], [{key: 3}, {key: 7}]) == {}


def test_a_quick_comparison_judges_nothing_and_cannot_gate():
    before, after = _pair({"ops.Softmax.time_mlx_cpu": 1.5})
    (row,) = compare.verdict_rows(before, after, Floor(0.1, "test"), set(), ([], []), quick=True)
    assert not row.changed and row.why == verdicts.QUICK_WHY
    (judged,) = compare.verdict_rows(before, after, Floor(0.1, "test"), set(), ([], []), quick=False)
    assert judged.changed
    text = compare.render("v0.31.1", "v0.32.4", "m", "tiny", 1, Floor(0.1, "t"), [row], 1, 1)
    assert verdicts.QUICK_WHY in text and "noise floor" not in text and "changed beyond" not in text
    with pytest.raises(UsageError, match="--quick takes one sample"):
        compare.plan(repository("tiny"), Selection([], []), "v0.31.1", "v0.32.4", quick=True, fail_above=1.2)


# ---------------------------------------------------------------- a comparison run with ASV faked

INSTALLED = f"v{versions.mlx_version()}"
FIXTURE = Path(__file__).parent / "fixtures" / "results" / "fixture-cpu"


@pytest.fixture
def project(tmp_path, monkeypatch) -> AsvProject:
    """A throwaway tiny-preset project whose timeline holds 0.31.1 and the installed release; HOME its own."""
    asv_project.make(tmp_path, ["0.31.1", versions.mlx_version()], {"numpy": [""], "packaging": [""]})
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv(machine.HOST_ID_ENV, "host-a")
    return AsvProject(tmp_path, "tiny")


def fake_round(command: list[str], cwd: Path, env: dict[str, str]) -> int:
    """One side's ``asv run`` round: the fixture's timings at its commit, ten samples more each round."""
    config = Path(command[command.index("--config") + 1])
    commit = command[command.index("--config") + 2].removesuffix("^!")
    folder = config.parent / "results" / command[command.index("--machine") + 1]
    doc = json.loads(sorted(FIXTURE.glob("*-*.json"))[0].read_text())
    doc["commit_hash"] = commit
    path = folder / f"{commit[:8]}-{doc['env_name']}.json"
    at = doc["result_columns"].index("samples")
    rounds = 1
    if path.exists():  # ASV appends each round's samples (--append-samples)
        rounds += len(json.loads(path.read_text())["results"]["ops.ReLU.time_mlx_cpu"][at][0]) // 10
    for values in doc["results"].values():
        values += [None] * (at + 1 - len(values))
        values[at] = [[m] * 10 * rounds if isinstance(m, float) else None for m in values[0]]
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return 0


def _compare(project: AsvProject, sel: Selection, base: str, head: str) -> compare.CompareOutcome:
    p = compare.plan(project, sel, base, head, rounds=2)
    return compare.run(p, call=fake_round, wait=lambda limit: (True, 0.0, None))


def test_only_a_comparison_of_the_default_selection_sets_the_machines_noise_floor(project):
    """`compare vA vA --op ReLU --backend mlx_cpu` is kept apart, and said; over every op and backend it counts."""
    name = machine.describe()["machine"]
    history = project.results_dir / name
    narrow = _compare(project, Selection([CATALOG["ReLU"]], [BACKENDS["mlx_cpu"]]), INSTALLED, INSTALLED)
    assert "over a narrowed selection" in narrow.recorded and "not this machine's noise floor" in narrow.recorded
    assert not (history / repeatability.REPEATABILITY_FILE).exists() and repeatability.read(history) is None
    apart = project.comparison_dir(INSTALLED, INSTALLED) / name / repeatability.REPEATABILITY_FILE
    assert json.loads(apart.read_text())["selection"] == {"ops": ["ReLU"], "backends": ["mlx_cpu"]}
    every = Selection(names.ops(None, "tiny"), names.backends(None))
    whole = _compare(project, every, INSTALLED, INSTALLED)
    assert whole.recorded.startswith(f"repeatability of {INSTALLED} on {name}: ")
    floor = repeatability.read(history)
    assert floor is not None and len((history / repeatability.REPEATABILITY_FILE).read_text().splitlines()) == 1
    _compare(project, Selection([CATALOG["ReLU"]], [BACKENDS["torch_cpu"]]), INSTALLED, INSTALLED)
    assert len((history / repeatability.REPEATABILITY_FILE).read_text().splitlines()) == 1  # the floor stays


def test_a_narrowed_line_in_a_machines_file_is_never_its_floor(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    whole = {"within_10pct": 0.9, "p90_abs_change": 0.12}
    narrowed = {"within_10pct": 0.5, "p90_abs_change": 0.3, "selection": {"ops": ["ReLU"], "backends": ["mlx_cpu"]}}
    (folder / repeatability.REPEATABILITY_FILE).write_text(json.dumps(narrowed) + "\n")
    assert repeatability.read(folder) is None
    (folder / repeatability.REPEATABILITY_FILE).write_text(json.dumps(whole) + "\n" + json.dumps(narrowed) + "\n")
    assert repeatability.read(folder).fraction == 0.12


def test_releases_are_named_with_or_without_their_v_and_measured_into_one_folder(project):
    sel = Selection([CATALOG["ReLU"]], [BACKENDS["mlx_cpu"]])
    p = compare.plan(project, sel, "0.31.1", versions.mlx_version())
    assert (p.base, p.head) == ("v0.31.1", INSTALLED)
    assert [s.config.parent for s in p.sides] == [project.comparison_dir("v0.31.1", INSTALLED) / x for x in "ab"]
