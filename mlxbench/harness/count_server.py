"""The counted benchmarks' server: asv_runner's forkserver protocol, each benchmark run in this process.

Started by :class:`mlxbench.history.asv_launch.CountingServer` as
``python count_server.py <benchmark_dir> <socket>`` once the counting workers
(:mod:`mlxbench.harness.count_worker`, under valgrind) have stored every
selected variant's counts. Each counted benchmark only reads them, so this
server runs asv_runner's ``_run`` in-process, one benchmark after another,
and answers as asv_runner's does. It leaves garbage to Python's own
collector: a full collection with torch and MLX imported takes 76 ms here,
and a commit reads about 500 counts.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

TIMED_OUT = -256
"""asv_runner's exit status for a benchmark past its timeout."""


class BenchmarkTimeout(Exception):
    """A benchmark ran past ASV's timeout (the server goes on with the next one)."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise BenchmarkTimeout("timed out")


def _answer(conn: socket.socket, payload: Any) -> None:
    data = json.dumps(payload).encode("utf-8")
    conn.sendall(struct.pack("<Q", len(data)))
    conn.sendall(data)


def run_one(command: dict[str, Any], benchmark_dir: str, out_file: str) -> int:
    """Run one benchmark as asv_runner's child would, its output in ``out_file``; its exit status."""
    from asv_runner._aux import posix_redirect_output
    from asv_runner.run import _run

    args = (benchmark_dir, command["benchmark_id"], command["params_str"], command["profile_path"])
    cwd = os.getcwd()
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(max(1, int(command["timeout"] or 0)) if command["timeout"] else 0)
    try:
        with posix_redirect_output(out_file, permanent=False):
            try:
                os.chdir(command["cwd"])
                _run((*args, command["result_file"]))
                return 0
            except BenchmarkTimeout:
                return TIMED_OUT
            except KeyboardInterrupt:
                raise
            except BaseException:  # as asv_runner's child: the traceback is the benchmark's output
                traceback.print_exc()
                return 1
    finally:
        signal.alarm(0)
        os.chdir(cwd)


def serve(benchmark_dir: str, socket_name: str) -> None:
    """Answer asv_runner's ``preimport``, ``run`` and ``quit`` commands on ``socket_name`` until told to quit."""
    from asv_runner._aux import posix_redirect_output, update_sys_path
    from asv_runner.discovery import disc_benchmarks
    from asv_runner.server import recvall

    update_sys_path(benchmark_dir)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(socket_name)
    server.listen(1)
    while True:
        try:
            conn, _ = server.accept()
        except KeyboardInterrupt:
            break
        fd, out_file = tempfile.mkstemp()
        os.close(fd)
        try:
            (size,) = struct.unpack("<Q", recvall(conn, 8))
            command = json.loads(recvall(conn, size).decode("utf-8"))
            action = command.pop("action")
            if action == "quit":
                break
            if action == "preimport":
                with posix_redirect_output(out_file, permanent=False):
                    for _ in disc_benchmarks(benchmark_dir, ignore_import_errors=True):
                        pass
                _answer(conn, Path(out_file).read_text(errors="replace"))
                continue
            code = run_one(command, benchmark_dir, out_file)
            _answer(conn, {"out": Path(out_file).read_text(errors="replace"), "errcode": code})
        except KeyboardInterrupt:
            break
        finally:
            conn.close()
            with contextlib.suppress(OSError):
                os.unlink(out_file)


if __name__ == "__main__":
    # run as a script from its own folder: that folder must not shadow modules of the same name
    sys.path[0] = str(Path(__file__).resolve().parents[2])
    serve(sys.argv[1], sys.argv[2])
