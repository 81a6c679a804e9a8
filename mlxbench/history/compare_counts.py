"""``mlxbench compare vA vB --metric instructions``: one counted run per side; a change is any count beyond 0.1%
(and 5,000 instructions: :func:`~mlxbench.harness.counting.changed`).

Counts do not vary with the machine's load (docs/method.md, "Counted instructions"), so one round per side
answers, and the threshold is the counts' own repeatability, not a noise floor measured on this host.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlxbench.harness import benchmark_names, counting
from mlxbench.harness.backends import Backend
from mlxbench.history import asv_run, counted_commits, lock, machine
from mlxbench.history.asv_project import PINNED
from mlxbench.history.compare import CompareOutcome, ComparePlan, run_round
from mlxbench.store import results

Key = tuple[str, str, str]
"""(op, variant, backend)."""


def read_counts(results_dir: Path, machine_name: str, commit: str) -> dict[Key, dict[str, float]]:
    """Every counted variant of ``commit`` on ``machine_name``: (op, variant, backend) -> kind -> count."""
    out: dict[Key, dict[str, float]] = {}
    for m in results.read_commit(Path(results_dir) / machine_name, commit):
        if m.kind in benchmark_names.COUNTED and m.ok:
            out.setdefault((m.op, ", ".join((m.variant, *m.axes)), m.backend), {})[m.kind] = float(m.value)
    return out


@dataclass(frozen=True)
class CountChange:
    """One variant whose instructions moved (head / base), with its misses and cycles."""

    key: Key
    before: Mapping[str, float]
    after: Mapping[str, float]

    def ratio(self, kind: str = benchmark_names.INSTRUCTIONS) -> float | None:
        a, b = self.before.get(kind), self.after.get(kind)
        return b / a if a and b is not None else None


def changes(before: Mapping[Key, Mapping[str, float]], after: Mapping[Key, Mapping[str, float]]) -> list[CountChange]:
    """The variants counted on both sides whose instructions moved (:func:`~mlxbench.harness.counting.changed`),
    biggest first."""
    found = [
        CountChange(key, before[key], after[key])
        for key in before.keys() & after.keys()
        if benchmark_names.INSTRUCTIONS in before[key] and benchmark_names.INSTRUCTIONS in after[key]
    ]
    moved = [
        c
        for c in found
        if counting.changed(c.before[benchmark_names.INSTRUCTIONS], c.after[benchmark_names.INSTRUCTIONS])
    ]
    return sorted(moved, key=lambda c: -abs((c.ratio() or 1.0) - 1.0))


def render(p: ComparePlan, counted: tuple[int, int], moved: Sequence[CountChange]) -> str:
    """The variants whose instructions moved, with their LL misses and estimated cycles; head / base."""
    lines = [
        f"mlxbench compare {p.base} -> {p.head} on {p.machine['machine']}, preset {p.project.preset}, "
        "instructions counted by callgrind (one warm call each)",
        f"{min(counted)} variant(s) counted on both sides ({counted[0]} at {p.base}, {counted[1]} at {p.head}); "
        f"{len(moved)} changed beyond {counting.CHANGE:.1%} (and {counting.MIN_CHANGE:,} instructions); "
        f"ratio = {p.head} / {p.base}, above 1 is more work",
    ]
    labels = [f"{op} {variant} {backend}" for op, variant, backend in (c.key for c in moved)]
    width = max((len(label) for label in labels), default=0)
    for label, c in zip(labels, moved):
        extra = ", ".join(
            f"{word} x{r:.3f}"
            for word, kind in (("LL misses", benchmark_names.LL_MISSES), ("cycles", benchmark_names.CYCLES))
            if (r := c.ratio(kind)) is not None
        )
        instructions = f"{c.before[benchmark_names.INSTRUCTIONS]:,.0f} -> {c.after[benchmark_names.INSTRUCTIONS]:,.0f}"
        lines.append(f"  {label.ljust(width)}  {instructions} instructions  x{c.ratio():.4f}  ({extra})")
    return "\n".join(lines)


def moving_backends(p: ComparePlan) -> list[Backend]:
    """The selected backends whose counts can differ between the sides: not torch's where torch is pinned
    (:func:`~mlxbench.history.counted_commits.one_build_throughout`)."""
    return [b for b in p.backends if not counted_commits.one_build_throughout(b, p.project.mode == PINNED)]


def run(p: ComparePlan, say: asv_run.Say = asv_run.unheard, call: Callable[..., int] = lock.call) -> CompareOutcome:
    """Count both sides once (no quiet machine needed) and name every variant whose instructions moved."""
    machine.save(p.machine)
    name = p.machine["machine"]
    backends = moving_backends(p)
    if same := [b.name for b in p.backends if b not in backends]:
        say(
            f"not counted: {', '.join(same)} (torch {', '.join(p.project.pinned_torch)} is pinned, the same build "
            "on both sides: its counts cannot differ)"
        )
    if not backends:
        return CompareOutcome(0, p, [f"nothing counted: {', '.join(same)} cannot differ here"], "", None, None)
    regex = benchmark_names.selection_regex(p.ops, backends, kinds=benchmark_names.COUNTED)
    failed = False
    with tempfile.TemporaryDirectory(prefix="mlxbench-compare-") as loads:  # a count writes no load record
        for side in p.sides:
            shutil.rmtree(side.results_dir, ignore_errors=True)  # a fresh count, not one mixed with the last
            say(f"counting {side.tag} ({side.label}) under valgrind")
            if run_round(side, 1, name, regex, p.project.preset, False, call, Path(loads)) != 0:
                say(f"asv run of {side.tag} failed (see its output above)")
                failed = True
    before, after = (read_counts(s.results_dir, name, s.commit) for s in p.sides)
    moved = changes(before, after)
    warnings = [] if before and after else ["warning: nothing was counted on one side (see ASV's output above)"]
    table = render(p, (len(before), len(after)), moved)
    return CompareOutcome(1 if failed else 0, p, warnings, table, None, None)
