"""One measurement at a time per machine: a second run waits (or refuses), and a killed run's lock is taken over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlxbench.cli import main
from mlxbench.errors import UsageError
from mlxbench.history import lock

HOLD = """
import sys, time
from mlxbench.history import lock
with lock.measuring(["holder", "--for-the-test"]):
    print("held", flush=True)
    time.sleep(float(sys.argv[1]))
"""


@pytest.fixture
def lock_file(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "measure.lock"
    monkeypatch.setenv(lock.PATH_ENV, str(path))
    monkeypatch.delenv(lock.HELD_ENV, raising=False)
    return path


def hold(seconds: float) -> subprocess.Popen:
    """Another process holding the lock (for ``seconds``), once it says so."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    return proc


def test_a_second_run_waits_for_the_first_and_names_it(lock_file):
    holder = hold(1.5)
    said: list[str] = []
    started = time.monotonic()
    with lock.measuring(["second"], log=said.append):
        waited = time.monotonic() - started
        assert json.loads(lock_file.read_text())["command"] == "second"
    assert holder.wait(timeout=30) == 0  # it ran its whole block first
    assert waited >= 1.0
    assert said[0].startswith(f"waiting for the measurement running on this machine to finish: pid {holder.pid} ")
    assert "(holder --for-the-test)" in said[0]
    assert lock_file.read_text() == ""  # released cleanly: nothing stale for the next run


def test_no_wait_refuses_at_once_naming_the_holder(lock_file):
    holder = hold(30)
    try:
        with (
            pytest.raises(UsageError, match=rf"pid {holder.pid} \(holder --for-the-test\) since "),
            lock.measuring(["second"], wait=False),
        ):
            pytest.fail("ran beside the holder")
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_left_by_a_killed_run_is_taken_over(lock_file):
    holder = hold(30)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert json.loads(lock_file.read_text())["pid"] == holder.pid  # its line is still there
    said: list[str] = []
    with lock.measuring(["next"], wait=False, log=said.append):
        pass
    assert len(said) == 1 and said[0].startswith(
        f"took over the lock left by pid {holder.pid} (holder --for-the-test) "
    )
    assert said[0].endswith("which is no longer running")


def test_processes_the_holder_starts_measure_under_its_lock(lock_file):
    with lock.measuring(["parent"]):
        assert os.environ[lock.HELD_ENV] == str(os.getpid())
        child = subprocess.run(
            [
                sys.executable,
                "-c",
                "from mlxbench.history import lock\nwith lock.measuring(['child'], wait=False): print('ran')",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert child.stdout == "ran\n", child.stderr
    assert lock.HELD_ENV not in os.environ


@pytest.mark.parametrize("command", [["bench"], ["history"], ["compare", "v0.32.3", "v0.32.4"], ["calibrate"]])
def test_every_measuring_command_refuses_with_no_wait_while_another_runs(lock_file, capsys, command):
    holder = hold(30)
    try:
        assert main([*command, "--no-wait"]) == 2
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err
    assert f"another measurement is running on this machine: pid {holder.pid} (holder --for-the-test)" in err


def test_a_plain_asv_run_through_the_configuration_takes_the_lock(lock_file, monkeypatch):
    from mlxbench.history import asv_environment

    taken: list[list[str]] = []
    monkeypatch.setattr(lock, "hold_for_process", taken.append)
    assert asv_environment.lock_a_plain_asv_run(["/x/.venv/bin/asv", "run", "v0.32.4^!", "--quick"])
    assert asv_environment.lock_a_plain_asv_run(["/x/asv/__main__.py", "--verbose", "continuous", "a", "b"])
    assert not asv_environment.lock_a_plain_asv_run(["/x/.venv/bin/asv", "publish"])
    assert not asv_environment.lock_a_plain_asv_run(["/x/.venv/bin/pytest", "run"])
    assert taken == [["asv", "run", "v0.32.4^!", "--quick"], ["asv", "--verbose", "continuous", "a", "b"]]


HOLD_WITH_CHILD = """
import sys
from mlxbench.history import lock
with lock.measuring(["holder", "--with-child"]):
    print("held", flush=True)
    lock.call([sys.executable, "-c", "import os, time; print(os.getpid(), flush=True); time.sleep(30)"])
"""


def test_a_run_started_ignoring_sigint_still_lets_its_asv_child_take_it(lock_file):
    """nohup ... & starts mlxbench with SIGINT ignored: its asv child must not inherit that, or the SIGINT that
    ends it on Ctrl-C or SIGTERM does nothing, and the child is killed after the grace without cleaning up."""
    script = (
        "import sys; from mlxbench.history import lock\n"
        "with lock.measuring(['holder', '--ignoring-sigint']):\n"
        "    lock.call([sys.executable, '-c', 'import signal; print(signal.getsignal(signal.SIGINT))'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "default_int_handler" in done.stdout, done.stdout


def test_a_child_that_sigint_ended_interrupts_the_run_that_missed_it(lock_file):
    """SIGINT to the process group of a run started ignoring it: ASV dies of it; the run must stop, not store."""
    with pytest.raises(KeyboardInterrupt):
        lock.call(["sh", "-c", "kill -INT $$; sleep 5"])
    assert lock.call(["sh", "-c", "exit 3"]) == 3, "any other ending is the child's exit status"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ", 1)[1].startswith("Z"))  # a zombie has ended


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's")
def test_a_killed_holders_asv_run_ends_with_it_and_frees_the_lock(lock_file):
    """kill -9 of mlxbench: its asv run gets SIGTERM from the kernel and ends, so no measurement runs on unowned."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD_WITH_CHILD], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    child = int(holder.stdout.readline())
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the asv child outlived its killed holder"
    said: list[str] = []
    with lock.measuring(["next"], wait=False, log=said.append):
        pass  # free at once: nothing of the killed run still measures
    assert said and said[-1].startswith(f"took over the lock left by pid {holder.pid}")
