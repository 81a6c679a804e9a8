"""The committed catalogs of MLX and PyTorch releases, and which of them install here.

Each catalog (``data/mlx_releases.json``, ``data/torch_releases.json``) lists
every release in timeline order with its first upload time and its wheel tags.
They are refreshed from the package index's JSON APIs (``mlxbench releases
refresh``) and committed, so nothing at run time needs the network and the
generated timeline is the same everywhere. Refreshing only appends: existing
entries keep their place and date, so existing timeline hashes never change.

PyTorch is catalogued from :data:`TORCH_FIRST` on: the 2.1 series holds the
newest torch released before MLX's first release (2.1.1, 2023-11-15, against
mlx 0.0.2 on 2023-12-05), so the timeline starts with the stack as it stood
when MLX appeared.
"""

from __future__ import annotations

import dataclasses
import json
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path

from packaging import tags as ptags
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

FRAMEWORKS = ("mlx", "torch")
DATA_DIR = Path(__file__).with_name("data")
CATALOG_PATHS = {framework: DATA_DIR / f"{framework}_releases.json" for framework in FRAMEWORKS}
CATALOG_PATH = CATALOG_PATHS["mlx"]
SOURCES = {
    "mlx": "https://pypi.org/simple/mlx/",  # PEP 691 JSON: every file with its upload time
    "torch": "https://pypi.org/pypi/torch/json",  # the legacy JSON API: releases keyed by version
}
INDEX_URL = SOURCES["mlx"]
TORCH_FIRST = "2.1.0"
"""The oldest catalogued torch: the first of the series current when MLX first shipped."""
TAG_PREFIX = {"mlx": "v", "torch": "torch-v"}


@dataclass(frozen=True)
class Release:
    version: str
    date: str  # ISO 8601 UTC, first upload of any file of the release
    wheels: tuple[str, ...]  # "cp311-cp311-manylinux_2_35_x86_64", ...
    framework: str = "mlx"
    listed: str | None = None  # when a refresh first saw a release dated before the catalogs' newest: see update()

    @property
    def tag(self) -> str:
        """The release's timeline tag: MLX's own (``v0.31.1``), ``torch-v2.9.0`` for PyTorch."""
        return f"{TAG_PREFIX[self.framework]}{self.version}"

    @cached_property
    def _tags(self) -> frozenset[ptags.Tag]:
        return frozenset(t for w in self.wheels for t in ptags.parse_tag(w))

    def installs_here(self) -> bool:
        """Whether pip would find a wheel of this release for this interpreter and platform."""
        return any(t in self._tags for t in ptags.sys_tags())

    def requirement(self, platform: str, accelerator: str | None = None) -> str:
        """The pip requirement that installs exactly this release with a working backend.

        MLX: Linux wheels from 0.26 on carry no backend: ``mlx[cpu]`` adds it,
        or ``mlx[cuda12]`` / ``mlx[cuda13]`` for NVIDIA GPUs. macOS wheels and
        the older Linux wheels are complete as they are. PyTorch: one package;
        which build (CUDA or CPU) pip gets depends on the index, not on the
        requirement, so ``accelerator`` does not apply.
        """
        if self.framework == "torch":
            return f"torch=={self.version}"
        if accelerator:
            return f"mlx[{accelerator}]=={self.version}"
        if platform.startswith("linux") and Version(self.version) >= Version("0.26.0"):
            return f"mlx[cpu]=={self.version}"
        return f"mlx=={self.version}"


def load(framework: str = "mlx", path: Path | None = None) -> list[Release]:
    """One framework's catalog, in timeline order."""
    doc = json.loads((path or CATALOG_PATHS[framework]).read_text())
    framework = doc.get("package", framework)
    return [Release(r["version"], r["date"], tuple(r["wheels"]), framework, r.get("listed")) for r in doc["releases"]]


def save(releases: Sequence[Release], path: Path | None = None, framework: str = "mlx") -> None:
    doc: dict = {"package": framework, "source": SOURCES[framework]}
    if framework == "torch":
        doc["since"] = TORCH_FIRST
    doc["releases"] = [
        {"version": r.version, "date": r.date, **({"listed": r.listed} if r.listed else {}), "wheels": list(r.wheels)}
        for r in releases
    ]
    (path or CATALOG_PATHS[framework]).write_text(json.dumps(doc, indent=1) + "\n")


def find(version: str, releases: Iterable[Release]) -> Release:
    """The release named by its version (``0.31.1``) or its tag (``v0.31.1``, ``torch-v2.9.0``)."""
    for release in releases:
        if version in (release.version, release.tag, f"v{release.version}"):
            return release
    raise KeyError(version)


def _first_upload(times: Iterable[str]) -> str:
    """The earliest of some ISO upload times, to the second, as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return min(t.split(".")[0].rstrip("Z") for t in times) + "Z"


def _wheel_tag(package: str, filename: str) -> tuple[str, str] | None:
    """(version, "interpreter-abi-platform") of one of ``package``'s wheels, or None for other files."""
    try:
        name, version, _build, _tags = parse_wheel_filename(filename)
    except (InvalidWheelFilename, InvalidVersion):
        return None
    if name != package:
        return None
    return str(version), "-".join(filename[: -len(".whl")].split("-")[-3:])


def from_index_json(doc: dict, package: str = "mlx") -> list[Release]:
    """Releases from a PEP 691 JSON project page, ordered by first upload."""
    files: dict[str, list[tuple[str, str]]] = {}
    for f in doc["files"]:
        if f.get("yanked"):
            continue
        version = _version_of(f["filename"], package)
        if version is None:
            continue
        files.setdefault(version, []).append((f["filename"], f["upload-time"]))
    releases = []
    for version, entries in files.items():
        wheels = sorted(w[1] for name, _ in entries if (w := _wheel_tag(package, name)))
        releases.append(Release(version, _first_upload(t for _, t in entries), tuple(wheels), package))
    return sorted(releases, key=lambda r: (r.date, Version(r.version)))


def from_pypi_json(doc: dict, package: str = "torch", since: str = TORCH_FIRST) -> list[Release]:
    """Releases from PyPI's JSON API (``/pypi/<package>/json``), ordered by first upload.

    Yanked files, pre-releases and versions before ``since`` are left out; a
    release whose files are all yanked is no release.
    """
    releases = []
    for version, files in doc["releases"].items():
        try:
            parsed = Version(version)
        except InvalidVersion:
            continue
        live = [f for f in files if not f.get("yanked")]
        if not live or parsed.is_prerelease or parsed < Version(since):
            continue
        wheels = sorted(w[1] for f in live if (w := _wheel_tag(package, f["filename"])))
        date = _first_upload(f["upload_time_iso_8601"] for f in live)
        releases.append(Release(version, date, tuple(wheels), package))
    return sorted(releases, key=lambda r: (r.date, Version(r.version)))


def _version_of(filename: str, package: str = "mlx") -> str | None:
    if w := _wheel_tag(package, filename):
        return w[0]
    if filename.startswith(f"{package}-") and filename.endswith(".tar.gz"):
        return filename[len(package) + 1 : -len(".tar.gz")]
    return None


def merge(existing: Sequence[Release], fetched: Sequence[Release]) -> list[Release]:
    """Append-only update: known releases keep position and date (wheels may grow); new ones go last."""
    by_version = {r.version: r for r in fetched}
    merged = [dataclasses.replace(r, wheels=by_version.get(r.version, r).wheels) for r in existing]
    known = {r.version for r in existing}
    merged.extend(r for r in fetched if r.version not in known)
    return merged


def fetch(framework: str = "mlx", timeout: float = 60.0) -> list[Release]:
    """The framework's releases as the package index lists them now (network)."""
    url = SOURCES[framework]
    accept = "application/vnd.pypi.simple.v1+json" if framework == "mlx" else "application/json"
    request = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        doc = json.load(response)
    return from_index_json(doc, "mlx") if framework == "mlx" else from_pypi_json(doc, framework)


def update(
    existing: Mapping[str, Sequence[Release]], fetched: Mapping[str, Sequence[Release]], now: str
) -> dict[str, list[Release]]:
    """Append-only update of both catalogs together; ``now`` is the refresh time (ISO, UTC).

    The timeline orders commits by upload time, so a release uploaded before
    the newest catalogued release of either framework (an index that lists an
    old release late, a catalog refreshed while the other was not) would land
    in the middle of it and change every later hash. Such a release is stamped
    ``listed=now``, and the timeline places it by that time: at the end. A
    catalog created now (a framework joining the timeline) is interleaved by
    upload time as it is: the timeline's hashes restart with it by design.
    """
    watermark = max((r.listed or r.date for catalog in existing.values() for r in catalog), default="")
    out = {}
    for framework in {*existing, *fetched}:
        old = list(existing.get(framework, []))
        new = merge(old, fetched.get(framework, []))[len(old) :]
        late = bool(old)  # see above: only an existing catalog's additions can be late
        out[framework] = old + [dataclasses.replace(r, listed=now) if late and r.date <= watermark else r for r in new]
    return out


def refresh(timeout: float = 60.0) -> dict[str, list[Release]]:
    """Fetch both catalogs, then append what is new to each; returns the added releases per framework."""
    fetched = {framework: fetch(framework, timeout) for framework in FRAMEWORKS}
    existing = {f: load(f) if CATALOG_PATHS[f].exists() else [] for f in FRAMEWORKS}
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    updated = update(existing, fetched, now)
    for framework in FRAMEWORKS:
        save(updated[framework], framework=framework)
    return {f: updated[f][len(existing[f]) :] for f in FRAMEWORKS}
