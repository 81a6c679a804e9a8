"""What a plain ``asv run`` of this repository's configurations does differently, as ASV's patches call it.

Forkserver where no launch method is chosen (Linux), n/a without a process for
a backend the environment lacks, refusals of another preset and of a one-sample
history, and in pinned mode the newest MLX release (``ALL``: every one) for a
bare run. The patches themselves are :mod:`mlxbench.history.asv_patches`'s; the
reasons are in docs/asv-integration.md.
"""

from __future__ import annotations

import ast
import concurrent.futures
import contextlib
import json
import math
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from asv import runner, util
from asv.console import log

from mlxbench.harness import benchmark_names, count_server, count_worker, counting
from mlxbench.harness.asv_suite import PRESET_ENV
from mlxbench.harness.backends import BACKENDS, FIXED_WARMUP_ENV
from mlxbench.history.asv_project import DEFAULT_PRESET, PRESET_KEY, pinned_torch, preset_mismatch
from mlxbench.stack import timeline
from mlxbench.stack.releases import TAG_PREFIX

_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
from mlxbench.harness import versions
from mlxbench.harness.backends import BACKENDS, FIXED_WARMUP_ENV
absent = {}
for name, backend in BACKENDS.items():
    try:
        # a release installed but failing to import is a failure its benchmarks report, not an absence
        reason = None if versions.broken_import(backend.framework) else backend.unavailable()
    except Exception:
        reason = None  # let the benchmark itself report it
    if reason:
        absent[name] = reason
print("MLXBENCH-ABSENT " + json.dumps(absent))
"""
CACHE = "_mlxbench_absent"
"""The spawner's attribute holding its environment's absent backends (asked once per spawner)."""


def default_launch_method(launch_method: str | None) -> str | None:
    """``forkserver`` on Linux where none was chosen (``None``/``auto``); otherwise what was chosen."""
    if launch_method in (None, "auto") and sys.platform == "linux":
        return "forkserver"
    return launch_method


_EXEC_UNDER_VALGRIND = f"""
import json, os, sys
command, (cpu, realtime) = json.loads(sys.argv[1]), json.loads(sys.argv[2])
os.sched_setaffinity(0, {{cpu}})
if realtime:
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param({counting.REALTIME_PRIORITY}))
else:
    os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
os.execvp(command[0], command + [sys.executable] + sys.argv[3:])
"""
"""Run by the environment's python: takes its CPU and scheduling (:func:`worker_schedules`), then becomes valgrind
running that same python on the rest of its arguments (valgrind and its threads inherit both)."""

CountItem = tuple[str, str, str]
"""A variant to count: (op, variant id, backend)."""


def count_items(benchmarks: Mapping[str, Any], selection: Mapping[str, Any]) -> list[CountItem]:
    """The variants ASV's ``benchmarks`` will count (each once, whichever kinds are selected), in ASV's order."""
    items: dict[CountItem, None] = {}
    for name in sorted(benchmarks):
        parsed = benchmark_names.parse(name)
        if parsed is None or not benchmark_names.is_counted(name):
            continue
        params = benchmarks[name]["params"]
        variants = [ast.literal_eval(v) for v in params[0]] if params else []
        chosen = selection.get(name)
        for idx in range(len(variants)) if chosen is None else chosen:
            items[(parsed.op, variants[idx], parsed.backend)] = None
    return list(items)


def _framework(item: CountItem) -> str:
    return BACKENDS[item[2]].framework


def worker_lists(items: Sequence[CountItem], cores: int) -> list[list[CountItem]]:
    """Each counting worker's list: torch's variants in a worker of their own, MLX's shared by up to ``cores``.

    MLX's workers take the same variants from alternate ends (claims keep
    any variant from being counted twice), so they meet wherever the costs split.
    torch's worker never imports MLX, so its counts do not depend on the MLX
    release installed beside it.
    """
    torch = [item for item in items if _framework(item) == "torch"]
    mlx = [item for item in items if _framework(item) != "torch"]
    lists = [torch] if torch else []
    if mlx:
        lists += [mlx if n % 2 == 0 else mlx[::-1] for n in range(min(MAX_MLX_WORKERS, max(1, cores), len(mlx)))]
    return lists


def worker_schedules(workers: int, cpus: Sequence[int], realtime: bool) -> list[tuple[int, bool]]:
    """Each counting worker's CPU and whether it runs at real-time priority (else SCHED_BATCH): one CPU each,
    in turn, so that no worker's threads are spread over CPUs (docs/method.md, "Counted instructions")."""
    ordered = sorted(cpus)
    return [(ordered[n % len(ordered)], realtime) for n in range(workers)]


PROGRESS_SECONDS = 60.0
"""How often the workers' wait says how far they are (a commit's count takes minutes)."""
MAX_MLX_WORKERS = 2
"""MLX workers per commit: two, from both ends of the list (more would only split the same two ends)."""


class CountingWorkers:
    """The valgrind processes that count one commit and environment's variants, started together, awaited together.

    valgrind's dumps and logs and the stored counts live in ``out_dir``.
    """

    def __init__(self, out_dir: Path, items: Sequence[CountItem], procs: Sequence[Any]) -> None:
        self.out_dir, self.items, self.procs = out_dir, list(items), list(procs)

    @classmethod
    def start(cls, env: Any, out_dir: Path, items: Sequence[CountItem]) -> CountingWorkers:
        """Start the workers of :func:`worker_lists` in ``env``, on this machine's cores."""
        env_vars = {
            **os.environ,
            **env.env_vars,
            **counting.worker_env(),
            counting.OUT_DIR_ENV: str(out_dir),
            FIXED_WARMUP_ENV: str(counting.WARMUP_CALLS),
        }
        command = json.dumps(counting.valgrind_command(out_dir))
        worker = str(Path(count_worker.__file__).resolve())
        cpus = os.sched_getaffinity(0)
        lists = worker_lists(items, len(cpus))
        if refused := counting.realtime_refused():
            log.warning(f"counting without real-time priority ({refused}): {counting.NOT_REALTIME}")
        procs = []
        for n, (work, schedule) in enumerate(zip(lists, worker_schedules(len(lists), cpus, refused is None))):
            items_file = out_dir / f"worker-{n}.json"
            items_file.write_text(json.dumps(work))
            procs.append(
                env.run(
                    ["-c", _EXEC_UNDER_VALGRIND, command, json.dumps(schedule), worker, str(items_file)],
                    return_popen=True,
                    redirect_stderr=True,
                    env=env_vars,
                )
            )
        return cls(out_dir, items, procs)

    def wait(self, say: Callable[[str], None] = log.info) -> None:
        """Wait for every worker; a variant none of them stored an outcome for is stored as failed, with why.

        Every :data:`PROGRESS_SECONDS` it says how many variants are done.
        Interrupted (Ctrl-C, ASV's timeout), it stops the workers before it raises.
        """
        with concurrent.futures.ThreadPoolExecutor(max(1, len(self.procs))) as pool:
            outputs = [pool.submit(proc.communicate) for proc in self.procs]  # drained: no worker blocks on a pipe
            try:
                while concurrent.futures.wait(outputs, timeout=PROGRESS_SECONDS).not_done:
                    say(f"counted {self.finished()} of {len(self.items)} variants")
                logs = [future.result()[0] for future in outputs]
            except BaseException:
                self.interrupt()
                raise
        for op, variant, backend in self.items:
            key = counting.key(op, variant, backend)
            try:
                if counting.outcome(key, self.out_dir) is not None:
                    continue
            except (NotImplementedError, counting.CountFailed):
                continue
            tail = "\n".join(
                f"worker {n} (exit {proc.returncode}): " + "\n".join(str(log or "").splitlines()[-5:])
                for n, (proc, log) in enumerate(zip(self.procs, logs))
            )
            counting.record_failure(key, f"no counting worker stored {key}:\n{tail}", False, self.out_dir)

    def finished(self) -> int:
        """How many variants have an outcome stored (counts, n/a or a failure)."""
        return sum(1 for path in self.out_dir.iterdir() if path.suffix in (".counts", ".na", ".error"))

    def interrupt(self) -> None:
        """Stop every worker now (what they counted is not kept: the run is being abandoned)."""
        for proc in self.procs:
            with contextlib.suppress(OSError):
                proc.kill()
        for proc in self.procs:
            proc.wait()


class CountingServer(runner.ForkServer):
    """ASV's forkserver for counted benchmarks, its server :mod:`mlxbench.harness.count_server`: one per commit and
    environment.

    Started once the :class:`CountingWorkers` have counted every selected
    variant; it answers ASV's requests with their stored counts, so it runs
    without valgrind. The counts' directory is its :class:`Dispatching`'s.
    """

    def __init__(self, env: Any, benchmark_dir: str, out_dir: Path) -> None:
        runner.Spawner.__init__(self, env, benchmark_dir)
        self.out_dir = out_dir
        self.tmp_dir = tempfile.mkdtemp(prefix="mlxbench-count-server-")
        self.socket_name = os.path.join(self.tmp_dir, "socket")
        env_vars = {**os.environ, **env.env_vars, counting.OUT_DIR_ENV: str(out_dir)}
        server = str(Path(count_server.__file__).resolve())
        self.server_proc = env.run(
            [server, self.benchmark_dir, self.socket_name], return_popen=True, redirect_stderr=True, env=env_vars
        )
        self._server_output = None
        self.stdout_reader_thread = threading.Thread(target=self._stdout_reader)
        self.stdout_reader_thread.start()
        while self.stdout_reader_thread.is_alive() and not os.path.exists(self.socket_name):
            time.sleep(0.05)
        if not os.path.exists(self.socket_name):
            self.close()
            raise RuntimeError(f"the counted benchmarks' server did not start: {self._server_output}")


class Dispatching:
    """ASV's spawner for one commit and environment, counted benchmarks sent to a :class:`CountingServer`.

    At the first counted benchmark the :class:`CountingWorkers` count every
    variant ``items`` names (the run's selection), then the server answers
    from their counts. A run of time benchmarks only never starts valgrind,
    and no time benchmark ever runs under it.
    """

    def __init__(self, plain: Any, items: Sequence[CountItem] = ()) -> None:
        self.plain, self.items = plain, list(items)
        self._counting: CountingServer | None = None
        self._counting_failed: str | None = None
        self._workers: CountingWorkers | None = None
        self._out_dir: Path | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.plain, name)

    def counting(self) -> CountingServer | str:
        """The counting server, started on first use once the workers are done; or why it could not start."""
        if self._counting is None and self._counting_failed is None:
            self._out_dir = Path(tempfile.mkdtemp(prefix="mlxbench-callgrind-"))
            started = time.monotonic()
            log.info(f"counting {len(self.items)} variants under valgrind")
            try:
                self._workers = CountingWorkers.start(self.plain.env, self._out_dir, self.items)
                self._workers.wait()
            except BaseException:
                self._remove_counts()
                raise
            finally:
                self._workers = None
            log.info(f"counted in {time.monotonic() - started:.0f} s")
            try:
                server = CountingServer(self.plain.env, self.plain.benchmark_dir, self._out_dir)
            except RuntimeError as exc:
                self._counting_failed = str(exc)
            else:
                ok, out = server.preimport()
                if ok:
                    self._counting = server
                else:
                    server.close()
                    self._counting_failed = f"importing the suite for the counted benchmarks failed:\n{out}"
        return self._counting if self._counting is not None else str(self._counting_failed)

    def _remove_counts(self) -> None:
        """Remove the workers' directory (counts, valgrind's dumps and logs), if there is one."""
        if self._out_dir is not None:
            shutil.rmtree(self._out_dir, ignore_errors=True)
            self._out_dir = None

    def run(self, name: str, *args: Any, **kwargs: Any) -> tuple[str, int]:
        if not benchmark_names.is_counted(name):
            return self.plain.run(name, *args, **kwargs)
        server = self.counting()
        if isinstance(server, str):
            return server, 1
        try:
            return server.run(name, *args, **kwargs)
        except Exception as exc:  # the server died: the next counted benchmark fails with this too
            self._counting, self._counting_failed = None, f"the counted benchmarks' server ended: {exc}"
            with contextlib.suppress(Exception):
                server.close()
            return str(self._counting_failed), 1

    def interrupt(self) -> None:
        self.plain.interrupt()
        if self._workers is not None:
            self._workers.interrupt()
        if self._counting is not None:
            self._counting.interrupt()

    def close(self) -> None:
        try:
            self.plain.close()
        finally:
            try:
                if self._counting is not None:
                    self._counting.close()
            finally:
                self._remove_counts()


def default_selection(bench: Sequence[str] | None) -> Sequence[str] | None:
    """``asv run``'s ``-b``: a run that selects nothing leaves the counted benchmarks out (they need ``-b``).

    Counting runs every commit under valgrind (minutes); a plain ``asv run``
    stays the main job's measurement. ``-b track_instructions`` counts.
    """
    if bench:
        return bench
    counted = "|".join(benchmark_names.COUNTED)
    return [rf"^(?!{re.escape(benchmark_names.SUITE_MODULE)}\.\w+\.({counted})_)"]


def counting_unavailable(benchmark: str) -> str | None:
    """Why the counted benchmark ``benchmark`` cannot run on this machine (no valgrind or mimalloc: how to install)."""
    return counting.tools_missing() if benchmark_names.is_counted(benchmark) else None


def absent_backends(spawner: Any) -> dict[str, str]:
    """Backend -> why this spawner's environment lacks it; asked once, in one process of that environment."""
    if not hasattr(spawner, CACHE):
        env_vars = {**os.environ, **getattr(spawner.env, "env_vars", {})}
        root = str(Path(spawner.benchmark_dir).parent)
        with tempfile.TemporaryDirectory() as cwd:
            out = spawner.env.run(
                ["-c", _PROBE, root], dots=False, display_error=False, valid_return_codes=None, cwd=cwd, env=env_vars
            )
        line = next((x for x in str(out).splitlines() if x.startswith("MLXBENCH-ABSENT ")), None)
        try:
            absent = dict(json.loads(line.split(" ", 1)[1])) if line else {}
        except ValueError:
            absent = {}
        setattr(spawner, CACHE, absent)
    return getattr(spawner, CACHE)


def not_available(benchmark: dict[str, Any], reason: str) -> runner.BenchmarkResult:
    """ASV's n/a for every parameter combination of ``benchmark`` (NaN, as setup raising NotImplementedError)."""
    count = math.prod(len(p) for p in benchmark["params"]) if benchmark["params"] else 1
    return runner.BenchmarkResult(
        result=[math.nan] * count,
        samples=[None] * count,
        number=[None] * count,
        errcode=0,
        stderr=f"n/a: {reason}",
        profile=None,
    )


def absent_reason(benchmark: str, spawner: Any) -> str | None:
    """Why the backend of ``benchmark`` (an ASV name) is absent from ``spawner``'s environment; None if present."""
    name = benchmark_names.parse(benchmark)
    return absent_backends(spawner).get(name.backend) if name else None


def mode_commits(conf: Any, range_spec: Any) -> Any:
    """The range ``asv run`` measures: in pinned mode a bare run is the newest MLX release, ``ALL`` every one."""
    if range_spec not in (None, "ALL") or not pinned_torch(getattr(conf, "matrix", {})):
        return range_spec
    mlx = list(_mlx_tags(Path(conf.repo)).values())
    if not mlx:
        return range_spec
    return [mlx[-1]] if range_spec is None else mlx


def _mlx_tags(repo: Path) -> dict[str, str]:
    """The timeline's MLX release tags -> commit hashes, oldest first."""
    return {tag: h for tag, h in timeline.tags(repo).items() if tag.startswith(TAG_PREFIX["mlx"])}


ASV_RANGE_WORDS = frozenset({"EXISTING", "NEW", "TAGS", "ALL", "HEAD"})
"""``asv run``'s own names for a set of commits: ASV resolves them, not git."""


def refuse_an_unknown_range(conf: Any, range_spec: Any) -> None:
    """``asv run v9.9.9``: a range git cannot read in the timeline is ASV's UserError (one line), not a traceback.

    What git can read (a tag, ``a..b``, ``v0.31.1^!``) goes to ASV unchanged, as do
    ASV's own words, ``HASHFILE:`` and a list of hashes.
    """
    if not isinstance(range_spec, str) or range_spec in ASV_RANGE_WORDS or range_spec.startswith("HASHFILE:"):
        return
    repo = getattr(conf, "repo", None)
    if not repo or not Path(repo).exists():
        return  # no timeline to read: ASV says so itself
    try:
        timeline.revisions(Path(repo), range_spec)
    except timeline.UnknownRevision as exc:
        mlx = list(_mlx_tags(Path(repo)))
        known = f"; MLX's tags run from {mlx[0]} to {mlx[-1]} (`mlxbench releases` lists every tag)" if mlx else ""
        raise util.UserError(
            f"asv run: git finds no commits for {range_spec!r} in the timeline ({exc}){known}, "
            "e.g. `asv run v0.31.1^!` or `asv run v0.30.0..v0.31.1`"
        ) from None


def existing_only(env_spec: Sequence[str] | None) -> bool:
    """A run in existing environments only (``-E existing[:...]``, ``--python=same``): ASV takes no range there."""

    def existing(spec: str) -> bool:
        tool, _, python = str(spec).partition(":")
        return tool == "existing" or (not tool and python == "same")  # --python=same is ASV's ":same"

    return bool(env_spec) and all(existing(spec) for spec in env_spec)


def saves_nothing(env_spec: Sequence[str] | None, set_commit_hash: str | None) -> bool:
    """Whether ``asv run`` stores no result: existing environments only and no ``--set-commit-hash`` (ASV's rule)."""
    return existing_only(env_spec) and set_commit_hash is None


TRIAL_DIRS = (".asv/trial/", ".asv/compare/")
"""Where one-sample results may go: a trial's and a comparison's folders, never a history's."""


def refuse_a_quick_history(conf: Any, quick: bool, dry_run: bool) -> None:
    """``asv run --quick`` under one of this repository's configurations would store one-sample numbers as history.

    Raises ASV's UserError (ASV prints it and exits 1) unless the run saves
    nothing (``--dry-run``) or the configuration's results are a trial's.
    """
    if not quick or dry_run or not getattr(conf, PRESET_KEY, None):
        return
    results = Path(str(getattr(conf, "results_dir", "results"))).resolve().as_posix() + "/"
    if any(f"/{d}" in results for d in TRIAL_DIRS):
        return
    raise util.UserError(
        f"asv run --quick would store one sample per benchmark in {results} as this machine's history. "
        "Check the set-up with `mlxbench bench --quick` (a trial under .asv/trial/) or add --dry-run."
    )


def refuse_another_preset(conf: Any, environ: Mapping[str, str] = os.environ) -> None:
    """``asv run`` of another preset (``MLXBENCH_PRESET``) under a configuration that keeps one preset's results.

    Raises ASV's UserError before anything runs, in every environment type
    (``-E existing`` passes the suite no configuration directory to check).
    """
    preset = environ.get(PRESET_ENV, DEFAULT_PRESET).strip() or DEFAULT_PRESET
    if (problem := preset_mismatch(preset, getattr(conf, PRESET_KEY, None), "this configuration")) is not None:
        raise util.UserError(problem)
