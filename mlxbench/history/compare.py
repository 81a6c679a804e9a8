"""``mlxbench compare vA vB``: a robust A/B answer between two releases on this machine.

:func:`plan` checks both releases and writes each side's configuration under ``.asv/compare/`` (never a
history); :func:`run` measures both in interleaved rounds (A then B in each), calls a change only where every
round shows it beyond the noise floor, records the machine's repeatability for ``vA vA``, and returns a
:class:`CompareOutcome` for its command to print. Why: docs/architecture.md, "Compare".
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from mlxbench import noise, verdicts
from mlxbench import selection as names
from mlxbench.catalog.spec import Op
from mlxbench.errors import UsageError
from mlxbench.harness import benchmark_names, load
from mlxbench.harness.asv_suite import PRESET_ENV
from mlxbench.harness.backends import Backend
from mlxbench.history import asv_environment, asv_run, lock, machine, quiet
from mlxbench.history.asv_project import AsvProject
from mlxbench.selection import Selection
from mlxbench.stack import releases
from mlxbench.store import files, repeatability, results

DEFAULT_ROUNDS = 4
"""A then B, four times: a change must show in each (the history keeps its two, spread over 28 commits)."""
# ---------------------------------------------------------------- reading results


def read_points(results_dir: Path, machine: str, commit: str) -> dict[verdicts.Key, verdicts.Point]:
    """Every successful timing variant of ``commit`` on ``machine`` under ``results_dir`` (the store's reader)."""
    return {
        (benchmark_names.build(m.op, m.kind, m.backend), ", ".join((m.variant, *m.axes))): m.stats()
        for m in results.read_commit(Path(results_dir) / machine, commit)
        if m.kind == "time" and m.ok
    }


def sample_counts(points: Mapping[verdicts.Key, verdicts.Point]) -> dict[verdicts.Key, int]:
    """How many samples each variant holds so far (read after each round, to cut the pooled samples by round)."""
    return {key: len(p.samples or ()) for key, p in points.items()}


def round_medians(point: verdicts.Point, counts: Sequence[int]) -> list[float] | None:
    """Each round's median of its own samples: the pooled samples (ASV appends in order) cut at ``counts``.

    ``counts`` holds the number of samples after each round; None where a
    round added none or the counts do not end at the pooled total.
    """
    samples = list(point.samples or ())
    if not counts or counts[-1] != len(samples):
        return None
    medians, start = [], 0
    for end in counts:
        if end <= start:
            return None
        medians.append(float(np.median(samples[start:end])))
        start = end
    return medians


def rounds_of(
    before: Mapping[verdicts.Key, verdicts.Point],
    after: Mapping[verdicts.Key, verdicts.Point],
    counts_before: Sequence[Mapping[verdicts.Key, int]],
    counts_after: Sequence[Mapping[verdicts.Key, int]],
) -> dict[verdicts.Key, verdicts.Rounds]:
    """Each side's median in each round alone, for the variants whose every round is known on both sides."""
    out = {}
    for key in before.keys() & after.keys():
        a = round_medians(before[key], [c.get(key, 0) for c in counts_before])
        b = round_medians(after[key], [c.get(key, 0) for c in counts_after])
        if a is not None and b is not None and len(a) == len(b):
            out[key] = (a, b)
    return out


def read_repeatability(machine_dir: Path, say: asv_run.Say = asv_run.unheard) -> verdicts.Floor | None:
    """The machine's measured repeatability as a floor; None, with a warning said, if unreadable."""
    try:
        return repeatability.read(machine_dir)
    except ValueError as exc:
        say(f"warning: {exc}")
        return None


# ---------------------------------------------------------------- running


@dataclass
class Side:
    """One side of the comparison: a release, and the configuration whose results hold only it."""

    label: str
    tag: str
    commit: str
    config: Path

    @property
    def results_dir(self) -> Path:
        return self.config.parent / "results"


def check_release(tag: str, tags: Mapping[str, str]) -> tuple[str, str]:
    """The timeline tag and commit of ``tag`` (``0.31.1`` or ``v0.31.1``), refused (UsageError) unless it is
    catalogued and installs here."""
    try:
        release = releases.find(tag, releases.load())
    except KeyError:
        raise UsageError(f"{tag} is not a catalogued MLX release; `mlxbench releases` lists them") from None
    if not release.installs_here():
        raise UsageError(
            f"mlx {release.version} has no wheel for this Python and platform, so it cannot be measured here; "
            "`mlxbench releases` shows which releases install here"
        )
    if release.tag not in tags:
        raise UsageError(f"{release.tag} is not in the timeline; run `mlxbench releases sync`")
    return release.tag, tags[release.tag]


def timing_regex(ops: Sequence[Op], backends: Sequence[Backend]) -> str:
    """The timing benchmarks of the selection only: peak memory is not what an A/B of speed compares."""
    return benchmark_names.selection_regex(ops, backends, kinds=(benchmark_names.TIME,))


def run_round(
    side: Side,
    round_no: int,
    name: str,
    regex: str,
    preset: str,
    quick: bool,
    call: Callable[..., int],
    loads: Path,
) -> int:
    """One side's round; its benchmark processes write how busy the machine was into ``loads``."""
    command = [
        asv_run.ASV,
        "run",
        "--config",
        str(side.config),
        f"{side.commit}^!",
        "--machine",
        name,
        "-b",
        regex,
        "--show-stderr",
        "--record-samples",
        *(["--append-samples"] if round_no > 1 else []),
        *(["--quick"] if quick else []),
        *asv_run.LAUNCH,
    ]
    env = {**os.environ, PRESET_ENV: preset, load.LOAD_DIR_ENV: str(loads)}
    files.set_aside_unreadable(side.results_dir / name)
    try:
        return call(command, cwd=side.config.parent, env=env)
    finally:
        files.set_aside_unreadable(side.results_dir / name)


def verdict_rows(
    before: Mapping[verdicts.Key, verdicts.Point],
    after: Mapping[verdicts.Key, verdicts.Point],
    floor: verdicts.Floor,
    busy: set[verdicts.Key],
    counts: tuple[Sequence[Mapping[verdicts.Key, int]], Sequence[Mapping[verdicts.Key, int]]],
    quick: bool,
) -> list[verdicts.Row]:
    """Every variant's row: judged by the floor and by each round alone (``counts``, per side); --quick judges none."""
    if quick:
        unjudged = verdicts.compare_points(before, after, floor)
        return [replace(r, changed=False, why=verdicts.QUICK_WHY) for r in unjudged]
    return verdicts.compare_points(before, after, floor, busy, rounds_of(before, after, *counts))


@dataclass(frozen=True)
class ComparePlan:
    """One comparison, decided and checked before anything is measured: both sides and this machine."""

    project: AsvProject
    """The preset's project: its history keeps the machine's repeatability, never the sides' results."""
    base: str
    head: str
    sides: list[Side]
    ops: list[Op]
    backends: list[Backend]
    unavailable: dict[str, str]
    """The selected backends this machine lacks, each with the reason."""
    machine: dict[str, Any]
    rounds: int = DEFAULT_ROUNDS
    fail_above: float | None = None
    quick: bool = False
    metric: str = "time"
    """``time``, or ``instructions``: one counted run per side (:mod:`~mlxbench.history.compare_counts`)."""
    whole: bool = True
    """Whether the selection covers every op of the preset on every backend this machine has (the default one):
    only such a repeatability is the machine's noise floor."""

    @property
    def history(self) -> Path:
        """The preset's results directory (where ``repeatability.jsonl`` lives)."""
        return self.project.results_dir

    @property
    def total_rounds(self) -> int:
        return 1 if self.quick else self.rounds


def plan(
    project: AsvProject,
    selection: Selection,
    base: str,
    head: str,
    rounds: int = DEFAULT_ROUNDS,
    fail_above: float | None = None,
    quick: bool = False,
    metric: str = "time",
) -> ComparePlan:
    """Both releases checked and each side's configuration written; UsageError before anything is measured.

    ``fail_above``: a slowdown factor beyond the noise that fails the run (a CI gate); ``quick``: one sample
    per side, judged by nothing; ``metric`` ``instructions``: one counted run per side, no rounds.
    """
    if metric == "instructions" and (quick or fail_above is not None):
        raise UsageError("--metric instructions counts once per side: --quick and --fail-above do not apply")
    if metric == "instructions":
        rounds = 1
    elif rounds < 2 and not quick:
        raise UsageError("interleaving needs at least 2 rounds (--rounds)")
    if fail_above is not None and not fail_above > 1:
        raise UsageError("--fail-above is a slowdown factor above 1, e.g. 1.2 for 20% slower")
    if fail_above is not None and quick:
        raise UsageError("--fail-above judges changes; --quick takes one sample per side and judges none")
    backends, unavailable = asv_run.runnable(asv_run.for_metric(selection.backends, metric))
    (base, base_commit), (head, head_commit) = (check_release(tag, project.tags) for tag in (base, head))
    sides = [
        Side(label, tag, commit, project.comparison_config(base, head, label))
        for label, tag, commit in zip(("a", "b"), (base, head), (base_commit, head_commit))
    ]
    info = asv_run.machine_for(project, selection.machine)
    whole = covers_the_default(project.preset, selection.ops, backends)
    return ComparePlan(
        project,
        base,
        head,
        sides,
        list(selection.ops),
        backends,
        unavailable,
        info,
        rounds,
        fail_above,
        quick,
        metric,
        whole,
    )


def covers_the_default(preset: str, ops: Sequence[Op], backends: Sequence[Backend]) -> bool:
    """Whether ``ops`` on ``backends`` hold the default selection: every op of ``preset`` on every backend here."""
    every_op = {op.name for op in names.ops(None, preset)}
    every_backend = {b.name for b in names.backends(None) if b.unavailable() is None}
    return every_op <= {op.name for op in ops} and every_backend <= {b.name for b in backends}


@dataclass(frozen=True)
class CompareOutcome:
    """What :func:`run` measured and judged, as its command prints it."""

    code: int
    """0, or 1 when ``fail_above`` found a slowdown beyond it or a run failed."""
    plan: ComparePlan
    warnings: list[str]
    """What to doubt about the verdicts (on stderr, before the table)."""
    table: str
    """:func:`render`: the changes beyond the noise and the variants left without a verdict."""
    recorded: str | None
    """The repeatability a same-release comparison recorded (or why it recorded none)."""
    failure: str | None
    """The slowdowns beyond ``fail_above``, where there are any."""


def run(
    p: ComparePlan,
    say: asv_run.Say = asv_run.unheard,
    call: Callable[..., int] = lock.call,
    wait: Callable[[float], tuple[bool, float, load.Load | None]] = load.wait_until_quiet,
) -> CompareOutcome:
    """Measure both sides in interleaved rounds and judge them; ``say`` hears each round as it starts.

    Each side's round starts once the machine reads quiet (waiting at most :func:`~.quiet.wait_limit`);
    a variant sampled on a busy machine in any round gets no verdict.
    """
    machine.save(p.machine)
    name = p.machine["machine"]
    both = p.sides
    regex = timing_regex(p.ops, p.backends)
    for side in both:
        shutil.rmtree(side.results_dir, ignore_errors=True)  # a fresh measurement, not one mixed with the last
    failed = False
    total = p.total_rounds
    busy: set[verdicts.Key] = set()
    counts: dict[str, list[dict[verdicts.Key, int]]] = {side.label: [] for side in both}
    with tempfile.TemporaryDirectory(prefix="mlxbench-compare-") as tmp:
        for round_no in range(1, total + 1):
            for side in both:
                quiet.before_round(wait)
                say(f"round {round_no}/{total}: {side.tag} ({side.label})")
                loads = Path(tmp) / f"{side.label}-{round_no}"
                loads.mkdir()
                if run_round(side, round_no, name, regex, p.project.preset, p.quick, call, loads) != 0:
                    say(f"asv run of {side.tag} in round {round_no} failed (see its output above)")
                    failed = True
                busy |= {(r.benchmark, r.variant) for r in load.collect(loads) if r.busy}
                counts[side.label].append(sample_counts(read_points(side.results_dir, name, side.commit)))
    before = read_points(both[0].results_dir, name, both[0].commit)
    after = read_points(both[1].results_dir, name, both[1].commit)
    repo = str(p.project.repo)
    pins = [(asv_environment.commit_pins(repo, s.commit) or ("", {}))[1] for s in both]
    pinned_torch = ", ".join(v or "of the matrix" for v in p.project.pinned_torch) or None  # same on both sides
    versions = noise.point_versions(pins[0], pinned_torch), noise.point_versions(pins[1], pinned_torch)
    same = both[0].commit == both[1].commit
    floor = verdicts.noise_floor(before, after, versions, read_repeatability(p.history / name, say))
    rows = verdict_rows(before, after, floor, busy, (counts[both[0].label], counts[both[1].label]), p.quick)
    warnings: list[str] = []
    if floor.source.startswith("default"):
        warnings.append(
            f"warning: no control benchmarks (a backend of a framework that did not change) and no measured "
            f"repeatability for {name}: the {verdicts.DEFAULT_FLOOR:.0%} floor is a guess on a noisy machine. "
            "Add a control "
            f"backend (e.g. --backend torch_cpu), more --rounds, or run `mlxbench compare {p.base} {p.base}` once."
        )
    table = render(p.base, p.head, name, p.project.preset, total, floor, rows, len(before), len(after))
    recorded = None
    if same and p.quick:
        recorded = "--quick: one sample per side says nothing about the machine's repeatability; not recorded"
    elif same and p.whole:
        path = save_repeatability(p.history / name, rows, p.base, p.project.preset, total, both, p.machine)
        said = describe_repeatability(repeatability.newest(path.parent))
        recorded = f"repeatability of {p.base} on {name}: {said} -> {path}"
    elif same:
        narrowed = {"ops": [op.name for op in p.ops], "backends": [b.name for b in p.backends]}
        apart = p.project.comparison_dir(p.base, p.head) / name
        path = save_repeatability(apart, rows, p.base, p.project.preset, total, both, selection=narrowed)
        said = describe_repeatability(repeatability.newest(path.parent))
        preset = "" if p.project.preset == "default" else f" --preset {p.project.preset}"
        recorded = (
            f"repeatability of {p.base} on {name} over a narrowed selection (--op/--backend): {said} -> {path}; "
            f"kept apart, not this machine's noise floor: only `mlxbench compare {p.base} {p.base}{preset}` "
            "over every op and backend sets that"
        )
    slow = verdicts.gate(rows, p.fail_above)
    failure = f"FAIL: {len(slow)} slowdown(s) beyond the noise and above x{p.fail_above:g}" if slow else None
    return CompareOutcome(1 if slow or failed else 0, p, warnings, table, recorded, failure)


def describe_repeatability(doc: Mapping[str, Any]) -> str:
    return (
        f"{doc['within_10pct'] * 100:.0f}% of {doc['variants']} medians within +-10%, "
        f"90th percentile of |ratio - 1| {doc['p90_abs_change'] * 100:.1f}% "
        f"({doc['p90_abs_change_per_benchmark'] * 100:.1f}% per benchmark, geometric mean over its variants), "
        f"worst {doc['max_abs_change'] * 100:.0f}%"
    )


def save_repeatability(
    machine_dir: Path,
    rows: Sequence[verdicts.Row],
    release: str,
    preset: str,
    rounds: int,
    both: Sequence[Side],
    info: Mapping[str, Any] | None = None,
    selection: Mapping[str, Sequence[str]] | None = None,
) -> Path:
    """Append the machine's repeatability as one line (the schema :mod:`mlxbench.noise` reads; newest counts).

    Earlier measurements stay, as calibrations do. A machine folder that
    does not exist yet also gets ``machine.json`` from ``info``, so that ASV
    and the reports can read the folder. ``selection`` (ops and backends) marks a
    narrowed one, which :func:`mlxbench.store.repeatability.read` never takes for a floor.
    """
    doc = verdicts.summarize_repeatability(rows)
    if selection is not None:
        doc[repeatability.SELECTION_KEY] = {key: list(values) for key, values in selection.items()}
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    doc["runs"] = [
        {"release": release, "side": s.label, "preset": preset, "rounds": rounds, "measured": now} for s in both
    ]
    return repeatability.append(machine_dir, doc, info)


def render(
    base: str,
    head: str,
    machine: str,
    preset: str,
    rounds: int,
    floor: verdicts.Floor,
    rows: Sequence[verdicts.Row],
    n_before: int,
    n_after: int,
) -> str:
    """The changes beyond the noise, slowest first, then the variants the rounds left without a verdict, each why.

    A --quick run judges nothing: it says so, with no floor and no count of changes.
    """
    changed = sorted((r for r in rows if r.changed), key=lambda r: -r.ratio)
    head_line = f"mlxbench compare {base} -> {head} on {machine}, preset {preset}, {rounds} interleaved round(s)"
    measured = f"{len(rows)} variant(s) measured on both sides ({n_before} at {base}, {n_after} at {head})"
    if rows and all(r.why == verdicts.QUICK_WHY for r in rows):
        return "\n".join([head_line, f"{measured}; {verdicts.QUICK_WHY}"])
    lines = [
        head_line,
        f"noise floor: {floor}",
        f"{measured}; {len(changed)} changed beyond the noise; ratio = {head} / {base}, above 1 is slower",
    ]
    if busy := sum(r.why == verdicts.BUSY_WHY for r in rows):
        lines.append(f"{busy} variant(s) sampled while other processes used the machine: no verdict for them")
    split = [r for r in rows if r.why.startswith(verdicts.ROUNDS_WHY)]
    width = max((len(_label(r)) for r in changed + split), default=0)
    for r in changed:
        way = "slower" if r.ratio > 1 else "faster"
        lines.append(f"  {_label(r).ljust(width)}  {_ms(r.before)} -> {_ms(r.after)}  x{r.ratio:.2f}  {way}")
    if split:
        lines.append(f"{len(split)} variant(s) beyond the noise pooled, but {verdicts.ROUNDS_WHY}: no verdict for them")
        for r in split:
            why = r.why.removeprefix(f"{verdicts.ROUNDS_WHY}: ")
            lines.append(f"  {_label(r).ljust(width)}  x{r.ratio:.2f} pooled; {why}")
    return "\n".join(lines)


def _label(row: verdicts.Row) -> str:
    return f"{row.key[0]} {row.key[1]}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.4g} ms"
