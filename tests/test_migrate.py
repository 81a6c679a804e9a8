"""Moving results keyed by the MLX-only timeline onto the stack timeline: complete, and nothing dropped."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from mlxbench.cli import main
from mlxbench.history import migrate
from mlxbench.stack import releases, timeline
from mlxbench.store import repeatability, results

FIXTURE = Path(__file__).parent / "fixtures" / "results"
ENV = "virtualenv-py3.11-numpy-packaging-torch2.13.0"


def _legacy_stream(catalog: list[releases.Release]) -> bytes:
    """The MLX-only timeline exactly as mlxbench generated it before torch joined (one file, one line message)."""
    out: list[str] = []
    for mark, release in enumerate(catalog, start=1):
        stamp = int(datetime.fromisoformat(release.date.replace("Z", "+00:00")).timestamp())
        out += [f"commit refs/heads/{timeline.BRANCH}", f"mark :{mark}"]
        out += [f"{who} {timeline.IDENTITY} {stamp} +0000" for who in ("author", "committer")]
        out += [f"data {len(f'mlx {release.version}') + 1}", f"mlx {release.version}"]
        out += [f"from :{mark - 1}"] if mark > 1 else []
        out += ["M 100644 inline MLX_VERSION", f"data {len(release.version) + 1}", release.version, ""]
    for mark, release in enumerate(catalog, start=1):
        out += [f"reset refs/tags/{release.tag}", f"from :{mark}", ""]
    return ("\n".join(out) + "\n").encode()


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> dict[str, str]:
    return timeline.sync(tmp_path_factory.mktemp("stack") / "t.git")


def test_the_frozen_legacy_hashes_are_the_mlx_only_timelines(tmp_path):
    repo = tmp_path / "old.git"
    subprocess.run(["git", "init", "--quiet", "--bare", f"--initial-branch={timeline.BRANCH}", str(repo)], check=True)
    stream = _legacy_stream(releases.load("mlx"))
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input=stream, check=True)
    assert timeline.tags(repo) == migrate.legacy_tags()
    assert migrate.legacy_tags()["v0.32.4"].startswith("7c63ebe7")  # the committed results' file names


def _result(directory: Path, commit: str, env: str = ENV, **fields) -> Path:
    """A result file as ASV writes it, from one of the fixture's measurements."""
    source = sorted((FIXTURE / "fixture-cpu").glob("*-*.json"))[0]
    doc = json.loads(source.read_text())
    doc.update(commit_hash=commit, env_name=env, date=1, **fields)
    if env != ENV:
        doc["requirements"] = {k: v for k, v in doc["requirements"].items() if k != "torch"}
    path = directory / f"{commit[:8]}-{env}.json"
    path.write_text(json.dumps(doc))
    return path


def test_old_results_move_to_the_new_mlx_commit_of_their_release(stack, tmp_path):
    old = migrate.legacy_tags()
    machine = tmp_path / "results" / "AMD EPYC (2C+24GB)"
    machine.mkdir(parents=True)
    shutil.copy(FIXTURE / "fixture-cpu" / "machine.json", machine / "machine.json")
    (tmp_path / "results" / "benchmarks.json").write_text("{}")
    (machine / "ceilings.jsonl").write_text("{}\n")
    moved = {tag: _result(machine, old[tag]) for tag in ("v0.2.0", "v0.31.1", "v0.32.4")}
    current = _result(machine, stack["v0.25.2"])
    unknown = _result(machine, "f" * 40)
    unpinned = _result(machine, old["v0.30.0"], env="virtualenv-py3.11-numpy-packaging")
    before = {p: p.read_text() for p in machine.iterdir()}

    dry = migrate.migrate(tmp_path / "results", stack, dry_run=True)
    assert {p: p.read_text() for p in machine.iterdir()} == before and len(dry.moved) == 3

    done = migrate.migrate(tmp_path / "results", stack)
    assert sorted(done.moved) == sorted((moved[t], machine / f"{stack[t][:8]}-{ENV}.json") for t in moved)
    assert done.current == [current]
    assert dict(done.left).keys() == {unknown, unpinned}
    assert "neither the old nor the new timeline" in dict(done.left)[unknown]
    assert "does not pin torch" in dict(done.left)[unpinned]
    assert unknown.exists() and unpinned.exists() and not any(p.exists() for p in moved.values())

    plan = {c.tag: c for c in timeline.plan()}
    for tag in moved:
        new = json.loads((machine / f"{stack[tag][:8]}-{ENV}.json").read_text())
        assert new["commit_hash"] == stack[tag]
        assert new["date"] == plan[tag].timestamp * 1000
        assert new["env_name"] == ENV and new["requirements"]["torch"] == "2.13.0"  # the pinned series
        source = json.loads(before[moved[tag]])
        assert {k: v for k, v in new.items() if k not in ("commit_hash", "date")} == {
            k: v for k, v in source.items() if k not in ("commit_hash", "date")
        }

    loaded = results.load(tmp_path / "results", stack)  # the report reads them under their releases
    assert {"v0.2.0", "v0.31.1", "v0.32.4"} <= {m.release for m in loaded.measurements}
    assert migrate.migrate(tmp_path / "results", stack).moved == []  # idempotent


def test_a_migration_never_overwrites(stack, tmp_path):
    machine = tmp_path / "m"
    machine.mkdir()
    old = _result(machine, migrate.legacy_tags()["v0.32.4"])
    _result(machine, stack["v0.32.4"])
    done = migrate.migrate(tmp_path, stack)
    assert done.moved == [] and "already exists" in dict(done.left)[old]
    assert done.lines()[-1] == "0 moved, 1 already on the stack timeline, 1 left"


def test_a_repeatability_document_becomes_the_oldest_line_of_the_json_lines_file(stack, tmp_path):
    machine = tmp_path / "m"
    machine.mkdir()
    old, new = machine / repeatability.LEGACY_REPEATABILITY_FILE, machine / repeatability.REPEATABILITY_FILE
    old.write_text(json.dumps({"within_10pct": 0.8, "p90_abs_change": 0.12}, indent=1))  # as compare wrote it
    newer = json.dumps({"within_10pct": 0.9, "p90_abs_change": 0.05}) + "\n"
    new.write_text(newer)
    dry = migrate.migrate(tmp_path, stack, dry_run=True)
    assert dry.moved == [(old, new)] and old.exists() and new.read_text() == newer
    assert dry.lines(dry_run=True)[0] == f"would move m/{old.name} -> {new.name}"
    done = migrate.migrate(tmp_path, stack)
    assert done.left == [] and not old.exists()
    first, second = new.read_text().splitlines()
    assert json.loads(first)["p90_abs_change"] == 0.12 and second + "\n" == newer
    assert repeatability.read(machine).fraction == 0.05  # the newest still counts


def test_mlxbench_migrate_is_a_dry_run_unless_told_to_apply(tmp_path, capsys):
    machine = tmp_path / "results" / "m"
    machine.mkdir(parents=True)
    old = _result(machine, migrate.legacy_tags()["v0.32.4"])
    unknown = _result(machine, "f" * 40)
    assert main(["migrate", str(tmp_path / "results")]) == 1  # a file is left: exit 1
    out = capsys.readouterr().out
    assert "(dry run" in out and "would move m/" in out and "1 would move, 0 already" in out and old.exists()
    assert f"left m/{unknown.name}: commit ffffffff is in neither" in out
    unknown.unlink()
    assert main(["migrate", "--apply", str(tmp_path / "results")]) == 0
    assert "1 moved" in capsys.readouterr().out and not old.exists()
    assert main(["migrate", str(tmp_path / "nowhere")]) == 2
    assert "no results directory" in capsys.readouterr().err
