"""The release catalog and the generated timeline: deterministic and append-only."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mlxbench.history import releases, timeline
from mlxbench.history.releases import Release


def test_catalog_covers_mlx_history_in_order():
    catalog = releases.load()
    versions = [r.version for r in catalog]
    assert versions[0] == "0.0.2" and "0.2.0" in versions and "0.32.4" in versions
    assert len(versions) == len(set(versions)) >= 60
    assert [r.date for r in catalog] == sorted(r.date for r in catalog)


def test_timeline_hashes_are_identical_in_different_directories(tmp_path):
    catalog = releases.load()
    a = timeline.sync(tmp_path / "a", catalog)
    b = timeline.sync(tmp_path / "elsewhere" / "b", catalog)
    assert a == b and len(a) == len(catalog)
    assert list(a)[-1] == catalog[-1].tag


def test_adding_a_release_leaves_earlier_hashes_unchanged(tmp_path):
    catalog = releases.load()
    before = timeline.sync(tmp_path / "t", catalog[:-3])
    after = timeline.sync(tmp_path / "t", catalog)
    assert {t: after[t] for t in before} == before
    assert len(after) == len(before) + 3


def test_commits_are_dated_and_pin_one_release(tmp_path):
    catalog = releases.load()
    tags = timeline.sync(tmp_path / "t", catalog)
    release = releases.find("v0.31.1", catalog)

    def git(*a):
        return subprocess.run(["git", *a], cwd=tmp_path / "t", capture_output=True, text=True, check=True).stdout

    assert git("show", f"{tags['v0.31.1']}:MLX_VERSION") == "0.31.1\n"
    assert git("log", "-1", "--format=%cI", "v0.31.1").startswith(release.date[:19])


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


@pytest.mark.parametrize(
    "version, platform, accel, expected",
    [
        ("0.25.2", "linux", None, "mlx==0.25.2"),
        ("0.26.5", "linux", None, "mlx[cpu]==0.26.5"),
        ("0.32.4", "darwin", None, "mlx==0.32.4"),
        ("0.32.4", "linux", "cuda12", "mlx[cuda12]==0.32.4"),
    ],
)
def test_requirement_picks_the_extra_the_platform_needs(version, platform, accel, expected):
    assert Release(version, "", ()).requirement(platform, accel) == expected


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="wheel availability checked for Linux x86-64")
def test_installs_here_follows_the_wheel_tags():
    catalog = releases.load()
    assert releases.find("0.32.4", catalog).installs_here()
    assert not releases.find("0.0.2", catalog).installs_here()  # macOS-only wheels
