"""What an ASV command through this repository's configuration needs before it starts, made where it is missing.

A fresh clone holds the configuration and the committed results, nothing more. Before ASV reads them, the
plugin's ``setup`` (:mod:`mlxbench.history.asv_environment`) syncs the timeline with the release catalogs,
writes ``benchmarks.json`` by ASV's own discovery in this interpreter, registers this machine the way
``mlxbench machine`` does where ASV would find no entry, and publishes the site ``asv preview`` would serve.
Each is said in one line. Why: docs/asv-integration.md, "ASV's commands on a fresh clone".
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlxbench.harness.asv_suite import PRESET_ENV
from mlxbench.history import machine
from mlxbench.history.asv_command import AsvCommand
from mlxbench.history.asv_project import DEFAULT_PRESET, PRESET_KEY, STATE_DIR
from mlxbench.stack import releases, timeline
from mlxbench.store import files, machines

TIMELINE = (STATE_DIR, "timeline.git")
"""The timeline's place in a repository's (or a derived configuration's) ``repo``: synced before every command."""
READ_BENCHMARKS = ("compare", "show", "publish", "gh-pages")
"""The commands that read ``benchmarks.json`` without writing it (``asv run`` writes it)."""
LOAD_MACHINE = ("run", "continuous", "find")
"""The commands that look the machine up in ``~/.asv-machine.json`` (and ask at the console where it is not)."""


def _say(line: str) -> None:
    print(f"mlxbench: {line}", file=sys.stderr, flush=True)


def sync_timeline(repo: Path) -> dict[str, str] | None:
    """Create or update the timeline at ``repo`` where it is this repository's (:data:`TIMELINE`); its tags.

    A timeline that already has every catalogued release is only read (another command may be writing it).
    """
    if Path(repo).parts[-2:] != TIMELINE:
        return None  # another project's repository (a test's own timeline): ASV's to read as it is
    catalog = releases.load()
    if (Path(repo) / "HEAD").exists():
        have = timeline.tags(Path(repo))
        if {commit.tag for commit in timeline.plan(catalog)} <= set(have):
            return have
    return timeline.sync(Path(repo), catalog)


@contextmanager
def _environ(values: Mapping[str, str]) -> Iterator[None]:
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def discover(conf: Any) -> None:
    """Write the configuration's ``benchmarks.json`` by ASV's discovery in this interpreter (``-E existing``).

    The suite lives in this repository, not in the timeline's commits: every commit discovers the same
    benchmarks, so no environment of the matrix needs building for it. The configuration's preset is
    discovered (the suite reads it from :data:`~mlxbench.harness.asv_suite.PRESET_ENV`).
    """
    from asv import environment
    from asv.benchmarks import Benchmarks
    from asv.repo import get_repo

    preset = getattr(conf, PRESET_KEY, None) or DEFAULT_PRESET
    envs = list(environment.get_environments(conf, [f"existing:{sys.executable}"]))
    with _environ({PRESET_ENV: preset}):
        Benchmarks.discover(conf, get_repo(conf), envs, []).save()


def registered() -> set[str]:
    """The machine names ``~/.asv-machine.json`` holds (none where it is missing or unreadable)."""
    try:
        doc = files.read_object(machines.registry_path())
    except (OSError, ValueError):
        return set()
    return {name for name, entry in doc.items() if isinstance(entry, dict)}


def register_machine(name: str | None) -> str | None:
    """This host's entry, written as ``mlxbench machine`` writes it, where ASV would find none for ``name``.

    ``name`` is ``--machine`` (None: ASV's default, which takes the only entry there is). Returns its name,
    or None where nothing was written: an entry was there, or ``name`` is another host's (ASV names it).
    """
    known = registered()
    if (name is None and known) or (name is not None and name in known):
        return None
    info = machine.describe()
    if name is not None and name != info["machine"]:
        return None
    machine.save(info)
    return info["machine"]


def publish_site(command: AsvCommand) -> int:
    """``asv publish`` of ``command``'s configuration, in its own process (the site ``asv preview`` serves)."""
    asv = str(Path(sys.executable).with_name("asv"))
    config = ["--config", str(command.config)] if command.config else []
    return subprocess.call([asv, "publish", *config], cwd=command.config_dir)


def prepare(command: AsvCommand) -> None:
    """Make what ``command`` needs and a fresh clone lacks, each said in one line (ASV's UserError on failure)."""
    from asv import util

    repo = command.path("repo")
    made = not repo.exists()
    try:
        tags = sync_timeline(repo)
    except (OSError, subprocess.CalledProcessError) as exc:
        if made:
            raise util.UserError(f"could not make the release timeline {repo}: {exc}") from None
        _say(f"could not update the release timeline {repo} ({exc}); ASV reads it as it is")
        tags = None
    if tags is not None and made:
        _say(f"made the release timeline {repo} ({len(tags)} releases, `mlxbench releases sync`)")
    benchmarks = command.path("results_dir") / "benchmarks.json"
    if command.name in READ_BENCHMARKS and not benchmarks.exists():
        _say(f"no {benchmarks} yet: discovering the suite in this interpreter (asv run --bench just-discover)")
        discover(command.conf)
    if command.name in LOAD_MACHINE and (name := register_machine(getattr(command.args, "machine", None))):
        _say(f"registered this machine as {name!r} in {machines.registry_path()} (as `mlxbench machine` does)")
    html = command.path("html_dir")
    if command.name == "preview" and not command.args.html_dir and not (html / "index.html").exists():
        _say(f"no site in {html} yet: publishing it first (asv publish)")
        if publish_site(command) != 0:
            raise util.UserError("asv publish failed: no site to preview")
