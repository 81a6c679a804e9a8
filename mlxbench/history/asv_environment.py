"""ASV environment type ``installed``: this interpreter, filed under the series ``asv run``'s virtualenv gets.

Refused where the interpreter lacks what that series or the commit ``--set-commit-hash`` names pins;
:func:`preflight` makes the same checks before ASV starts. ASV loads this module as the configuration's plugin
(:data:`~mlxbench.history.asv_project.PLUGIN`) for every command: it also takes the machine's lock for a plain
``asv run`` (:func:`setup`, ASV's plugin hook), installs :mod:`mlxbench.history.asv_patches` and makes what the
command needs. Why: docs/architecture.md, "The installed environment", and docs/asv-integration.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from asv import environment, util
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from mlxbench.history import asv_command, asv_patches, asv_plain_run, asv_prerequisites, lock
from mlxbench.history.asv_project import AsvProject
from mlxbench.stack.timeline import NONE, TORCH_VERSION_FILE, VERSION_FILE

TOOL_NAME = "installed"
SERIES_TOOL = "virtualenv"
"""Whose names the ``installed`` environment takes: the environment type of the repository's configuration."""
PIN_FILES = {"mlx": VERSION_FILE, "torch": TORCH_VERSION_FILE}
"""Files of a timeline commit that pin a framework's release (``none`` where it has none yet)."""

_PROBE = """
import importlib.metadata as m, json, sys
found = {}
for name in sys.argv[1:]:
    try:
        found[name] = m.version(name)
    except m.PackageNotFoundError:
        found[name] = None
print(json.dumps(found))
"""


def installed_versions(executable: str, names: Iterable[str]) -> dict[str, str | None]:
    """The installed version of each distribution in ``executable``'s environment (None: not installed)."""
    names = list(names)
    if not names:
        return {}
    out = subprocess.run([executable, "-c", _PROBE, *names], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def _matches(have: str, wanted: str) -> bool:
    """Whether version ``have`` satisfies a matrix value: empty (any), a bare version (==) or a specifier."""
    if not wanted:
        return True
    spec = wanted if wanted[0] in "<>=!~" else f"=={wanted}"
    try:
        # ==2.13.0 accepts the local build 2.13.0+cpu, as pip does.
        return SpecifierSet(spec).contains(Version(have), prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return have == wanted


def requirement_problems(requirements: Mapping[str, str], installed: Mapping[str, str | None]) -> list[str]:
    """What differs between the matrix's requirements and what is installed, one line each ([] if nothing)."""
    problems = []
    for key, wanted in sorted(requirements.items()):
        name = key.removeprefix("pip+")
        have = installed.get(name)
        pin = f"{name}=={wanted}" if wanted and wanted[0] not in "<>=!~" else f"{name}{wanted}"
        if have is None:
            problems.append(f"{name} is not installed; the series has {pin}")
        elif not _matches(have, wanted):
            problems.append(f"{name} {have} is installed; the series pins {pin}")
    return problems


def commit_pins(repo: str, name: str) -> tuple[str, dict[str, str]] | None:
    """The full hash of commit ``name`` in the timeline at ``repo`` and the releases it pins; None if unknown.

    A framework whose pin file is absent or says ``none`` has no entry.
    """

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "-C", repo, *args], capture_output=True, text=True)

    found = git("rev-parse", "--verify", "--quiet", f"{name}^{{commit}}")
    if found.returncode != 0:
        return None
    commit = found.stdout.strip()
    pins = {}
    for framework, filename in PIN_FILES.items():
        shown = git("show", f"{commit}:{filename}")
        version = shown.stdout.strip()
        if shown.returncode == 0 and version and version != NONE:
            pins[framework] = version
    return commit, pins


def set_commit_hash_argument(argv: Sequence[str]) -> str | None:
    """The commit ``asv run --set-commit-hash`` names on ASV's command line, if any.

    ASV never tells an environment which commit its results will be filed
    under (``install_project`` receives the branch head), so the check that
    the installed MLX is that commit's reads ASV's own arguments.
    """
    for i, arg in enumerate(argv):
        if arg == "--set-commit-hash" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--set-commit-hash="):
            return arg.split("=", 1)[1]
    return None


def commit_problems(
    pins: Mapping[str, str], installed: Mapping[str, str | None], matrix: Mapping[str, str]
) -> list[str]:
    """What the interpreter holds that the commit does not pin. Torch pinned by the matrix is the matrix's to check."""
    problems = []
    for framework, wanted in sorted(pins.items()):
        if framework in matrix:
            continue
        have = installed.get(framework)
        if have is None or not _matches(have, wanted):
            problems.append(f"the commit pins {framework} {wanted}, the interpreter has {have or 'none'}")
    return problems


class InstalledEnvironment(environment.ExistingEnvironment):
    """An existing interpreter that files its results under the virtualenv series of its matrix entry."""

    tool_name = TOOL_NAME
    matches_python_fallback = False  # only ever chosen by name (-E installed:<python>)

    def __init__(self, conf: Any, executable: str, requirements: dict[str, str], tagged_env_vars: dict) -> None:
        if executable == "same":
            executable = sys.executable
        try:
            executable = os.path.abspath(util.which(executable))
            version = python_version(executable)
        except (subprocess.CalledProcessError, OSError) as exc:
            raise environment.EnvironmentUnavailable(
                f"installed:{executable}: not a Python interpreter ({exc})"
            ) from exc
        self._series_python = version  # read by ``name`` during the base class's __init__
        super().__init__(conf, executable, requirements, tagged_env_vars)
        self._python = version  # results record "3.11" as the virtualenv's do, not the interpreter's path
        self._check(conf)

    @property
    def name(self) -> str:
        """``virtualenv-py3.11-numpy-packaging-torch2.13.0``: the name ASV's virtualenv has for this matrix entry."""
        return environment.get_env_name(SERIES_TOOL, self._series_python, self._requirements, self._tagged_env_vars)

    def can_install_project(self) -> bool:
        """Allows a range (``asv run <commit>^! --set-commit-hash <commit>``); nothing is installed, see below.

        ASV skips what is already measured (``--skip-existing-successful``)
        by looking up the commits of its loop, which without a range are the
        branch heads, not ``--set-commit-hash``'s commit: the main job passes
        that commit as the range too.
        """
        return True

    def install_project(self, conf: Any, repo: Any, commit_hash: str | None = None) -> None:
        """Install nothing: check that the interpreter already holds what ``commit_hash`` pins (else UserError).

        ASV calls this for every commit of its range, at discovery (before it
        writes ``benchmarks.json``) and before benchmarking.
        """
        if commit_hash:
            self._check_commit(str(conf.repo), commit_hash)

    def _check_commit(self, repo: str, name: str) -> None:
        pinned = commit_pins(repo, name) if os.path.isdir(repo) else None
        if not pinned:
            return
        installed = installed_versions(self._executable, sorted(pinned[1]))
        problems = commit_problems(pinned[1], installed, self._requirements)
        if problems:
            raise util.UserError(
                f"refusing to file results of {self._executable} under commit {name} ({pinned[0][:8]}): "
                + "; ".join(problems)
            )

    def _check(self, conf: Any) -> None:
        names = sorted(k.removeprefix("pip+") for k in self._requirements)
        problems = requirement_problems(self._requirements, installed_versions(self._executable, names))
        if problems:
            # ASV's way to say "this matrix entry cannot be had here": a warning, and the entry is skipped
            raise environment.EnvironmentUnavailable(
                f"{TOOL_NAME}:{self._executable} cannot stand for {self.name}: " + "; ".join(problems)
            )
        commit_name = set_commit_hash_argument(sys.argv)
        if commit_name:
            self._check_commit(str(conf.repo), commit_name)

    def run(self, args: list[str], **kwargs: Any) -> Any:
        """Run with ASV's variables (``ASV_CONF_DIR``, ...) set, as every other environment type does.

        ``existing`` leaves them out; the suite needs ``ASV_CONF_DIR`` to refuse
        a preset that is not its configuration's.
        """
        env = dict(kwargs.pop("env", None) or os.environ)
        env.update(self._global_env_vars)
        return super().run(args, env=env, **kwargs)


def python_version(executable: str) -> str:
    """``"3.11"``: the Python of ``executable``, as ASV's virtualenv names it."""
    out = subprocess.run(
        [executable, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def preflight(project: AsvProject, executable: str, pins: Mapping[str, str]) -> list[str]:
    """The series names ``asv run -E installed:<executable>`` will file ``project``'s results under, checked first.

    The checks :class:`InstalledEnvironment` makes inside ASV, made before ASV
    writes anything. ``pins``: the releases the commit pins
    (``{"mlx": "0.32.4"}``). Raises ValueError naming every problem.
    """
    entries = project.matrix_entries(TOOL_NAME, executable)
    names = {k.removeprefix("pip+") for reqs, _ in entries for k in reqs} | set(pins)
    installed = installed_versions(executable, sorted(names))
    version = python_version(executable)
    accepted: list[str] = []
    refused: list[str] = []
    for reqs, tagged in entries:
        series = environment.get_env_name(SERIES_TOOL, version, reqs, tagged)
        problems = requirement_problems(reqs, installed) or commit_problems(pins, installed, reqs)
        if problems:
            refused.append(f"{series}: " + "; ".join(problems))
        else:
            accepted.append(series)
    if not accepted:
        raise ValueError(f"{executable} cannot stand for any series of this configuration: " + " | ".join(refused))
    return accepted


MEASURING_COMMANDS = ("run", "continuous", "profile", "find")
"""The ASV commands that time benchmarks: through this configuration each takes the machine's measurement lock."""


def lock_a_plain_asv_run(argv: Sequence[str]) -> bool:
    """Hold the machine's lock for this ASV process if it measures (ASV imports this plugin for every command)."""
    program = Path(argv[0]) if argv else Path()
    if program.name != "asv" and program.parts[-2:] != ("asv", "__main__.py"):
        return False
    command = next((a for a in argv[1:] if not a.startswith("-")), None)
    if command not in MEASURING_COMMANDS:
        return False
    lock.hold_for_process(["asv", *argv[1:]])
    return True


def setup() -> None:
    """ASV's plugin hook, called once the plugin is imported: the lock for a measuring command, ASV's patches,
    then what the command needs made (:mod:`~mlxbench.history.asv_prerequisites`) and kept
    (:mod:`~mlxbench.history.asv_plain_run`)."""
    lock_a_plain_asv_run(sys.argv)
    asv_patches.install()
    if (command := asv_command.parse(sys.argv)) is not None:
        asv_prerequisites.prepare(command)
        asv_plain_run.record(command)
