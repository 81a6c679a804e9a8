"""The release catalogs and the generated stack timeline: complete, deterministic, append-only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from packaging.version import Version

from mlxbench.history import commits
from mlxbench.history.asv_project import pinned_torch, without_torch
from mlxbench.stack import releases, timeline
from mlxbench.stack.releases import Release

# The stack timeline's hashes are the keys of every stored result: they may never change by accident.
GOLDEN = {
    "torch-v2.1.0": "4bcbc7feb3716dd527b8490b4848080b327c9a68",
    "v0.2.0": "de5ce0ba5d5594ab8f44b8f750ef24d60e33005e",
    "v0.31.1": "8dbf37bd51b5362389361f332dd5982ff8243fed",
    "torch-v2.13.0": "56b348b82e33559617e2f3b93e58ee6e8be55142",
    "v0.32.4": "56700ceae220f8b8b7edbbfc31ee600ac2e15e1b",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> dict[str, str]:
    """The timeline of both committed catalogs: tag -> hash."""
    return timeline.sync(tmp_path_factory.mktemp("stack") / "t.git")


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


def test_catalog_covers_mlx_history_in_order():
    catalog = releases.load()
    versions = [r.version for r in catalog]
    assert versions[0] == "0.0.2" and "0.2.0" in versions and "0.32.4" in versions
    assert len(versions) == len(set(versions)) >= 60
    assert [r.date for r in catalog] == sorted(r.date for r in catalog)
    assert {r.framework for r in catalog} == {"mlx"}


def test_torch_catalog_starts_with_the_series_current_when_mlx_appeared():
    torch, mlx = releases.load("torch"), releases.load("mlx")
    versions = [r.version for r in torch]
    assert {"2.1.0", "2.1.1", "2.1.2", "2.9.0", "2.13.0", "2.14.1"} <= set(versions)
    assert len(versions) == len(set(versions)) >= 26
    assert all(Version(v) >= Version(releases.TORCH_FIRST) for v in versions)
    assert [r.date for r in torch] == sorted(r.date for r in torch)
    assert {r.framework for r in torch} == {"torch"} and all(r.wheels for r in torch)
    newest_before_mlx = max((r for r in torch if r.date < mlx[0].date), key=lambda r: Version(r.version))
    assert Version(newest_before_mlx.version).release[:2] == Version(releases.TORCH_FIRST).release[:2]


def test_timeline_holds_every_mlx_release_and_every_torch_release_from_2_1(stack):
    mlx, torch = releases.load("mlx"), releases.load("torch")
    assert len(mlx) == 60
    assert {r.tag for r in mlx} <= set(stack) and {r.tag for r in torch} <= set(stack)
    assert len(stack) == len(mlx) + len(torch)  # no torch release of the catalog is an older series' patch
    assert list(stack)[:2] == ["torch-v2.1.0", "torch-v2.1.1"]  # torch before MLX's first release


def test_timeline_hashes_are_fixed_and_identical_in_different_directories(stack, tmp_path):
    assert {t: stack[t] for t in GOLDEN} == GOLDEN
    elsewhere = timeline.sync(tmp_path / "elsewhere" / "b", releases.load("mlx"), releases.load("torch"))
    assert elsewhere == stack
    again = timeline.sync(tmp_path / "elsewhere" / "b")
    assert again == stack


def test_commits_are_in_upload_order_and_pin_the_newest_pair(stack):
    plan = timeline.plan()
    assert [c.tag for c in plan] == list(stack)
    assert [c.release.date for c in plan] == sorted(c.release.date for c in plan)
    for commit in plan:
        before = [c.release for c in plan if c.release.date <= commit.release.date]
        newest_torch = max((Version(r.version) for r in before if r.framework == "torch"), default=None)
        assert commit.torch == (str(newest_torch) if newest_torch else None)
        if commit.framework == "mlx":
            assert commit.mlx == commit.release.version
        else:
            newest_mlx = max((Version(r.version) for r in before if r.framework == "mlx"), default=None)
            assert commit.mlx == (str(newest_mlx) if newest_mlx else None)


def test_commits_are_dated_and_tagged_and_hold_both_pins(stack, tmp_path):
    repo = tmp_path / "t.git"
    tags = timeline.sync(repo)
    mlx = releases.find("v0.31.1", releases.load("mlx"))
    torch = releases.find("torch-v2.9.0", releases.load("torch"))
    assert _git(repo, "show", f"{tags['v0.31.1']}:MLX_VERSION") == "0.31.1\n"
    assert _git(repo, "show", f"{tags['v0.31.1']}:TORCH_VERSION") == "2.10.0\n"
    assert _git(repo, "log", "-1", "--format=%cI", "v0.31.1").startswith(mlx.date[:19])
    assert _git(repo, "show", f"{tags['torch-v2.9.0']}:TORCH_VERSION") == "2.9.0\n"
    assert _git(repo, "log", "-1", "--format=%cI %s", "torch-v2.9.0").startswith(torch.date[:19])
    assert _git(repo, "show", "torch-v2.1.0:MLX_VERSION") == "none\n"
    assert _git(repo, "log", "-1", "--format=%s", "v0.2.0") == "mlx 0.2.0 (torch 2.2.0)\n"


def _later(release: Release, framework: str, version: str, days: int = 1) -> Release:
    """A release of ``framework`` uploaded ``days`` after ``release``."""
    from datetime import datetime, timedelta

    date = datetime.fromisoformat(release.date.replace("Z", "+00:00")) + timedelta(days=days)
    return Release(version, date.strftime("%Y-%m-%dT%H:%M:%SZ"), release.wheels, framework)


def test_appending_a_release_of_either_framework_adds_one_commit_and_keeps_every_hash(stack, tmp_path):
    mlx, torch = releases.load("mlx"), releases.load("torch")
    newest = max(mlx[-1], torch[-1], key=lambda r: r.date)
    repo = tmp_path / "t.git"
    assert timeline.sync(repo, mlx, torch) == stack

    mlx = [*mlx, _later(newest, "mlx", "0.33.0")]
    after_mlx = timeline.sync(repo, mlx, torch)
    assert {t: after_mlx[t] for t in stack} == stack and list(after_mlx)[len(stack) :] == ["v0.33.0"]

    torch = [*torch, _later(newest, "torch", "2.16.0", days=2)]
    after_torch = timeline.sync(repo, mlx, torch)
    assert {t: after_torch[t] for t in after_mlx} == after_mlx
    assert list(after_torch)[len(after_mlx) :] == ["torch-v2.16.0"]
    assert _git(repo, "show", "torch-v2.16.0:MLX_VERSION") == "0.33.0\n"


def test_an_older_series_patch_of_torch_gets_no_commit(stack, tmp_path):
    mlx, torch = releases.load("mlx"), releases.load("torch")
    backport = _later(max(mlx[-1], torch[-1], key=lambda r: r.date), "torch", "2.13.1")
    tags = timeline.sync(tmp_path / "t.git", mlx, [*torch, backport])
    assert tags == stack
    assert "torch-v2.13.1" not in tags


def test_a_release_listed_late_is_appended_not_inserted(stack, tmp_path):
    """An old release the index lists late, or a release older than the other catalog's newest: appended."""
    mlx, torch = releases.load("mlx"), releases.load("torch")
    late_mlx = Release("0.0.1", "2023-01-01T00:00:00Z", (), "mlx")
    late_torch = _later(mlx[-1], "torch", "2.14.2")  # after mlx 0.32.4, before the catalogued torch 2.15.0
    new_mlx = _later(torch[-1], "mlx", "0.33.0")
    now = "2030-01-01T00:00:00Z"
    updated = releases.update(
        {"mlx": mlx, "torch": torch}, {"mlx": [*mlx, late_mlx, new_mlx], "torch": [*torch, late_torch]}, now
    )
    assert updated["mlx"][: len(mlx)] == mlx and updated["torch"][: len(torch)] == torch
    assert [(r.version, r.listed) for r in updated["mlx"][len(mlx) :]] == [("0.0.1", now), ("0.33.0", None)]
    assert [(r.version, r.listed) for r in updated["torch"][len(torch) :]] == [("2.14.2", now)]
    tags = timeline.sync(tmp_path / "t.git", updated["mlx"], updated["torch"])
    assert {t: tags[t] for t in stack} == stack
    assert list(tags)[len(stack) :] == ["v0.0.1", "v0.33.0"]  # in catalog order; 2.14.2 < 2.15.0: no commit
    assert releases.update({"torch": []}, {"torch": torch}, now)["torch"] == torch  # a new catalog: as uploaded


def test_refresh_is_append_only():
    old = [Release("0.1.0", "2024-01-01T00:00:00Z", ("cp311-cp311-macosx_14_0_arm64",))]
    fetched = [
        Release("0.0.9", "2023-12-01T00:00:00Z", ()),  # appears late in the index: goes last
        Release(
            "0.1.0", "2030-01-01T00:00:00Z", ("cp311-cp311-macosx_14_0_arm64", "cp311-cp311-manylinux_2_35_x86_64")
        ),
    ]
    merged = releases.merge(old, fetched)
    assert [r.version for r in merged] == ["0.1.0", "0.0.9"]
    assert merged[0].date == "2024-01-01T00:00:00Z" and len(merged[0].wheels) == 2
    torch = releases.merge([Release("2.1.0", "2023-10-04T16:37:27Z", (), "torch")], [])
    assert torch[0].framework == "torch"


def test_catalogs_round_trip_through_their_files(tmp_path):
    for framework in releases.FRAMEWORKS:
        catalog = releases.load(framework)
        releases.save(catalog, tmp_path / f"{framework}.json", framework=framework)
        assert (tmp_path / f"{framework}.json").read_text() == releases.CATALOG_PATHS[framework].read_text()


def test_index_json_is_parsed_into_releases():
    doc = {
        "files": [
            {"filename": "mlx-0.2.0-cp311-cp311-manylinux_2_31_x86_64.whl", "upload-time": "2024-02-10T02:24:03.412Z"},
            {"filename": "mlx-0.2.0-cp311-cp311-macosx_14_0_arm64.whl", "upload-time": "2024-02-08T19:34:15.7Z"},
            {"filename": "mlx-0.1.0.tar.gz", "upload-time": "2024-01-01T00:00:00.0Z"},
            {
                "filename": "mlx-0.1.1-cp311-cp311-macosx_14_0_arm64.whl",
                "upload-time": "2024-01-05T00:00:00Z",
                "yanked": True,
            },
        ]
    }
    got = releases.from_index_json(doc)
    assert [(r.version, r.date, len(r.wheels)) for r in got] == [
        ("0.1.0", "2024-01-01T00:00:00Z", 0),
        ("0.2.0", "2024-02-08T19:34:15Z", 2),
    ]


def test_pypi_json_is_parsed_into_torch_releases():
    def wheel(version: str, tag: str, time: str, yanked: bool = False) -> dict:
        return {"filename": f"torch-{version}-{tag}.whl", "upload_time_iso_8601": time, "yanked": yanked}

    doc = {
        "releases": {
            "2.0.1": [wheel("2.0.1", "cp311-cp311-manylinux1_x86_64", "2023-05-08T16:28:47.2Z")],  # before 2.1
            "2.2.0": [
                wheel("2.2.0", "cp311-cp311-manylinux1_x86_64", "2024-01-30T17:30:00.1Z"),
                wheel("2.2.0", "cp311-none-macosx_11_0_arm64", "2024-01-30T17:28:30.325206Z"),
            ],
            "2.1.0": [wheel("2.1.0", "cp311-cp311-win_amd64", "2023-10-04T16:37:27.9Z")],
            "2.1.5": [wheel("2.1.5", "cp311-cp311-win_amd64", "2024-03-01T00:00:00Z", yanked=True)],
            "2.3.0rc1": [wheel("2.3.0rc1", "cp311-cp311-win_amd64", "2024-04-01T00:00:00Z")],
            "2.3.0": [],
        }
    }
    got = releases.from_pypi_json(doc)
    assert [(r.version, r.date, r.wheels, r.tag) for r in got] == [
        ("2.1.0", "2023-10-04T16:37:27Z", ("cp311-cp311-win_amd64",), "torch-v2.1.0"),
        (
            "2.2.0",
            "2024-01-30T17:28:30Z",
            ("cp311-cp311-manylinux1_x86_64", "cp311-none-macosx_11_0_arm64"),
            "torch-v2.2.0",
        ),
    ]


@pytest.mark.parametrize(
    "version, framework, platform, accel, expected",
    [
        ("0.25.2", "mlx", "linux", None, "mlx==0.25.2"),
        ("0.26.5", "mlx", "linux", None, "mlx[cpu]==0.26.5"),
        ("0.32.4", "mlx", "darwin", None, "mlx==0.32.4"),
        ("0.32.4", "mlx", "linux", "cuda12", "mlx[cuda12]==0.32.4"),
        ("2.13.0", "torch", "linux", None, "torch==2.13.0"),
        ("2.9.0", "torch", "darwin", "cuda12", "torch==2.9.0"),
    ],
)
def test_requirement_picks_the_extra_the_platform_needs(version, framework, platform, accel, expected):
    assert Release(version, "", (), framework).requirement(platform, accel) == expected


def test_find_takes_versions_and_tags():
    torch = releases.load("torch")
    assert releases.find("torch-v2.9.0", torch) is releases.find("2.9.0", torch)
    assert releases.find("v0.31.1", releases.load()).version == "0.31.1"
    with pytest.raises(KeyError):
        releases.find("v2.9.0-nope", torch)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="wheel availability checked for Linux x86-64")
def test_installs_here_follows_the_wheel_tags():
    catalog = releases.load()
    assert releases.find("0.32.4", catalog).installs_here()
    assert not releases.find("0.0.2", catalog).installs_here()  # macOS-only wheels
    assert not Release("2.13.0", "", ("cp311-cp311-win_amd64",), "torch").installs_here()


# -- commit selection (cost control for `mlxbench history`) -------------------------------------------------------


def _installs(release: Release) -> bool:
    """Linux x86-64 as this project knows it, without depending on the test machine: no MLX 0.0.x, no torch 2.1.0."""
    return not release.version.startswith("0.0.") and release.tag != "torch-v2.1.0"


def test_pinned_host_runs_mlx_commits_that_install_here_by_default(stack):
    plan = timeline.plan()
    chosen = commits.select(plan, stack, pinned=True, installs=_installs)
    mlx = [c for c in plan if c.framework == "mlx"]
    assert [s.tag for s in chosen.commits] == [c.tag for c in mlx if _installs(c.release)]
    assert chosen.hashes == [stack[s.tag] for s in chosen.commits]
    assert ("v0.0.2", "mlx 0.0.2 has no wheel here") in chosen.skipped
    assert len(chosen.commits) == 60 - sum(c.release.version.startswith("0.0.") for c in mlx)


def test_pinned_host_refuses_a_torch_history(stack):
    with pytest.raises(ValueError, match="torch is pinned"):
        commits.select(timeline.plan(), stack, framework="torch", pinned=True, installs=_installs)
    chosen = commits.select(timeline.plan(), stack, "v0.32.3..", framework="all", pinned=True, installs=_installs)
    assert [s.tag for s in chosen.commits] == ["v0.32.3", "v0.32.4"]
    assert [t for t, _ in chosen.skipped] == ["torch-v2.14.1", "torch-v2.15.0"]


def test_timeline_host_selects_by_framework_and_range(stack):
    plan = timeline.plan()
    torch = commits.select(plan, stack, "v0.31.1..v0.32.4", framework="torch", installs=_installs)
    assert [s.tag for s in torch.commits] == [
        "torch-v2.11.0",
        "torch-v2.12.0",
        "torch-v2.12.1",
        "torch-v2.13.0",
        "torch-v2.14.0",
        "torch-v2.14.1",
    ]
    everything = commits.select(plan, stack, "torch-v2.14.0..v0.32.4", installs=_installs)
    assert [s.tag for s in everything.commits] == ["torch-v2.14.0", "v0.32.3", "torch-v2.14.1", "v0.32.4"]
    first = commits.select(plan, stack, "..v0.0.2", installs=_installs)
    assert [s.tag for s in first.commits] == ["torch-v2.1.1"]
    assert [t for t, _ in first.skipped] == ["torch-v2.1.0", "v0.0.2"]
    one = commits.select(plan, stack, stack["v0.31.1"][:10], installs=_installs)
    assert [s.tag for s in one.commits] == ["v0.31.1"]


def test_selection_names_what_it_does_not_know(stack):
    plan = timeline.plan()
    with pytest.raises(ValueError, match="unknown release 'v9.9.9'"):
        commits.select(plan, stack, "v0.2.0..v9.9.9")
    with pytest.raises(ValueError, match="empty range"):
        commits.select(plan, stack, "v0.32.4..v0.2.0")
    with pytest.raises(ValueError, match="valid: mlx, torch, all"):
        commits.select(plan, stack, framework="jax")


def test_pinned_and_timeline_configurations():
    conf = {"matrix": {"req": {"torch": ["2.13.0"], "numpy": [""], "packaging": [""]}}}
    assert pinned_torch(conf["matrix"]) == ["2.13.0"]
    free = without_torch(conf)
    assert pinned_torch(free["matrix"]) == [] and free["matrix"]["req"] == {"numpy": [""], "packaging": [""]}
    assert conf["matrix"]["req"]["torch"] == ["2.13.0"]  # the original is left alone
    assert pinned_torch({"torch": "2.12.1"}) == ["2.12.1"]  # ASV's older matrix format, without "req"


def test_a_spec_of_several_ranges_selects_their_union_in_timeline_order(stack):
    plan = timeline.plan()
    chosen = commits.select(
        plan, stack, "torch-v2.14.1, torch-v2.12.1,torch-v2.13.0..torch-v2.13.0", installs=_installs
    )
    assert [s.tag for s in chosen.commits] == ["torch-v2.12.1", "torch-v2.13.0", "torch-v2.14.1"]
    overlapping = commits.select(plan, stack, "v0.32.2..v0.32.4,v0.32.3", framework="mlx", installs=_installs)
    assert [s.tag for s in overlapping.commits] == ["v0.32.2", "v0.32.3", "v0.32.4"]
    with pytest.raises(ValueError, match="empty part"):
        commits.select(plan, stack, "v0.32.3,,v0.32.4", installs=_installs)
