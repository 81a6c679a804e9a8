"""Figures measured on a machine are generated or dated, never typed into prose.

The README once said ReLU −37% from v0.2.0 to v0.21.1 while `mlxbench report`
printed −35%, and that verification takes "about 15 s" (23.5 s measured): prose
does not follow the results. So README.md outside its generated section and the
pages of docs/ (docs/measurements/ holds the dated records) may not state an
op's change, and may state a share of medians or an approximate duration only
in a paragraph that links the dated measurement it comes from.
"""

from __future__ import annotations

import re
from pathlib import Path

from test_docs_links import CODE_SPAN, ROOT, without_fences

from mlxbench.catalog import CATALOG
from mlxbench.report import readme

OP_CHANGE = re.compile(
    rf"\b(?:{'|'.join(sorted(CATALOG, key=len, reverse=True))})\b\W{{0,3}}[-−+]\d+(?:\.\d+)?\s?%"
    r"|\b\d+(?:\.\d+)?\s?%\s(?:faster|slower)\b"
)
"""An op's change or a speedup, as the report prints them (``ReLU −37%``, ``35% faster``): never in prose."""
MEASURED = re.compile(
    r"\b\d+(?:\.\d+)?\s?% of (?:the )?(?:medians|variants|pairs|results)\b"
    r"|(?:\babout|~)\s?\d+(?:\.\d+)?\s?(?:s|ms|min|seconds|minutes|hours?)\b"
)
"""A share of a run's results, or an approximate wall time: a measurement, so it names its dated record."""
DATED = re.compile(r"\]\((?:\.\./)*(?:docs/)?measurements/")


def paragraphs(text: str) -> list[str]:
    """The prose of a Markdown text, paragraph by paragraph, code blocks and spans left out."""
    prose = CODE_SPAN.sub("``", without_fences(text))
    return [p for p in re.split(r"\n\s*\n", prose) if p.strip()]


def drifting(text: str) -> list[str]:
    """Each figure of ``text``'s prose that could drift from what the code prints, with its paragraph's start."""
    found = []
    for paragraph in paragraphs(text):
        figures = OP_CHANGE.findall(paragraph)
        if not DATED.search(paragraph):
            figures += MEASURED.findall(paragraph)
        found += [f"{figure!r} in: {' '.join(paragraph.split())[:80]}" for figure in figures]
    return found


def prose_pages() -> dict[Path, str]:
    """README.md without its generated section, and each page of docs/ (not the dated records under it)."""
    head, rest = (ROOT / "README.md").read_text().split(readme.START, 1)
    pages = {ROOT / "README.md": head + rest.split(readme.END, 1)[1]}
    pages.update({page: page.read_text() for page in sorted((ROOT / "docs").glob("*.md"))})
    return pages


def test_the_drifted_figures_of_issue_31_are_caught():
    assert drifting("From v0.2.0 to v0.21.1: ReLU −37%, LeakyReLU −48%, PReLU −62%.")
    assert drifting("`make bench` verifies every op first (about 15 s), then runs ASV (~25 s).")
    assert drifting("Two runs an hour apart drift (79% of medians within ±10% here).")
    assert not drifting("84% of medians within ±10% ([aa-compare](measurements/README.md)).")  # dated
    assert not drifting("A spread over 25% of the median is flagged; it waits at most 120 s.")  # settings
    assert not drifting("The generated table: `ReLU | 0.162 | -37% |`.")  # code


def test_readme_and_docs_prose_state_no_figure_that_could_drift():
    found = [f"{page.relative_to(ROOT)}: {figure}" for page, text in prose_pages().items() for figure in drifting(text)]
    assert not found, "generate these, link their dated measurement, or leave them out:\n" + "\n".join(found)
