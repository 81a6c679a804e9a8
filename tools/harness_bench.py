"""Benchmarks the harness itself: does ASV measure what a tight loop measures, and what does a sweep cost?

    .venv/bin/python tools/harness_bench.py agreement   # ASV's median vs a perf_counter loop, interleaved
    .venv/bin/python tools/harness_bench.py overhead    # a full default-preset asv run: wall vs timed samples
    .venv/bin/python tools/harness_bench.py switch      # seconds to install one more release (warm pip cache)
    .venv/bin/python tools/harness_bench.py all

Figures go to stdout as markdown, ready for the README's methodology section.
Speeds are compared as ratios measured in the same run, never across runs:
this machine's medians drift up to 2x within an hour.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlxbench.catalog import CATALOG  # noqa: E402
from mlxbench.harness import versions  # noqa: E402
from mlxbench.harness.asv_suite import PRESET_ENV  # noqa: E402
from mlxbench.harness.backends import BACKENDS  # noqa: E402
from mlxbench.history import asv_run, releases, timeline  # noqa: E402

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
    return _discovered()[f"ops.{op}.time_{backend}"]


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
        lines.append(
            f"| {op}.time_{backend} | {CATALOG[op].variants('default')[index].id} | "
            f"{statistics.median(asv_ms):.4g} | {statistics.median(loop_ms):.4g} | {ratio:.3f} |"
        )
    lines.append(f"\nLargest disagreement: {worst * 100:.1f}% (target: within 10%).")
    return lines


def overhead(launch: str = "forkserver") -> list[str]:
    """One full default-preset `asv run` at the installed release, with every sample recorded."""
    conf = asv_run.asv_conf()
    tags = asv_run.sync_timeline(conf)
    tag, commit = asv_run.commit_for_installed_mlx(tags)
    runnable = [b for b in BACKENDS.values() if b.unavailable() is None]
    with tempfile.TemporaryDirectory() as tmp:
        cfg = {
            **conf,
            "repo": str(ROOT / conf["repo"]),
            "benchmark_dir": str(ROOT / "benchmarks"),
            "results_dir": str(Path(tmp) / "results"),
            "html_dir": str(Path(tmp) / "html"),
            "env_dir": str(ROOT / conf["env_dir"]),
        }
        (Path(tmp) / "asv.conf.json").write_text(json.dumps(cfg))
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
            "-b",
            asv_run.bench_regex(list(CATALOG.values()), runnable),
        ]
        env = {**os.environ, PRESET_ENV: "default", "HOME": tmp}
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
        doc = json.loads(result.read_text())
    columns = doc["result_columns"]
    sampled = durations = 0.0
    processes = 0
    for values in doc["results"].values():
        entry = dict(zip(columns, values))
        for samples in entry.get("samples") or []:
            sampled += sum(samples or [])
        durations += entry.get("duration") or 0.0
        processes += len(entry["params"][0]) if entry.get("params") else 1
    imports = _seconds([sys.executable, "-c", "import benchmarks.ops, mlx.core, torch"])
    return [
        f"Full default-preset `asv run` at mlx {tag} ({', '.join(b.name for b in runnable)}; launch {launch}): "
        f"{wall:.0f} s wall, {sampled:.0f} s inside timed samples: **{wall / sampled:.2f}x** (target 1.5x).",
        f"ASV's per-benchmark durations add to {durations:.0f} s over {processes} benchmark processes; "
        f"one process start with the imports costs {imports:.2f} s here.",
    ]


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
            times.append(_seconds([python, str(ROOT / "mlxbench" / "asv_install.py"), str(build)]))
    return [
        f"Release switch (ASV's install step, warm pip cache): mlx {current} -> {other} {times[0]:.1f} s, "
        f"back {times[1]:.1f} s (target 10 s)."
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("figure", choices=["agreement", "overhead", "switch", "all"])
    parser.add_argument(
        "--launch-method",
        default="forkserver",
        choices=["forkserver", "spawn"],
        help="ASV's launch method for the overhead figure (default: forkserver, as mlxbench bench)",
    )
    args = parser.parse_args()
    figure = args.figure
    runs = (("agreement", agreement), ("overhead", lambda: overhead(args.launch_method)), ("switch", switch))
    for name, fn in runs:
        if figure in (name, "all"):
            print(f"### {name}\n")
            print("\n".join(fn()) + "\n", flush=True)


if __name__ == "__main__":
    main()
