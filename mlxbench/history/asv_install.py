"""ASV's install step: install the MLX–PyTorch pair a timeline commit pins.

Run by ASV inside its environment as
``python {conf_dir}/mlxbench/history/asv_install.py {build_dir}``; the build
directory holds the commit's ``MLX_VERSION`` and ``TORCH_VERSION``.

Two modes, told apart by the environment's name (ASV_ENV_NAME), which carries
the matrix's requirements:

- **pinned** (the name carries ``torch2.13.0``: the configuration's matrix pins
  torch): ASV installed that torch for the whole series, so only MLX is
  installed here, after checking the environment's torch is the pinned one.
  Used where a torch history is impractical (on Linux x86-64 every torch wheel
  on the index is a CUDA build of several GB).
- **timeline** (no torch in the name): the commit's torch is installed too.

A framework with no wheel for this Python and platform is not an error: the
other one still installs, and the reason goes into the environment's install
marker (:data:`mlxbench.harness.versions.INSTALL_MARKER`), so that framework's
backends report ``n/a: torch 2.1.0 has no wheel here`` and the commit keeps the
other framework's results. The step fails only when nothing it is responsible
for could be installed (the commit is then recorded as not installable, as
before), when a release is not catalogued, or when pip fails (so a network
error is retried on the next run instead of stored as n/a).

``MLXBENCH_MLX_ACCELERATOR=cuda12`` (or ``cuda13``) installs mlx's CUDA build;
``MLXBENCH_TORCH_INDEX=https://download.pytorch.org/whl/cpu`` adds an index
for torch (its CPU builds); ``MLXBENCH_TORCH_INSTALL=never`` never installs
torch (tests and CI: no multi-GB download by accident).

After a successful install the step waits (at most :data:`SETTLE_SECONDS`)
until the machine reads quiet, so the commit's first benchmarks do not sample
beside pip's and the page cache's leftover work.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from packaging.version import InvalidVersion, Version  # noqa: E402

from mlxbench.harness import load  # noqa: E402
from mlxbench.harness.versions import INSTALL_MARKER  # noqa: E402
from mlxbench.stack import releases  # noqa: E402
from mlxbench.stack.releases import Release  # noqa: E402
from mlxbench.stack.timeline import NONE, TORCH_VERSION_FILE, VERSION_FILE  # noqa: E402

_TORCH_TOKEN = re.compile(r"^torch(?:==?)?(?P<version>\d[^-]*)?$")


def torch_in_env_name(env_name: str | None) -> str | None:
    """The torch the environment's matrix pins, from ASV's environment name.

    ``virtualenv-py3.11-numpy-packaging-torch2.13.0`` -> ``"2.13.0"``; ``""`` when
    the matrix lists torch without a version; None when torch is not in the
    matrix (timeline mode: the install step installs each commit's torch) or
    the step runs outside ASV (then it leaves torch alone: ``""`` too).
    """
    if env_name is None:
        return ""
    for token in env_name.split("-")[1:]:
        if m := _TORCH_TOKEN.match(token):
            return m["version"] or ""
    return None


def _pin(build_dir: Path, name: str) -> str | None:
    """A version file's pin; None for ``none`` or a file older timelines lack."""
    path = build_dir / name
    if not path.exists():
        return None
    version = path.read_text().strip()
    return None if version in ("", NONE) else version


def _installed(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _pip(args: Sequence[str]) -> int:
    cmd = [sys.executable, "-m", "pip", *args, "--quiet", "--disable-pip-version-check"]
    return subprocess.call(cmd)


def _same_release(installed: str, pinned: str) -> bool:
    """``2.13.0+cpu`` is the pinned ``2.13.0``: a local build label is not another release."""
    try:
        return Version(installed).public == Version(pinned).public
    except InvalidVersion:
        return installed == pinned


def write_marker(prefix: Path, reasons: Mapping[str, str]) -> None:
    """Record (or clear) why frameworks are absent from the environment at ``prefix``."""
    marker = prefix / INSTALL_MARKER
    if reasons:
        marker.write_text(json.dumps(dict(reasons), indent=1) + "\n")
    else:
        marker.unlink(missing_ok=True)


def _catalogued(framework: str, version: str) -> Release | None:
    try:
        return releases.find(version, releases.load(framework))
    except KeyError:
        print(
            f"mlxbench: {framework} {version} is not in the release catalog; run `mlxbench releases refresh`",
            file=sys.stderr,
        )
        return None


PSUTIL = "psutil>=5.9,<8"
"""The load counters of :mod:`mlxbench.harness.load` where there is no /proc/stat (macOS): pyproject's bound."""
COUNTING_HOOKS = "pytest-codspeed==5.0.4"
"""Callgrind's client requests for the counted benchmarks (:mod:`mlxbench.harness.counting`), Linux: pyproject's pin."""


def main(build_dir: str, prefix: Path | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Install the commit's pair into this environment; 0 when what it is responsible for is usable."""
    build, prefix = Path(build_dir), Path(sys.prefix if prefix is None else prefix)
    environ = os.environ if environ is None else environ
    env_torch = torch_in_env_name(environ.get("ASV_ENV_NAME"))
    reasons: dict[str, str] = {}
    installed: list[str] = []  # frameworks this step made usable

    mlx = _pin(build, VERSION_FILE)
    if mlx is None:
        reasons["mlx"] = "no mlx release yet at this commit"
    elif (release := _catalogued("mlx", mlx)) is None:
        return 1
    elif not release.installs_here():
        reasons["mlx"] = f"mlx {mlx} has no wheel here"
        print(f"mlxbench: mlx {mlx} has no wheel for this Python and platform; skipped", file=sys.stderr)
    else:
        requirement = release.requirement(sys.platform, environ.get("MLXBENCH_MLX_ACCELERATOR") or None)
        print(f"mlxbench: installing {requirement}")
        if code := _pip(["install", requirement]):
            return code
        installed.append("mlx")

    if env_torch is not None:  # pinned: the environment's torch, for every commit of the series
        have = _installed("torch")
        if env_torch and (have is None or not _same_release(have, env_torch)):
            print(f"mlxbench: this environment pins torch {env_torch} but has {have or 'no torch'}", file=sys.stderr)
            return 1
    else:
        torch = _pin(build, TORCH_VERSION_FILE)
        release = None
        if environ.get("MLXBENCH_TORCH_INSTALL") == "never":
            reasons["torch"] = "torch not installed (MLXBENCH_TORCH_INSTALL=never)"
        elif torch is None:
            reasons["torch"] = "no torch release at this commit"
        elif (release := _catalogued("torch", torch)) is None:
            return 1
        elif not release.installs_here():
            reasons["torch"] = f"torch {torch} has no wheel here"
            print(f"mlxbench: torch {torch} has no wheel for this Python and platform; skipped", file=sys.stderr)
            release = None
        if release is not None:
            index = environ.get("MLXBENCH_TORCH_INDEX")
            print(
                f"mlxbench: installing {release.requirement(sys.platform)}" + (f" (also from {index})" if index else "")
            )
            if code := _pip(
                ["install", release.requirement(sys.platform), *(["--extra-index-url", index] if index else [])]
            ):
                return code
            installed.append("torch")
        elif "torch" in reasons and _installed("torch") is not None:
            _pip(["uninstall", "-y", "torch"])  # an earlier commit's torch must not be measured as this one's

    if not sys.platform.startswith("linux") and _installed("psutil") is None and _pip(["install", PSUTIL]):
        print("mlxbench: psutil did not install: this environment's results record no load", file=sys.stderr)
    hooks = COUNTING_HOOKS.split("==")
    if sys.platform.startswith("linux") and _installed(hooks[0]) != hooks[1] and _pip(["install", COUNTING_HOOKS]):
        print(f"mlxbench: {COUNTING_HOOKS} did not install: counted benchmarks report n/a", file=sys.stderr)
    write_marker(prefix, reasons)
    if not installed:
        print(f"mlxbench: nothing to benchmark at this commit ({'; '.join(reasons.values())})", file=sys.stderr)
        return 1
    for framework, reason in reasons.items():
        print(f"mlxbench: {framework} backends report n/a: {reason}")
    return 0


SETTLE_SECONDS = 15.0
"""The longest wait after an install for the machine to read quiet (pip's and the page cache's work done)."""


def settle(max_seconds: float = SETTLE_SECONDS) -> None:
    """Wait until the machine reads quiet (:mod:`mlxbench.harness.load`), so the commit's first benchmarks are not."""
    if max_seconds <= 0:
        return
    quiet, waited, last = load.wait_until_quiet(max_seconds)
    if not quiet and last is not None:
        print(f"mlxbench: still busy {waited:.0f} s after the install (others {last.others:.2f} cores); measuring")


if __name__ == "__main__":
    code = main(sys.argv[1])
    if code == 0:
        settle(float(os.environ.get(load.SETTLE_ENV) or SETTLE_SECONDS))
    sys.exit(code)
