"""``mlxbench compare vA vB``: a robust A/B answer between two releases on this machine.

Two runs an hour apart on one machine drift (79% of medians within +-10%
here), so two releases measured one after the other differ by the drift as
well as by any real change. This command therefore:

- measures both releases in **interleaved rounds**, A then B in each, each
  round adding its samples to the earlier ones (ASV's ``--append-samples``),
  so slow drift lands on both sides alike. This is what ``asv continuous
  --interleave-rounds -a rounds=N`` does, done with one ``asv run`` per side
  and round because each side has its own results directory: ASV files
  results by commit, and ``vA vA`` (two runs of one release) needs two;
- calls a change only where **the rounds show it on their own** (each
  round's median of B over A beyond the floor, the same way; all of two
  rounds, all but one of more): the machine's noise comes in bursts of
  seconds to minutes, and a burst over one side of one round moves the
  pooled medians as a change would. A B A B rather than A B B A, so that no
  two runs of one side follow each other: a burst over two adjacent runs
  covers one of each side and moves the rounds apart. Four rounds by
  default (docs/measurements/compare-rounds-2026-12-02.md);
- measures into ``.asv/compare/<preset>/<vA>..<vB>/`` (ASV's virtualenvs,
  shared with ``asv run``), never into a history's results;
- prints only the changes that beat the noise: ASV's own test per variant
  (Mann-Whitney U on the samples) and a between-run floor, from control
  benchmarks whose framework did not change (torch's when only MLX changed),
  else the machine's measured repeatability, else 10% (the rules of
  :mod:`mlxbench.noise`, shared with the history table);
- with ``--fail-above FACTOR``, exits 1 when a change beyond the noise is a
  slowdown by more than FACTOR (a CI gate);
- for ``vA vA``, records the machine's repeatability (share of medians within
  +-10%, percentiles of ``|ratio - 1|``) in ``<results>/<machine>/repeatability.jsonl``,
  which the report's noise rules use where no controls exist.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from mlxbench import noise, verdicts
from mlxbench.catalog.spec import Op
from mlxbench.errors import UsageError
from mlxbench.harness import benchmark_names, load
from mlxbench.harness.asv_suite import PRESET_ENV
from mlxbench.harness.backends import Backend
from mlxbench.history import asv_environment, asv_run, commits, layout, lock, machine, quiet
from mlxbench.stack import releases, timeline
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


def read_repeatability(machine_dir: Path) -> verdicts.Floor | None:
    """The machine's measured repeatability as a floor; None, with a warning, if unreadable."""
    try:
        return repeatability.read(machine_dir)
    except ValueError as exc:
        print(f"warning: {exc}", file=sys.stderr)
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


def check_release(tag: str, tags: Mapping[str, str]) -> str:
    """The timeline commit of ``tag``, refused (UsageError) unless it is catalogued and installs here."""
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
    return tags[release.tag]


def sides(base: str, head: str, preset: str, config: Path | None) -> tuple[list[Side], dict[str, Any], Path]:
    """Both sides' configurations (written now), the base configuration, and the history's results directory."""
    if config is None:
        tags = asv_run.sync_timeline(asv_run.asv_conf())
        config = layout.asv_config(preset)
        conf = layout.load_conf(config)
        root = layout.ROOT
    else:  # another project (the tests'): its timeline as it is, its own .asv/compare
        config = Path(config).resolve()
        conf = layout.load_conf(config)
        tags = timeline.tags(asv_run.conf_path(conf, config.parent, "repo"))
        root = config.parent
    commits = [check_release(tag, tags) for tag in (base, head)]
    work = layout.compare_dir(preset, base, head, root)
    out = []
    for label, tag, commit in zip(("a", "b"), (base, head), commits):
        side_config = layout.write_derived_config(config, work / label, preset)
        out.append(Side(label, tag, commit, side_config))
    return out, conf, asv_run.conf_path(conf, config.parent, "results_dir")


def timing_regex(ops: Sequence[Op], backends: Sequence[Backend]) -> str:
    """The timing benchmarks of the selection only: peak memory is not what an A/B of speed compares."""
    return benchmark_names.selection_regex(ops, backends, kinds=(benchmark_names.TIME,))


def _run_round(
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


def run(
    base: str,
    head: str,
    preset: str,
    ops: Sequence[Op],
    backends: Sequence[Backend],
    rounds: int = DEFAULT_ROUNDS,
    fail_above: float | None = None,
    machine_name: str | None = None,
    quick: bool = False,
    config: Path | None = None,
    call: Callable[..., int] = lock.call,
    wait: Callable[[float], tuple[bool, float, load.Load | None]] = load.wait_until_quiet,
) -> int:
    """Measure, judge, print; 0, or 1 when ``fail_above`` finds a slowdown beyond it (or a run failed).

    Each side's round starts once the machine reads quiet (waiting at most :func:`~.quiet.wait_limit`);
    a variant sampled on a busy machine in any round gets no verdict.
    """
    if rounds < 2 and not quick:
        raise UsageError("interleaving needs at least 2 rounds (--rounds)")
    if fail_above is not None and not fail_above > 1:
        raise UsageError("--fail-above is a slowdown factor above 1, e.g. 1.2 for 20% slower")
    if fail_above is not None and quick:
        raise UsageError("--fail-above judges changes; --quick takes one sample per side and judges none")
    chosen = asv_run.runnable(backends)
    both, conf, history = sides(base, head, preset, config)
    info = asv_run.machine_for(history, machine_name)
    machine.save(info)
    name = info["machine"]
    regex = timing_regex(ops, chosen)
    for side in both:
        shutil.rmtree(side.results_dir, ignore_errors=True)  # a fresh measurement, not one mixed with the last
    failed = False
    total = 1 if quick else rounds
    busy: set[verdicts.Key] = set()
    counts: dict[str, list[dict[verdicts.Key, int]]] = {side.label: [] for side in both}
    with tempfile.TemporaryDirectory(prefix="mlxbench-compare-") as tmp:
        for round_no in range(1, total + 1):
            for side in both:
                quiet.before_round(wait)
                print(f"round {round_no}/{total}: {side.tag} ({side.label})", file=sys.stderr)
                loads = Path(tmp) / f"{side.label}-{round_no}"
                loads.mkdir()
                if _run_round(side, round_no, name, regex, preset, quick, call, loads) != 0:
                    print(f"asv run of {side.tag} in round {round_no} failed (see its output above)", file=sys.stderr)
                    failed = True
                busy |= {(r.benchmark, r.variant) for r in load.collect(loads) if r.busy}
                counts[side.label].append(sample_counts(read_points(side.results_dir, name, side.commit)))
    before = read_points(both[0].results_dir, name, both[0].commit)
    after = read_points(both[1].results_dir, name, both[1].commit)
    repo = str(asv_run.conf_path(conf, both[0].config.parent, "repo"))
    pins = [(asv_environment.commit_pins(repo, s.commit) or ("", {}))[1] for s in both]
    pinned_torch = ", ".join(v or "of the matrix" for v in commits.pinned_torch(conf)) or None  # same on both sides
    versions = noise.point_versions(pins[0], pinned_torch), noise.point_versions(pins[1], pinned_torch)
    same = both[0].commit == both[1].commit
    floor = verdicts.noise_floor(before, after, versions, read_repeatability(history / name))
    rows = verdict_rows(before, after, floor, busy, (counts[both[0].label], counts[both[1].label]), quick)
    if floor.source.startswith("default"):
        print(
            f"warning: no control benchmarks (a backend of a framework that did not change) and no measured "
            f"repeatability for {name}: the {verdicts.DEFAULT_FLOOR:.0%} floor is a guess on a noisy machine. "
            "Add a control "
            f"backend (e.g. --backend torch_cpu), more --rounds, or run `mlxbench compare {base} {base}` once.",
            file=sys.stderr,
        )
    print(render(base, head, name, preset, total, floor, rows, len(before), len(after)))
    if same and quick:
        print("--quick: one sample per side says nothing about the machine's repeatability; not recorded")
    elif same:
        path = save_repeatability(history / name, rows, base, preset, total, both, info)
        said = describe_repeatability(repeatability.newest(path.parent))
        print(f"repeatability of {base} on {name}: {said} -> {path}")
    slow = verdicts.gate(rows, fail_above)
    if slow:
        print(f"FAIL: {len(slow)} slowdown(s) beyond the noise and above x{fail_above:g}", file=sys.stderr)
        return 1
    return 1 if failed else 0


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
) -> Path:
    """Append the machine's repeatability as one line (the schema :mod:`mlxbench.noise` reads; newest counts).

    Earlier measurements stay, as calibrations do. A machine folder that
    does not exist yet also gets ``machine.json`` from ``info``, so that ASV
    and the reports can read the folder.
    """
    doc = verdicts.summarize_repeatability(rows)
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
