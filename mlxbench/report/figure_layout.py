"""Where a figure's title, labels and panels go: room set aside in inches for the text each one holds.

matplotlib's ``tight_layout`` measures the text by drawing the figure an extra
time (a third of a history figure's cost) and gives up, with a warning, where a
long title leaves the panels no room (a one-op figure). Here the figure is
sized around its text instead: the title wrapped to the figure's width, room
under each panel for its rotated tick labels, beside it for its y tick labels.
Text widths are estimated from character counts (docs/reports.md, "The site").
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from typing import Any

CHAR_INCHES_PER_POINT = 0.6 / 72
"""An average character's width per point of font size: DejaVu Sans' digits and lower case are 0.55-0.63 em."""
LINE_INCHES_PER_POINT = 1.3 / 72
"""A line of text's height per point of font size, its spacing included."""
EDGE = 0.12
"""Blank inches at the figure's edges."""

PANEL_WIDTH, PANEL_HEIGHT = 2.45, 1.55
"""One small multiple's plotting area in inches."""
PANEL_TITLE_POINTS, TICK_POINTS, TITLE_POINTS, YLABEL_POINTS = 10, 7, 11, 12
Y_TICK_CHARS = 6
"""The widest y tick label the panels print (``0.0750``, ``14.2``: three significant digits)."""
MAX_COLUMNS = 6
MIN_WIDTH = 6.0
"""Inches: a figure of one or two panels still gets a title of a few lines."""


def text_width(text: str, points: float) -> float:
    return len(text) * points * CHAR_INCHES_PER_POINT


def wrapped(text: str, width: float, points: float) -> list[str]:
    """``text`` in lines that fit ``width`` inches at ``points``."""
    return textwrap.wrap(text, width=max(10, int(width / (points * CHAR_INCHES_PER_POINT))))


def rotated_height(labels: Sequence[str], points: float) -> float:
    """The height of the longest of ``labels`` rotated by 45 degrees, as tick labels are drawn."""
    longest = max((text_width(label, points) for label in labels), default=0.0)
    return (longest + points * LINE_INCHES_PER_POINT) * math.sqrt(0.5)


def small_multiples(plt: Any, count: int, title: str, ylabel: str, xlabels: Sequence[str]) -> tuple[Any, list[Any]]:
    """A figure of ``count`` panels in rows of up to :data:`MAX_COLUMNS`, under ``title``; its axes, row by row.

    Each panel has room above for its own title and below for ``xlabels``
    rotated; the figure's left edge holds ``ylabel``, shared by every panel.
    """
    cols = min(MAX_COLUMNS, max(1, count))
    rows = math.ceil(max(1, count) / cols)
    left_of_panel = text_width("0" * Y_TICK_CHARS, TICK_POINTS) + 0.15
    above_panel = PANEL_TITLE_POINTS * LINE_INCHES_PER_POINT + 0.1
    below_panel = rotated_height(xlabels, TICK_POINTS) + 0.1
    cell_width = left_of_panel + PANEL_WIDTH + 0.1
    cell_height = above_panel + PANEL_HEIGHT + below_panel
    ylabel_width = YLABEL_POINTS * LINE_INCHES_PER_POINT + EDGE
    width = max(MIN_WIDTH, ylabel_width + cols * cell_width + EDGE)
    lines = wrapped(title, width - 2 * EDGE, TITLE_POINTS)
    title_height = EDGE + len(lines) * TITLE_POINTS * LINE_INCHES_PER_POINT + 0.1
    height = title_height + rows * cell_height + EDGE
    fig = plt.figure(figsize=(width, height))
    fig.suptitle("\n".join(lines), fontsize=TITLE_POINTS, y=1 - EDGE / height, va="top")
    x0 = ylabel_width + (width - ylabel_width - EDGE - cols * cell_width) / 2  # centred where the title widened it
    fig.supylabel(ylabel, x=(x0 - ylabel_width + EDGE) / width, ha="left", fontsize=YLABEL_POINTS)
    axes = []
    for i in range(count):
        row, col = divmod(i, cols)
        left = x0 + col * cell_width + left_of_panel
        bottom = height - title_height - row * cell_height - above_panel - PANEL_HEIGHT
        axes.append(fig.add_axes((left / width, bottom / height, PANEL_WIDTH / width, PANEL_HEIGHT / height)))
    return fig, axes


def single(
    plt: Any, title: str, ylabel: str, xlabels: Sequence[str], plot_width: float, plot_height: float
) -> tuple[Any, Any]:
    """A figure of one plot ``plot_width`` x ``plot_height`` inches, with room for ``title`` (wrapped), ``ylabel``,
    y tick labels and ``xlabels`` rotated; the figure and its axes."""
    left = EDGE + YLABEL_POINTS * LINE_INCHES_PER_POINT + text_width("0" * Y_TICK_CHARS, TICK_POINTS + 1) + 0.25
    below = rotated_height(xlabels, TICK_POINTS + 1) + EDGE + 0.1
    width = left + plot_width + EDGE
    lines = wrapped(title, width - 2 * EDGE, TITLE_POINTS + 1)
    above = EDGE + len(lines) * (TITLE_POINTS + 1) * LINE_INCHES_PER_POINT + 0.1
    height = above + plot_height + below
    fig = plt.figure(figsize=(width, height))
    fig.suptitle("\n".join(lines), fontsize=TITLE_POINTS + 1, y=1 - EDGE / height, va="top")
    ax = fig.add_axes((left / width, below / height, plot_width / width, plot_height / height))
    ax.set_ylabel(ylabel)
    return fig, ax
