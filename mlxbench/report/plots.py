"""PNG plots of a report: runtime across releases, the MLX/torch race, and backends at the newest release.

Per series (machine and environment) and backend, one figure of small
multiples (one panel per op, log-scale milliseconds, the releases of the
backend's framework on the x-axis), so a regression is a bump in one panel;
per series and pair of backends on the same kind of device, the same for the
MLX/torch time ratio over the commits; per series, one bar chart of every
backend per op at the newest release. A line is always one series, never two
machines or environments spliced.
Only changes that beat the noise (the history table's verdicts) are annotated
with their percentage, so a wobble never reads as a step. matplotlib runs
headless (Agg).
"""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

from mlxbench.harness.backends import BACKENDS
from mlxbench.report import figure_layout
from mlxbench.report.formatting import COLUMN_NAMES, FRAMEWORK_NAMES, Change, Table, backend_label, format_pct
from mlxbench.report.tables import Report


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plain(value: float, _pos: int) -> str:
    """Tick labels as plain numbers (0.25, 14) instead of 2.5x10^-1."""
    return f"{value:.3g}"


def _plain_between(value: float, pos: int) -> str:
    """Minor tick labels of an axis over several decades: only 2x and 5x a power of ten, so they never crowd."""
    leading = round(value / 10 ** math.floor(math.log10(value))) if value > 0 else 0
    return _plain(value, pos) if leading in (2, 5) else ""


def slug(text: str) -> str:
    """A file-name-safe form of a name, unique to it: ``AMD EPYC (2C+24GB)`` -> ``amd-epyc-2c-24gb-<6 hex>``.

    A name that is already a slug stays as it is; any other gets 6 hex of its
    SHA-256, so names that differ only in case or punctuation never share a page.
    """
    readable = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80]
    if readable == text:
        return readable
    return f"{readable}-{hashlib.sha256(text.encode()).hexdigest()[:6]}".lstrip("-")


def history_path(directory: Path, series: str, backend: str) -> Path:
    """Where the history figure of ``series`` and ``backend`` goes (the README links to it)."""
    return Path(directory) / f"history-{slug(series)}-{backend}.png"


def race_path(directory: Path, series: str, mlx_backend: str, torch_backend: str) -> Path:
    """Where the race figure of ``series`` and one (MLX, torch) backend pair goes."""
    return Path(directory) / f"race-{slug(series)}-{mlx_backend}-{torch_backend}.png"


MAX_TICK_LABELS = 8
"""Tick labels per panel at most: a Mac's history has 60 MLX releases, and 60 labels in a 3-inch panel overlap."""


def _thinned(labels: list[str]) -> list[str]:
    """Every n-th label (the last always) so at most :data:`MAX_TICK_LABELS` show; the others blank."""
    step = math.ceil(len(labels) / MAX_TICK_LABELS)
    last = len(labels) - 1
    return [label if i == last or (i % step == 0 and last - i >= step) else "" for i, label in enumerate(labels)]


def _over_time_figure(table: Table, path: Path, title: str, ylabel: str, reference: float | None = None) -> Path:
    """Small multiples of a history or race table: one panel per op, its value columns on a log scale.

    A label marks each change that beat the noise (the table's verdicts), red
    where the value grew, green where it shrank; ``reference`` draws a
    horizontal line (a race's 1.0x: both frameworks equally fast) in the
    panels whose values reach it.
    """
    plt = _pyplot()
    values = [i for i, c in enumerate(table.columns) if c.kind in ("ms", "ratio", "count")]
    labels = [table.columns[i].name for i in values]
    steps = [i + 1 for i in values[1:]]  # each column's change from the previous one follows it
    rows = table.rows
    shown, ticks = _thinned(labels), figure_layout.TICK_POINTS
    fig, axes = figure_layout.small_multiples(plt, len(rows), title, ylabel, labels)
    for ax, row in zip(axes, rows):
        points = [(i, row[c]) for i, c in enumerate(values) if isinstance(row[c], float)]
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", lw=1.5, color="tab:blue")
        for x, c in enumerate(steps, start=1):
            step = row[c]
            if isinstance(step, Change) and step.beats_noise and isinstance(row[values[x]], float):
                ax.annotate(
                    format_pct(step),
                    (x, row[values[x]]),
                    textcoords="offset points",
                    xytext=(0, 6),
                    ha="center",
                    fontsize=7,
                    color="tab:red" if step > 0 else "tab:green",
                )
        ax.set_yscale("log")
        ax.margins(y=0.2)  # room for the labels above the highest point
        ax.yaxis.set_major_formatter(_plain)
        low, high = ax.get_ylim()
        ax.yaxis.set_minor_formatter(_plain if high < 3 * low else _plain_between)  # wider: 2-9x would crowd
        ax.set_title(row[0], fontsize=figure_layout.PANEL_TITLE_POINTS, y=1.0)  # placed: no search for room
        ax.set_xticks([i for i, label in enumerate(shown) if label])
        ax.set_xticklabels([label for label in shown if label], rotation=45, ha="right", fontsize=ticks)
        ax.set_xlim(-0.5, len(labels) - 0.5)
        ax.tick_params(axis="y", labelsize=ticks)
        ax.grid(True, axis="y", which="both", alpha=0.3)
        # a grid line at every release, labelled or not: one artist, where a tick per release costs a second
        ax.vlines(range(len(labels)), 0, 1, transform=ax.get_xaxis_transform(), colors="#b0b0b0", lw=0.8, alpha=0.3)
        if reference is not None and low <= reference <= high:  # never stretch a panel to reach the line
            ax.axhline(reference, color="grey", lw=0.8, ls="--")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def counted_path(directory: Path, series: str, backend: str) -> Path:
    """Where the counted-instructions figure of ``series`` and ``backend`` goes."""
    return Path(directory) / f"counted-{slug(series)}-{backend}.png"


def counted_figure(report: Report, series: str, backend: str, path: Path) -> Path:
    framework = FRAMEWORK_NAMES[BACKENDS[backend].framework]
    return _over_time_figure(
        report.counted(series, backend),
        path,
        f"{report.label(series)}: {backend_label(backend)}, instructions per call counted by callgrind across "
        f"{framework} releases ({report.how} mean over variants; labelled: changes beyond 0.1%)",
        "millions of instructions (log scale)",
    )


def history_figure(report: Report, series: str, backend: str, path: Path) -> Path:
    framework = FRAMEWORK_NAMES[BACKENDS[backend].framework]
    return _over_time_figure(
        report.history(series, backend),
        path,
        f"{report.label(series)}: {backend_label(backend)}, ms per call across {framework} releases "
        f"({report.how} mean over variants; missing point = n/a; labelled: changes beyond the noise)",
        "ms (log scale)",
    )


def race_figure(report: Report, series: str, mlx_backend: str, torch_backend: str, path: Path) -> Path:
    mlx, torch = COLUMN_NAMES[mlx_backend], COLUMN_NAMES[torch_backend]
    return _over_time_figure(
        report.race(series, mlx_backend, torch_backend),
        path,
        f"{report.label(series)}: t_{mlx} / t_{torch} across the timeline, {report.mode(series)} mode "
        f"(above 1: MLX slower; {report.how} mean over variants; labelled: changes beyond the noise)",
        f"{mlx} time / {torch} time (log scale)",
        reference=1.0,
    )


def backends_figure(report: Report, series: str, path: Path) -> Path:
    """Every backend's time per op at the series' newest release, as grouped bars on a log scale."""
    plt = _pyplot()
    release = report.releases_of(series)[-1]
    table = report.average(series, release)
    ms_columns = [(i, c.name) for i, c in enumerate(table.columns) if c.kind == "ms"]
    ops = [row[0] for row in table.rows]
    width = 0.8 / max(1, len(ms_columns))
    fig, ax = figure_layout.single(
        plt,
        f"{report.label(series)}: backends at {report.stack(series, release)} (lower is faster; no bar = n/a)",
        f"ms per call ({report.how} mean over variants, log scale)",
        ops,
        max(6.5, 0.55 * len(ops) * max(1, len(ms_columns)) / 2),
        4.2,
    )
    for k, (col, name) in enumerate(ms_columns):
        xs = [i + (k - (len(ms_columns) - 1) / 2) * width for i in range(len(ops))]
        ys = [row[col] if isinstance(row[col], float) else 0.0 for row in table.rows]
        ax.bar(xs, ys, width=width, label=name)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(_plain)
    ax.yaxis.set_minor_formatter(_plain_between)
    ax.set_xticks(range(len(ops)))
    ax.set_xticklabels(ops, rotation=45, ha="right", fontsize=figure_layout.TICK_POINTS + 1)
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write(report: Report, directory: Path) -> list[Path]:
    """Every figure for every selected series; returns the files written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for series in report.series:
        if not report.releases_of(series):
            continue
        for backend in report.backends_of(series):
            written.append(history_figure(report, series, backend, history_path(directory, series, backend)))
        for backend in report.counted_backends(series):
            written.append(counted_figure(report, series, backend, counted_path(directory, series, backend)))
        for race in report.races(series):
            written.append(race_figure(report, series, *race, race_path(directory, series, *race)))
        written.append(backends_figure(report, series, directory / f"backends-{slug(series)}.png"))
    return written
