"""Benchmarks the harness itself: what the timed body adds, does ASV measure what a tight loop measures,
what does a sweep cost and how well do two sweeps agree?

    .venv/bin/python tools/harness_bench.py body        # the timed body against a bare call of the same function
    .venv/bin/python tools/harness_bench.py agreement   # ASV's median vs a perf_counter loop, interleaved
    .venv/bin/python tools/harness_bench.py sweep       # two full default-preset asv runs: wall, samples, agreement
    .venv/bin/python tools/harness_bench.py sweep --sampling fixed   # the same with the former 1 s per variant
    .venv/bin/python tools/harness_bench.py sweep --neighbour        # the same beside a process spinning on one core
    .venv/bin/python tools/harness_bench.py switch      # seconds to install one more release (warm pip cache)
    .venv/bin/python tools/harness_bench.py inputs      # torch_cpu on numpy's buffer against torch's copy
    .venv/bin/python tools/harness_bench.py all

Figures go to stdout as markdown, ready for the README's methodology section.
Speeds are compared as ratios measured in the same run, never across runs:
this machine's medians drift up to 2x within an hour.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlxbench.catalog import CATALOG  # noqa: E402
from mlxbench.harness import benchmark_names, versions  # noqa: E402
from mlxbench.harness.asv_suite import PRESET_ENV, ROUNDS_ENV  # noqa: E402
from mlxbench.harness.backends import BACKENDS, Prepared  # noqa: E402
from mlxbench.history import asv_project, lock, main_job  # noqa: E402
from mlxbench.stack import releases, timeline  # noqa: E402

AGREEMENT_CASES = [
    ("Softmax", "mlx_cpu"),
    ("Softmax", "torch_cpu"),
    ("MatMul", "mlx_cpu"),
    ("MatMul", "torch_cpu"),
    ("ReLU", "mlx_cpu_compile"),
    ("Sum", "mlx_cpu"),
    ("Gather", "torch_cpu"),
    ("LayerNorm", "mlx_cpu"),
]
ROUNDS = 3


@functools.cache
def _discovered() -> dict:
    from asv_runner.discovery import disc_benchmarks

    return {b.name: b for b in disc_benchmarks(str(ROOT / "benchmarks"))}


def _asv_benchmark(op: str, backend: str):
    """The discovered ASV benchmark object: the very code `asv run` executes in its subprocess."""
    return _discovered()[benchmark_names.build(op, benchmark_names.TIME, backend)]


def _asv_median(benchmark, param_index: int) -> float:
    benchmark.set_param_idx(param_index)
    params = benchmark._current_params  # noqa: SLF001 - what asv_runner's run_benchmark passes
    benchmark.do_setup()
    try:
        return statistics.median(benchmark.run(*params)["samples"])
    finally:
        benchmark.do_teardown()


def _loop_median(op: str, backend: str, variant_index: int, calls: int = 50) -> float:
    """The independent measurement: warm-up, then ``calls`` synchronized calls timed one by one."""
    from mlxbench.harness.asv_suite import prepare

    variant = CATALOG[op].variants("default")[variant_index]
    prepared = prepare(CATALOG[op], variant.id, backend, "default")
    for _ in range(3):
        prepared.run()
    times = []
    deadline = time.perf_counter() + 2.0
    for _ in range(calls):
        start = time.perf_counter()
        prepared.run()
        times.append(time.perf_counter() - start)
        if time.perf_counter() > deadline:
            break
    return statistics.median(times)


def agreement() -> list[str]:
    os.environ[PRESET_ENV] = "default"
    lines = ["| benchmark | variant | ASV median (ms) | perf_counter loop (ms) | ASV / loop |", "|---|---|---|---|---|"]
    worst = 0.0
    for op, backend in AGREEMENT_CASES:
        if BACKENDS[backend].unavailable() or BACKENDS[backend].unsupported(CATALOG[op]):
            continue
        benchmark = _asv_benchmark(op, backend)
        index = len(CATALOG[op].variants("default")) // 2
        ratios, asv_ms, loop_ms = [], [], []
        for _ in range(ROUNDS):  # interleaved: drift hits both sides alike
            a = _asv_median(benchmark, index)
            b = _loop_median(op, backend, index)
            ratios.append(a / b)
            asv_ms.append(a * 1e3)
            loop_ms.append(b * 1e3)
        ratio = statistics.median(ratios)
        worst = max(worst, abs(ratio - 1))
        method = benchmark_names.method(benchmark_names.TIME, backend)
        lines.append(
            f"| {op}.{method} | {CATALOG[op].variants('default')[index].id} | "
            f"{statistics.median(asv_ms):.4g} | {statistics.median(loop_ms):.4g} | {ratio:.3f} |"
        )
    lines.append(f"\nLargest disagreement: {worst * 100:.1f}% (target: within 10%).")
    return lines


BODY_CASES = [("ReLU", "torch_cpu", ("torch", "relu")), ("ReLU", "mlx_cpu", ("mlx.nn", "relu"))]
BODY_CALLS = 20_000
BODY_ROUNDS = 15


def _fastest(fn, calls: int) -> float:
    """Seconds per call of ``fn``, from a timeit loop of ``calls`` calls (no per-call clock reads)."""
    return timeit.timeit(fn, number=calls) / calls


def _body_row(label: str, prepared, framework_fn=None) -> tuple[str, float]:
    """Interleaved rounds of the timed body (``Prepared.timed``), the bare call and (where given) the framework's.

    The bare call is what a user writes: ``lambda: fn(*args)`` where the synchronization does nothing (torch on
    the CPU), ``lambda: sync(fn(*args))`` elsewhere.
    """
    fn, args, sync = prepared.fn, prepared.args, prepared.sync
    if getattr(sync, "does_nothing", False):
        sides = {"run": prepared.timed, "bare": lambda: fn(*args)}
        if framework_fn is not None:
            sides["framework"] = lambda: framework_fn(*args)
    else:
        sides = {"run": prepared.timed, "bare": lambda: sync(fn(*args))}
        if framework_fn is not None:
            sides["framework"] = lambda: sync(framework_fn(*args))
    best = dict.fromkeys(sides, math.inf)
    for _ in range(BODY_ROUNDS):
        for name, side in sides.items():
            best[name] = min(best[name], _fastest(side, BODY_CALLS))
    us = {name: t * 1e6 for name, t in best.items()}
    framework = f"{us['framework']:.3f} | {us['run'] - us['framework']:+.3f}" if framework_fn is not None else "- | -"
    row = f"| {label} | {us['run']:.3f} | {us['bare']:.3f} | {us['run'] - us['bare']:+.3f} | {framework} |"
    return row, us["run"] - us["bare"]


def body() -> list[str]:
    """What the timed body adds to one call of the op: against the same function called bare, and the framework's.

    A trivial op (``abs`` of an int, torch_cpu's no-op synchronizer) isolates the
    body's own cost; ReLU on the tiny preset (a few elements) is the cheapest real
    call. Interleaved rounds of BODY_CALLS calls each; the fastest round of each
    side is its cost (slower rounds are the machine's noise, not the code's).
    """
    import importlib

    lines = [
        "| op, backend | timed body (us) | bare `fn(*args)`, synced where needed (us) | body overhead (us) | "
        "framework call (us) | catalog function + body (us) |",
        "|---|---|---|---|---|---|",
    ]
    trivial = Prepared(fn=abs, args=(-1,), sync=BACKENDS["torch_cpu"].synchronizer(), to_numpy=lambda out: out)
    row, overhead = _body_row("trivial (`abs`), torch_cpu's sync", trivial)
    lines.append(row)
    for op, backend, (module, attr) in BODY_CASES:
        if BACKENDS[backend].unavailable():
            continue
        variant = CATALOG[op].variants("tiny")[0]
        prepared = BACKENDS[backend].prepare(CATALOG[op], variant, CATALOG[op].make_inputs(variant))
        lines.append(_body_row(f"{op}, {backend}", prepared, getattr(importlib.import_module(module), attr))[0])
    lines.append(
        f"\nThe timed body adds {overhead:.3f} us to a bare call of the same trivial function (target: 0.1 us). "
        "The last column adds the catalog's own function (one Python frame around the framework call, "
        "the same on both sides of every comparison). MLX's tiny calls can vary by microseconds between "
        "rounds (its CPU stream hands each eval to a worker thread), so its row resolves less."
    )
    return lines


INPUT_CASES = [
    ("Sum", "default", "16x64x64x64-axis0"),
    ("Sum", "default", "16x64x64x64-axis1"),
    ("Sum", "default", "16x64x64x64-axis2"),
    ("Sum", "default", "16x64x64x64-axis3"),
    ("SumAll", "default", "16x64x64x64"),
    ("Argmax", "default", "32x256x128-axis1"),
    ("ReLU", "default", "16x128x1024"),
    ("Sigmoid", "default", "16x128x1024"),
    ("Softmax", "default", "64x16384-axis-1"),
    ("LayerNorm", "default", "16x128x1024"),
    ("Sum", "seed", "64x128x128x128-axis1"),
]
INPUT_BLOCKS = 10
INPUT_BLOCK_SECONDS = 0.3


def _block(fn, seconds: float) -> list[float]:
    """Per-call seconds of ``fn`` for about ``seconds`` (at least 3 calls)."""
    times: list[float] = []
    while len(times) < 3 or sum(times) < seconds:
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def input_case(name: str, preset: str, variant_id: str) -> str:
    """One row of :func:`inputs`, measured in this process."""
    import torch

    op = CATALOG[name]
    variant = next(v for v in op.variants(preset) if v.id == variant_id)
    arrays = op.make_inputs(variant)
    owned = BACKENDS["torch_cpu"].prepare(op, variant, arrays)
    laid_out = op.torch_layout(arrays) if op.torch_layout is not None else arrays
    views = tuple(torch.from_numpy(a) for a in laid_out.values())
    borrowed = Prepared(owned.fn, views, owned.sync, owned.to_numpy)
    borrowed.warm_up()
    times: dict[str, list[float]] = {"numpy": [], "torch": []}
    for _ in range(INPUT_BLOCKS):
        times["numpy"] += _block(borrowed.timed, INPUT_BLOCK_SECONDS)
        times["torch"] += _block(owned.timed, INPUT_BLOCK_SECONDS)
    ms = {side: statistics.median(t) * 1e3 for side, t in times.items()}
    return (
        f"| {name} {variant_id} ({preset}) | {views[0].data_ptr() % 64} | {ms['numpy']:.3f} "
        f"| {owned.args[0].data_ptr() % 64} | {ms['torch']:.3f} | {ms['numpy'] / ms['torch']:.2f} |"
    )


def inputs() -> list[str]:
    """torch_cpu on numpy's buffer (the suite before issue 27) against torch's own copy, interleaved.

    Each variant runs in a fresh process, as a benchmark does (where numpy puts
    a fresh array depends on what the process freed before). Both sides are
    the harness's prepared call; the "numpy" side swaps its inputs for
    ``torch.from_numpy`` views of the very arrays the copy was made from (laid
    out as torch receives them). Blocks of calls alternate between the two
    sides (INPUT_BLOCKS each, about INPUT_BLOCK_SECONDS a block); each side's
    figure is the median of all its calls.
    """
    lines = [
        "| torch_cpu variant | numpy's buffer: address mod 64 | median (ms) | torch's copy: address mod 64 "
        "| median (ms) | numpy / torch |",
        "|---|---|---|---|---|---|",
    ]
    for case in INPUT_CASES:
        proc = subprocess.run(
            [sys.executable, __file__, "input-case", ":".join(case)], capture_output=True, text=True, check=True
        )
        lines.append(proc.stdout.strip())
    lines.append(
        f"\ntorch {versions.torch_version()}, {versions.torch_threads()} thread(s); a process per variant; "
        f"{INPUT_BLOCKS} blocks of about {INPUT_BLOCK_SECONDS} s per side, alternating; medians of every call."
    )
    return lines


def _sweep_once(launch: str, attributes: list[str], commit: str, runnable: list, rounds: int = 1) -> tuple[float, dict]:
    """One full default-preset `asv run` at the installed release, every sample recorded: (wall s, results doc)."""
    project = asv_project.repository()
    with tempfile.TemporaryDirectory() as tmp:
        conf = asv_project.derived_config(project.conf, project.config_dir, project.preset)  # results, site in tmp
        del conf["plugins"]  # its environment plugin imports from the repository root
        asv_project.write_config(conf, project.config, Path(tmp))
        cmd = [
            str(Path(sys.executable).with_name("asv")),
            "run",
            "-E",
            f"existing:{sys.executable}",
            "--set-commit-hash",
            commit,
            "--machine",
            "harness",
            "--record-samples",
            "--launch-method",
            launch,
            *attributes,
            *(["-a", f"rounds={rounds}"] if rounds > 1 else []),
            "-b",
            benchmark_names.selection_regex(list(CATALOG.values()), runnable),
        ]
        env = {**os.environ, PRESET_ENV: "default", "HOME": tmp, ROUNDS_ENV: str(rounds)}
        subprocess.run(
            [str(Path(sys.executable).with_name("asv")), "machine", "--yes", "--machine", "harness"],
            cwd=tmp,
            env=env,
            check=True,
            capture_output=True,
        )
        start = time.perf_counter()
        subprocess.run(cmd, cwd=tmp, env=env, check=True, capture_output=True)
        wall = time.perf_counter() - start
        (result,) = (Path(tmp) / "results" / "harness").glob(f"{commit[:8]}-*.json")
        return wall, json.loads(result.read_text())


def _timings(doc: dict) -> dict[tuple[str, str], dict]:
    """(time benchmark, variant) -> median, its 99% interval, sample count and sampled seconds."""
    out = {}
    for name, values in doc["results"].items():
        entry = dict(zip(doc["result_columns"], values))
        if (
            (bench := benchmark_names.parse(name)) is None
            or bench.kind != benchmark_names.TIME
            or not entry.get("params")
        ):
            continue
        for i, param in enumerate(entry["params"][0]):
            median = entry["result"][i]
            if median is None or median != median:  # n/a
                continue
            samples = (entry.get("samples") or [[]] * (i + 1))[i] or []
            out[name, param] = {
                "median": median,
                "ci": (entry["stats_ci_99_b"][i] - entry["stats_ci_99_a"][i]) / 2 / median,
                "n": len(samples),
                "sampled": sum(samples),
            }
    return out


SWEEP_LAUNCH_METHODS = ("forkserver", "spawn")
FIXED_SAMPLING = ["-a", "repeat=(10, 5000, 1.0)"]
"""The sampling before adaptive stopping: at least 10 samples, then until 1 s or 5000 (ASV's -a overrides setup's)."""


def sweep(
    launch: str = "forkserver", sampling: str = "adaptive", runs: int = 2, keep: Path | None = None, rounds: int = 1
) -> list[str]:
    """``runs`` back-to-back full sweeps: what each costs, and how well their medians agree.

    ``keep``: a directory for each run's ASV results file (``<sampling>-<run>.json``), for a closer look.
    ``rounds``: each benchmark in that many processes sharing the sampling time, as a history samples it.
    """
    tag, commit = main_job.commit_for_installed_mlx(asv_project.repository().tags)
    runnable = [b for b in BACKENDS.values() if b.unavailable() is None]
    attributes = FIXED_SAMPLING if sampling == "fixed" else []
    lines = [
        f"Sweeps at mlx {tag} ({', '.join(b.name for b in runnable)}; launch {launch}; {sampling} sampling; "
        f"{rounds} round(s)):\n"
    ]
    timed = []
    for run in range(runs):
        wall, doc = _sweep_once(launch, attributes, commit, runnable, rounds)
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            (keep / f"{sampling}-{run + 1}.json").write_text(json.dumps({"wall_s": wall, **doc}))
        timings = _timings(doc)
        timed.append(timings)
        sampled = sum(t["sampled"] for t in timings.values())
        within = sum(t["ci"] <= 0.01 for t in timings.values())
        samples = sorted(t["n"] for t in timings.values())
        lines.append(
            f"- run {run + 1}: **{wall:.0f} s wall**, {sampled:.0f} s inside timed samples ({wall / sampled:.2f}x); "
            f"{len(timings)} time medians, samples per median {samples[0]}-{samples[-1]} "
            f"(median {statistics.median(samples):.0f}); ASV's 99% interval within +-1% for {within} "
            f"({within / len(timings):.0%})"
        )
    for first, second in zip(timed, timed[1:]):
        common = sorted(set(first) & set(second))
        ratios = [second[k]["median"] / first[k]["median"] for k in common]
        close = sum(abs(r - 1) <= 0.10 for r in ratios)
        lines.append(
            f"- run to run: {close} of {len(common)} medians within +-10% (**{close / len(common):.0%}**), "
            f"median |change| {statistics.median(abs(r - 1) for r in ratios):.1%}, "
            f"90th percentile {statistics.quantiles([abs(r - 1) for r in ratios], n=10)[-1]:.1%}"
        )
    imports = _seconds([sys.executable, "-c", "import benchmarks.ops, mlx.core, torch"])
    lines.append(f"\nOne process start with the imports costs {imports:.2f} s here.")
    return lines


def _seconds(cmd: list[str], **kwargs) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT, **kwargs)
    return time.perf_counter() - start


def switch() -> list[str]:
    """Install a different MLX release into an existing environment with ASV's install step."""
    current = versions.mlx_version()
    other = next(r.version for r in reversed(releases.load()) if r.installs_here() and r.version != current)
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
        python = str(venv / "bin" / "python")
        times = []
        for version in (other, current):  # there and back: both directions hit the warm cache
            build = Path(tmp) / f"build-{version}"
            build.mkdir()
            (build / timeline.VERSION_FILE).write_text(version + "\n")
            times.append(_seconds([python, str(ROOT / "mlxbench" / "history" / "asv_install.py"), str(build)]))
    return [
        f"Release switch (ASV's install step, warm pip cache): mlx {current} -> {other} {times[0]:.1f} s, "
        f"back {times[1]:.1f} s (target 10 s)."
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("figure", choices=["body", "agreement", "sweep", "switch", "inputs", "input-case", "all"])
    parser.add_argument(
        "--launch-method",
        default="forkserver",
        choices=SWEEP_LAUNCH_METHODS,
        help="ASV's launch method for the sweep (default: forkserver, as mlxbench bench)",
    )
    parser.add_argument(
        "--sampling",
        default="adaptive",
        choices=["adaptive", "fixed"],
        help="the suite's own adaptive sampling (default) or the former 1 s per variant, for comparison",
    )
    parser.add_argument("--runs", type=int, default=2, help="back-to-back sweeps (default 2: run-to-run agreement)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="rounds per benchmark sharing the sampling time (a history: 2)"
    )
    parser.add_argument("--keep", type=Path, help="a directory to keep each sweep's ASV results file in")
    parser.add_argument(
        "--neighbour",
        action="store_true",
        help="keep one core busy (a process spinning) for the whole run: the A/A test under a neighbour",
    )
    args, rest = parser.parse_known_args()
    figure = args.figure
    if figure == "input-case":  # one variant of `inputs`, in the process `inputs` started for it
        print(input_case(*rest[0].split(":")))
        return
    runs = (
        ("body", body),
        ("agreement", agreement),
        ("sweep", lambda: sweep(args.launch_method, args.sampling, args.runs, args.keep, args.rounds)),
        ("switch", switch),
        ("inputs", inputs),
    )
    with lock.measuring(["tools/harness_bench.py", *sys.argv[1:]]), neighbour(args.neighbour):
        for name, fn in runs:
            if figure in (name, "all"):
                print(f"### {name}\n")
                print("\n".join(fn()) + "\n", flush=True)


@contextlib.contextmanager
def neighbour(spin: bool) -> Iterator[None]:
    """With ``spin``, a process spinning on one core for the block (the busy machine the A/A test is about)."""
    if not spin:
        yield
        return
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    print(f"(a neighbour, pid {proc.pid}, spins on one core throughout)\n", flush=True)
    try:
        yield
    finally:
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    main()
