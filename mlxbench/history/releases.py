"""The committed catalog of MLX releases, and which of them install here.

The catalog (``data/mlx_releases.json``) lists every release in timeline order
with its first upload time and its wheel tags. It is refreshed from the package
index's JSON API (``mlxbench releases refresh``) and committed, so nothing at
run time needs the network and the generated timeline is the same everywhere.
Refreshing only appends: existing entries keep their place and date.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from packaging import tags as ptags
from packaging.version import Version

CATALOG_PATH = Path(__file__).with_name("data") / "mlx_releases.json"
INDEX_URL = "https://pypi.org/simple/mlx/"
_WHEEL = re.compile(r"^mlx-(?P<version>[^-]+)-(?P<tag>.+)\.whl$")


@dataclass(frozen=True)
class Release:
    version: str
    date: str  # ISO 8601 UTC, first upload of any file of the release
    wheels: tuple[str, ...]  # "cp311-cp311-manylinux_2_35_x86_64", ...

    @property
    def tag(self) -> str:
        """The git tag MLX itself uses for the release."""
        return f"v{self.version}"

    @cached_property
    def _tags(self) -> frozenset[ptags.Tag]:
        return frozenset(t for w in self.wheels for t in ptags.parse_tag(w))

    def installs_here(self) -> bool:
        """Whether pip would find a wheel of this release for this interpreter and platform."""
        return any(t in self._tags for t in ptags.sys_tags())

    def requirement(self, platform: str, accelerator: str | None = None) -> str:
        """The pip requirement that installs exactly this release with a working backend.

        Linux wheels from 0.26 on carry no backend: ``mlx[cpu]`` adds it, or
        ``mlx[cuda12]`` / ``mlx[cuda13]`` for NVIDIA GPUs. macOS wheels and the
        older Linux wheels are complete as they are.
        """
        if accelerator:
            return f"mlx[{accelerator}]=={self.version}"
        if platform.startswith("linux") and Version(self.version) >= Version("0.26.0"):
            return f"mlx[cpu]=={self.version}"
        return f"mlx=={self.version}"


def load(path: Path = CATALOG_PATH) -> list[Release]:
    doc = json.loads(path.read_text())
    return [Release(r["version"], r["date"], tuple(r["wheels"])) for r in doc["releases"]]


def save(releases: Sequence[Release], path: Path = CATALOG_PATH) -> None:
    doc = {
        "package": "mlx",
        "source": INDEX_URL,
        "releases": [{"version": r.version, "date": r.date, "wheels": list(r.wheels)} for r in releases],
    }
    path.write_text(json.dumps(doc, indent=1) + "\n")


def find(version: str, releases: Iterable[Release]) -> Release:
    wanted = version.removeprefix("v")
    for release in releases:
        if release.version == wanted:
            return release
    raise KeyError(version)


def from_index_json(doc: dict) -> list[Release]:
    """Releases from a PEP 691 JSON project page, ordered by first upload."""
    files: dict[str, list[tuple[str, str]]] = {}
    for f in doc["files"]:
        if f.get("yanked"):
            continue
        version = _version_of(f["filename"])
        if version is None:
            continue
        files.setdefault(version, []).append((f["filename"], f["upload-time"]))
    releases = []
    for version, entries in files.items():
        date = min(t for _, t in entries).split(".")[0].rstrip("Z") + "Z"
        wheels = sorted(m["tag"] for name, _ in entries if (m := _WHEEL.match(name)))
        releases.append(Release(version, date, tuple(wheels)))
    return sorted(releases, key=lambda r: (r.date, Version(r.version)))


def _version_of(filename: str) -> str | None:
    if m := _WHEEL.match(filename):
        return m["version"]
    if filename.startswith("mlx-") and filename.endswith(".tar.gz"):
        return filename[len("mlx-") : -len(".tar.gz")]
    return None


def merge(existing: Sequence[Release], fetched: Sequence[Release]) -> list[Release]:
    """Append-only update: known releases keep position and date (wheels may grow); new ones go last."""
    by_version = {r.version: r for r in fetched}
    merged = [Release(r.version, r.date, by_version.get(r.version, r).wheels) for r in existing]
    known = {r.version for r in existing}
    merged.extend(r for r in fetched if r.version not in known)
    return merged


def fetch(url: str = INDEX_URL, timeout: float = 60.0) -> list[Release]:
    request = urllib.request.Request(url, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return from_index_json(json.load(response))
