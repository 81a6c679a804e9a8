"""PNG plots of a report: runtime across releases, and backends at the newest release.

Per machine and backend, one figure of small multiples (one panel per op,
log-scale milliseconds, release tags on the x-axis), so a regression is a bump
in one panel; per machine, one bar chart of every backend per op at the newest
release. A line is always one machine's series, never two machines spliced.
Only changes that beat the noise (the history table's verdicts) are annotated
with their percentage, so a wobble never reads as a step. matplotlib runs
headless (Agg).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from mlxbench.report.tables import COLUMN_NAMES, Change, Report, format_pct


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plain(value: float, _pos: int) -> str:
    """Tick labels as plain numbers (0.25, 14) instead of 2.5x10^-1."""
    return f"{value:.3g}"


def slug(text: str) -> str:
    """A file-name-safe form of a machine name: ``AMD EPYC (2C+24GB)`` -> ``amd-epyc-2c-24gb``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def history_path(directory: Path, machine: str, backend: str) -> Path:
    """Where the history figure of ``machine`` and ``backend`` goes (the README links to it)."""
    return Path(directory) / f"history-{slug(machine)}-{backend}.png"


def history_figure(report: Report, machine: str, backend: str, path: Path) -> Path:
    plt = _pyplot()
    table = report.history(machine, backend)
    releases = report.releases_of(machine)
    ms_columns = [i for i, c in enumerate(table.columns) if c.kind == "ms"]
    steps = [i + 1 for i in ms_columns[1:]]  # each release's change from the previous one follows its column
    rows = table.rows
    cols = min(6, max(1, len(rows)))
    nrows = math.ceil(len(rows) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.0 * cols, 2.4 * nrows), squeeze=False)
    for ax, row in zip(axes.flat, rows):
        points = [(i, row[c]) for i, c in enumerate(ms_columns) if isinstance(row[c], float)]
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", lw=1.5, color="tab:blue")
        for x, c in enumerate(steps, start=1):
            step = row[c]
            if isinstance(step, Change) and step.beats_noise and isinstance(row[ms_columns[x]], float):
                ax.annotate(
                    format_pct(step),
                    (x, row[ms_columns[x]]),
                    textcoords="offset points",
                    xytext=(0, 6),
                    ha="center",
                    fontsize=7,
                    color="tab:red" if step > 0 else "tab:green",
                )
        ax.set_yscale("log")
        ax.margins(y=0.2)  # room for the labels above the highest point
        ax.yaxis.set_major_formatter(_plain)
        ax.yaxis.set_minor_formatter(_plain)
        ax.set_title(row[0], fontsize=10)
        ax.set_xticks(range(len(releases)))
        ax.set_xticklabels(releases, rotation=45, ha="right", fontsize=7)
        ax.set_xlim(-0.5, len(releases) - 0.5)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(True, which="both", alpha=0.3)
    for ax in list(axes.flat)[len(rows) :]:
        ax.axis("off")
    fig.suptitle(
        f"{report.label(machine)}: {COLUMN_NAMES[backend]} ({backend}), ms per call across MLX releases "
        f"({report.how} mean over variants; missing point = n/a; labelled: changes beyond the noise)",
        fontsize=11,
    )
    fig.supylabel("ms (log scale)", x=0.002)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def backends_figure(report: Report, machine: str, path: Path) -> Path:
    plt = _pyplot()
    release = report.releases_of(machine)[-1]
    table = report.average(machine, release)
    ms_columns = [(i, c.name) for i, c in enumerate(table.columns) if c.kind == "ms"]
    ops = [row[0] for row in table.rows]
    width = 0.8 / max(1, len(ms_columns))
    fig, ax = plt.subplots(figsize=(max(8.0, 0.55 * len(ops) * max(1, len(ms_columns)) / 2), 4.8))
    for k, (col, name) in enumerate(ms_columns):
        xs = [i + (k - (len(ms_columns) - 1) / 2) * width for i in range(len(ops))]
        ys = [row[col] if isinstance(row[col], float) else 0.0 for row in table.rows]
        ax.bar(xs, ys, width=width, label=name)
    ax.set_yscale("log")
    ax.set_xticks(range(len(ops)))
    ax.set_xticklabels(ops, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel(f"ms per call ({report.how} mean over variants, log scale)")
    ax.set_title(f"{report.label(machine)}: backends at mlx {release} (lower is faster; no bar = n/a)")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write(report: Report, directory: Path) -> list[Path]:
    """Every figure for every selected machine; returns the files written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for machine in report.machines:
        if not report.releases_of(machine):
            continue
        for backend in report.backends_of(machine):
            written.append(history_figure(report, machine, backend, history_path(directory, machine, backend)))
        written.append(backends_figure(report, machine, directory / f"backends-{slug(machine)}.png"))
    return written
