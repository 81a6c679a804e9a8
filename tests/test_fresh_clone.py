"""A new user: ASV's commands on a fresh clone, with an empty HOME and no step before, on the committed results.

A git clone of this working tree (its uncommitted changes copied over). Each command's output is checked:
rows for ``asv compare``, the machine for ``asv show``, a site for ``asv publish``, a page served by
``asv preview``; the timeline, ``benchmarks.json`` and the machine's registration appear on their own, and the
clone's ``git status`` is what it was. Nothing is installed and nothing downloaded: where ASV would build a
virtualenv, the command runs in this interpreter as ASV documents it (``--python=same``), or in mlxbench's
``installed`` environment. Run with ``-s`` to see each command's wall time.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from asv_project import ASV

from mlxbench.harness import versions
from mlxbench.history import machine

ROOT = Path(__file__).resolve().parent.parent
RELU = r"^ops\.ReLU\.time_mlx_cpu\("
"""One benchmark's variants (ASV matches a parameterized benchmark as ``name(params)``)."""
NUMBER = re.compile(r"\d+(?:\.\d+)?(?:±[\d.]+)?[μm]?s\b")


def git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def clone_working_tree(target: Path) -> None:
    """``git clone`` of this repository, then its uncommitted changes (modified, new, deleted files) on top."""
    git("clone", "--quiet", str(ROOT), str(target))
    for name in git("ls-files", "-z", "--modified", "--others", "--exclude-standard").split("\0"):
        if not name:
            continue
        source, copy = ROOT / name, target / name
        if source.is_file():
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(source.read_bytes())
        else:
            copy.unlink(missing_ok=True)


@dataclass
class Fresh:
    """The clone, the environment its commands run in (HOME empty) and each command's wall time."""

    clone: Path
    env: dict[str, str]
    status: str
    """``git status --porcelain`` of the clone before any command."""
    times: dict[str, float] = field(default_factory=dict)

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
        """``asv *args`` in the clone; checked to exit 0 (or not, ``ok=False``) without a traceback."""
        started = time.monotonic()
        proc = subprocess.run([ASV, *args], cwd=self.clone, env=self.env, capture_output=True, text=True, timeout=900)
        self.times[" ".join(["asv", *args])] = time.monotonic() - started
        out = proc.stdout + proc.stderr
        assert (proc.returncode == 0) == ok, out[-4000:]
        assert "Traceback" not in out, out[-4000:]
        return proc


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Iterator[Fresh]:
    work = tmp_path_factory.mktemp("fresh")
    clone_working_tree(work / "clone")
    (work / "home").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLXBENCH_") or k.endswith(("LOCK_FILE", "WAIT"))}
    env.update(HOME=str(work / "home"), PYTHONUNBUFFERED="1")
    yield Fresh(work / "clone", env, git("status", "--porcelain", cwd=work / "clone"))


def committed_machines(clone: Path) -> list[str]:
    return sorted({Path(p).parts[1] for p in git("ls-files", "results", cwd=clone).splitlines()})


def test_asv_compare_is_the_first_command_and_lists_both_releases(fresh):
    clone, run = fresh.clone, fresh.run
    out = run("compare", "v0.31.1", "v0.32.4").stdout
    rows = [line for line in out.splitlines() if line.startswith("|") and "ops." in line]
    assert sum(len(NUMBER.findall(row)) >= 2 for row in rows) > 100, out[-3000:]  # a number for each release
    assert (clone / ".asv" / "timeline.git" / "HEAD").exists() and (clone / "results" / "benchmarks.json").exists()


def test_asv_show_names_every_committed_machine(fresh):
    clone, run = fresh.clone, fresh.run
    out = run("show").stdout
    assert committed_machines(clone) and all(f"Machine    : {m}" in out for m in committed_machines(clone)), out


def test_asv_check_and_discovery_in_this_interpreter(fresh):
    run = fresh.run
    assert "No problems found" in run("check", "--python=same").stdout
    run("run", "--bench", "just-discover", "--python=same")


def test_asv_run_in_this_interpreter_measures_and_stores_nothing(fresh):
    clone, run = fresh.clone, fresh.run
    before = sorted((clone / "results").rglob("*-*.json"))
    for extra in (["--quick", "--dry-run"], ["--quick"], []):
        out = run("run", "--python=same", *extra, "-b", RELU, "--show-stderr").stdout
        assert "ops.ReLU.time_mlx_cpu" in out and len(NUMBER.findall(out)) >= 2, out[-3000:]
    assert sorted((clone / "results").rglob("*-*.json")) == before
    registered = (clone.parent / "home" / ".asv-machine.json").read_text()
    assert machine.describe()["machine"] in registered  # registered as `mlxbench machine` does


def test_asv_continuous_in_this_interpreter_is_asvs_own_one_line_refusal(fresh):
    run = fresh.run
    out = run("continuous", "--python=same", "v0.31.1", "v0.32.4", "-b", RELU, ok=False)
    assert "No range spec may be specified if benchmarking in an existing environment" in out.stdout + out.stderr


def test_asv_find_bisects_the_commits_of_the_installed_release(fresh):
    clone, run = fresh.clone, fresh.run
    timeline = clone / ".asv" / "timeline.git"
    mine = [
        line.split()[0]
        for line in git("log", "--reverse", "--format=%H %s", "main", cwd=timeline).splitlines()
        if re.search(rf"\bmlx {re.escape(versions.mlx_version())}\b", line)
    ]
    assert len(mine) >= 2, mine  # the release and a torch release after it, both pinning it
    out = run(
        "find", "-E", f"installed:{sys.executable}", "--skip-save", f"{mine[0]}^..{mine[-1]}", "ops.ReLU.time_mlx_cpu"
    )
    assert "Greatest regression found" in out.stdout, out.stdout[-3000:]


def test_asv_publish_then_preview_serves_the_site(fresh):
    clone, run = fresh.clone, fresh.run
    run("publish")
    html = clone / "html"
    assert (html / "index.html").exists() and (html / "chips" / "index.html").exists()
    assert all(m in (html / "chips" / "index.html").read_text() for m in committed_machines(clone))
    started = time.monotonic()
    preview = subprocess.Popen(
        [ASV, "preview"], cwd=clone, env=fresh.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        url = None
        assert preview.stdout is not None
        for line in preview.stdout:
            if found := re.search(r"Serving at (http://\S+)", line):
                url = found.group(1)
                break
        assert url, "asv preview did not start serving"
        with urllib.request.urlopen(url + "index.html", timeout=30) as page:
            assert page.status == 200 and b"airspeed velocity" in page.read().lower()
        fresh.times["asv preview (until it serves)"] = time.monotonic() - started
    finally:
        preview.send_signal(signal.SIGINT)
        try:
            preview.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a loaded machine: the server is stopped either way
            preview.kill()
            preview.wait()


def test_nothing_the_commands_made_shows_in_git_status(fresh):
    assert git("status", "--porcelain", cwd=fresh.clone) == fresh.status
    for command, seconds in fresh.times.items():
        print(f"fresh clone: {seconds:6.1f} s  {command}")
