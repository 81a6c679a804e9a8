"""The notes under a table: what its numbers are, where they were measured, and what the noise judgement means."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from mlxbench import noise
from mlxbench.catalog.ops.activations import COMPILED_BY_MLX_NN, COMPILED_SINCE
from mlxbench.harness.backends import BACKENDS
from mlxbench.report.formatting import COLUMN_NAMES, FRAMEWORK_NAMES, SPREAD_LIMIT
from mlxbench.report.index import ResultIndex
from mlxbench.report.model import Point
from mlxbench.stack.releases import TAG_PREFIX


def mode_note(index: ResultIndex, series: str) -> str:
    """How the series' environment gets its torch, so which framework moves along the series."""
    s = index.series_by_id[series]
    if s.pin:
        return (
            f"Pinned mode: torch {s.pin} at every commit (the environment {s.env} pins it), "
            "so only MLX moves along this series."
        )
    return (
        f"Timeline mode: each commit's own torch (the environment {s.env or '(unnamed)'} pins none), "
        "so MLX moves at MLX commits and torch at torch commits."
    )


def machine_notes(info: Mapping[str, object], backends: Sequence[str]) -> list[str]:
    """Threads, float32 policy and a virtual machine, as the machine recorded them (``mlxbench machine``).

    Older records say nothing of these, and the notes then make no claim.
    """
    notes = []
    if info.get("virtual"):
        notes.append(
            f"Measured in a virtual machine ({info['virtual']}): the numbers describe the VM, not the bare chip."
        )
    if "torch_threads" in info and "mlx_cpu_threads" in info:
        notes.append(f"Threads: torch {info['torch_threads']}, MLX CPU {info['mlx_cpu_threads']}.")
    accelerated_mlx = [b for b in backends if BACKENDS[b].framework == "mlx" and BACKENDS[b].accelerated]
    if accelerated_mlx and "mlx_enable_tf32" in info:
        notes.append(
            f"MLX GPU float32: MLX_ENABLE_TF32={info['mlx_enable_tf32']} "
            "(0: full float32, as torch_cuda with TF32 off; 1: TF32-class products)."
        )
    return notes


def runs_apart_note(index: ResultIndex, series: str, release: str, apart: Sequence[tuple[str, str]]) -> list[str]:
    """Names the speedup columns whose two backends were measured in separate runs (never judged, always `~`)."""
    if not apart:
        return []

    def when(backend: str) -> str:
        span = index.measured_between(series, release, backend)
        days = sorted({time.strftime("%Y-%m-%d", time.gmtime(ms / 1000)) for ms in span or ()})
        return "/".join(days) or "an unknown date"

    pairs = "; ".join(
        f"{COLUMN_NAMES[a]}/{COLUMN_NAMES[b]} ({COLUMN_NAMES[a]} {when(a)}, {COLUMN_NAMES[b]} {when(b)})"
        for a, b in apart
    )
    return [
        f"Measured in separate runs, so not judged (`~`; csv/json keep the number): {pairs}. "
        "Across runs the host moves both sides: read these speedups as rough."
    ]


def table_notes(index: ResultIndex, series: str, release: str, per_variant: bool) -> list[str]:
    """The notes of an average table, or of a detailed one (``per_variant``): units, machine, speedups, flags."""
    what = (
        "ASV median per variant"
        if per_variant
        else "each op is its largest variant's peak"
        if index.query.metric == "memory"
        else f"each op is the {index.query.how} mean over its variants "
        f"(`--mean {'arithmetic' if index.query.how == 'geometric' else 'geometric'}` for the other)"
    )
    lead = {
        "time": "Times in ms",
        "memory": "Peak resident memory of the benchmark process in MB "
        "(ASV peakmem; inputs, output and the frameworks themselves; the op's largest variant)",
        "bandwidth": "Achieved bandwidth in GB/s (bytes moved / time)",
        "flops": "Achieved GFLOP/s",
        "roofline": "Achieved rate and % of the roofline (the fastest time "
        "the calibrated ceilings allow for the variant's bytes and FLOPs)",
        "instructions": "Instructions per call in millions, one warm call counted by valgrind's callgrind "
        "(CPU backends; n/a where nothing was counted)",
    }[index.query.metric]
    notes = [f"{lead}; {what}.", mode_note(index, series)]
    notes += machine_notes(index.machine_info[series], index.backends_of(series))
    if index.query.metric == "time":
        notes.append(
            "`a/b speedup` = (t_b / t_a - 1) x 100: +100% means a takes half of b's time. "
            "A speedup is judged within the run only (both backends measured in one run): it shows where "
            "ASV's test (Mann-Whitney U on recorded samples, else non-overlapping 99% confidence intervals) "
            + ("finds the two different" if per_variant else "finds most variants different in its direction")
            + ", else `~` (csv/json keep the number, with a `beats noise` flag)."
        )
    mlx_shown = any(BACKENDS[b].framework == "mlx" for b in index.backends_of(series))
    shown = index.variants(series, release)
    compiled = [op for op in COMPILED_BY_MLX_NN if op in shown]
    if mlx_shown and not per_variant and compiled:
        notes.append(
            f"{', '.join(compiled)}: MLX's side is an mlx.nn function that MLX compiles itself "
            f"(mx.compile, shapeless) since {COMPILED_SINCE}, so the plain MLX backends run compiled code too and "
            "their compile speedup compares compiled with compiled."
        )
    if index.query.metric == "roofline":
        ceilings = index.ceilings[series]
        notes.append(
            "Ceilings (`mlxbench calibrate`): "
            + "; ".join(
                f"{COLUMN_NAMES[b]} {min(c.bandwidth_gbs.values()):.1f}-{max(c.bandwidth_gbs.values()):.1f} GB/s "
                f"(DRAM {c.dram_gbs:.1f}), {c.gflops:.1f} GFLOP/s"
                for b, c in ceilings.items()
            )
            + ". Each variant is held to the bandwidth of a calibrated copy at least its size (cache or DRAM). "
            "On Linux, mlx_cpu's compute ceiling is its own single-threaded reference BLAS, which vectorized "
            "elementwise kernels can outrun: a share over 100% means faster than that ceiling."
        )
    notes.append(
        "n/a: the backend or the MLX API is missing"
        + ("" if per_variant else ", or it did not run every variant")
        + (
            ", or no peak memory was measured (`mlxbench bench` measures it, with --rerun where the release is "
            "already measured; a history times only)"
            if index.query.metric == "memory"
            else ""
        )
        + ("; ops that only move data have no FLOP rate." if index.query.metric == "flops" else ".")
    )
    noisy = index.noisy(series, release) if index.query.metric != "memory" else []  # a timing's spread, not a peak's
    if noisy:
        notes.append(
            f"{len(noisy)} result(s) have an interquartile range over {SPREAD_LIMIT:.0f}% of the median "
            "(too noisy to trust; `--table detailed` shows each spread)."
        )
    busy = sorted(
        f"{k.op} {k.variant} on {k.backend}" for k in index.busy if (k.series, k.release) == (series, release)
    )
    if busy:
        notes.append(
            f"{len(busy)} result(s) sampled while other processes used the machine, after every re-measurement "
            f"(load.jsonl): {', '.join(busy[:5])}{' ...' if len(busy) > 5 else ''}."
        )
    return notes


def points_notes(index: ResultIndex, series: str, backend: str, points: Sequence[Point]) -> list[str]:
    """Where the history's columns were measured, and what became of the commits that are not columns."""
    framework = BACKENDS[backend].framework
    pin = index.series_by_id[series].pin
    measured = [r for r in index.releases_of(series) if (series, r, backend) in index.measured]
    if framework == "torch" and pin and points:
        return [
            f"torch is pinned to {pin} in this environment: this backend measured that one torch at "
            f"{len(measured)} commit(s), so its history is one column, from its newest complete measurement "
            f"({points[0].release}); "
            "the others are the drift controls of the MLX histories, not changes. A torch history needs "
            "timeline mode (an environment without torch in the ASV matrix)."
        ]
    notes = []
    elsewhere = [
        f"{p.label} at {p.release}"
        for p in points
        if p.version is not None and p.release != f"{TAG_PREFIX[framework]}{p.version}"
    ]
    if elsewhere:
        notes.append(f"Measured at another commit than the release's own: {', '.join(elsewhere)}.")
    if len(measured) > len(points):
        notes.append(
            f"{len(measured) - len(points)} later commit(s) measured a {FRAMEWORK_NAMES[framework]} release "
            "already shown (only the other framework changed there): no columns, they are the drift controls "
            "of the other framework's history."
        )
    return notes


def noise_notes(index: ResultIndex, series: str, kind: str, pairs: Mapping[str, noise.Pair]) -> list[str]:
    """What `~` means in a history or race table, and each pair's noise floor with where it comes from."""
    if not pairs:
        return []
    sampled = index.sampled(series)
    test = (
        "ASV's test ("
        + ("Mann-Whitney U on the recorded samples, else" if sampled else "no samples recorded here, so")
        + " non-overlapping 99% confidence intervals) finds most of the op's variants different in its direction"
    )
    if kind == "history":
        rule = (
            f"A change shows as +x%/-x% only when it beats the noise: {test}, and it exceeds the pair's noise "
            "floor, the machine's drift between the two runs."
        )
    else:
        rule = (
            "In parentheses the ratio's change from the previous column. It shows as +x%/-x% only when a backend "
            "whose framework changed between the two commits changed this op beyond the noise, as the history "
            f"tables judge it ({test}, and the change exceeds the pair's noise floor), in the ratio's direction "
            "(a slower MLX raises it, a slower torch lowers it), and the ratio moved more than that floor: the "
            "other backend's difference is the machine's drift."
        )
    by_source: dict[str, list[str]] = {}
    for name, pair in pairs.items():
        by_source.setdefault(pair.floor.source, []).append(f"{name} {pair.floor.fraction * 100:.0f}%")
    busy = sum(k.series == series for k in index.busy)
    marked = (
        [
            f"{busy} result(s) of this series stayed busy (other processes used the machine while they sampled, "
            "after every re-measurement): no change is called from them."
        ]
        if busy
        else []
    )
    return [
        rule + " Otherwise `~` (csv/json keep the number, with a `beats noise` flag).",
        "Noise floor per pair: " + "; ".join(f"{', '.join(p)} ({source})" for source, p in by_source.items()) + ".",
        *marked,
    ]
