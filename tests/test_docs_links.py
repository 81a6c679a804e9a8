"""Every relative link and image in README.md and docs/ reaches a file, and every anchor a heading there."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MAX_README_LINES = 250
# `mlxbench publish` writes html/ (gitignored); the README's generated section links a chip page there.
GENERATED = ("html",)

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,}).*?^ {0,3}\1[ \t]*$", re.M | re.S)
CODE_SPAN = re.compile(r"(`+)(?:(?!\1)(?!\n\s*\n).)+?\1", re.S)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^()\s<>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?(?:\s+\"[^\"]*\")?\s*$", re.M)
HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)[ \t#]*$", re.M)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)  # http:, https:, mailto:, ...


def markdown_files(root: Path) -> list[Path]:
    """README.md and every Markdown file under docs/, measurements included."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def without_fences(text: str) -> str:
    """``text`` with its fenced code blocks emptied (a `# comment` there is no heading, a link no link)."""
    return FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)


def links(text: str) -> list[str]:
    """Every link and image target in ``text`` (inline, and reference definitions), outside code."""
    prose = CODE_SPAN.sub(lambda m: "`" * len(m.group(0)), without_fences(text))
    return [m.group(1) for m in LINK.finditer(prose)] + [m.group(1) for m in REFERENCE.finditer(prose)]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: link text kept, lowercase, punctuation but `-` and `_` dropped, spaces to `-`."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(markdown: Path) -> set[str]:
    """The anchors GitHub gives ``markdown``'s headings (a repeated one gets -1, -2, ...)."""
    counts: dict[str, int] = {}
    found: set[str] = set()
    for heading in HEADING.findall(without_fences(markdown.read_text())):
        base = slug(heading)
        repeat = counts.get(base, 0)
        counts[base] = repeat + 1
        found.add(f"{base}-{repeat}" if repeat else base)
    return found


def problem(root: Path, source: Path, target: str) -> str | None:
    """What is wrong with ``target``, linked from ``source``, or None where it resolves."""
    path, _, anchor = target.partition("#")
    resolved = (source.parent / unquote(path)).resolve() if path else source
    name = source.relative_to(root)
    if any(resolved.is_relative_to(root / generated) for generated in GENERATED):
        return None
    if not resolved.exists():
        return f"{name}: {target} -> no such file"
    if anchor and resolved.suffix == ".md" and unquote(anchor) not in anchors(resolved):
        return f"{name}: {target} -> no heading of {resolved.relative_to(root)} makes #{anchor}"
    return None


def broken_links(root: Path, files: list[Path]) -> list[str]:
    """One line per relative link in ``files`` that reaches no file, or no heading for its anchor."""
    found = (
        problem(root, source, target)
        for source in files
        for target in links(source.read_text())
        if not EXTERNAL.match(target)
    )
    return [line for line in found if line]


def test_every_relative_link_in_the_readme_and_docs_resolves():
    files = markdown_files(ROOT)
    assert len(files) > 5 and all(f.exists() for f in files)
    assert broken_links(ROOT, [f.resolve() for f in files]) == []


def test_readme_is_read_in_five_minutes():
    lines = README.read_text().splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines; move detail to docs/"


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("The site", "the-site"),
        ("A robust A/B answer", "a-robust-ab-answer"),
        ("The harness, measured (`tools/harness_bench.py`)", "the-harness-measured-toolsharness_benchpy"),
        ("Why the torch controls still move: the host", "why-the-torch-controls-still-move-the-host"),
        ("See [the docs](docs/x.md) here", "see-the-docs-here"),
    ],
)
def test_anchor_follows_githubs_rule(heading, anchor):
    assert slug(heading) == anchor


def test_a_broken_link_or_anchor_is_found(tmp_path):
    (tmp_path / "other.md").write_text("# Other\n\n## Two words\n\n## Two words\n\n```sh\n# not a heading\n```\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n"
        "[ok](other.md#two-words) [ok too](other.md#two-words-1) [here](#page) ![img](other.md) [site](html/x.html)\n"
        "[gone](missing.md) ![gone](img/missing.png) [bad anchor](other.md#not-a-heading) [bad here](#nowhere)\n"
        "[web](https://example.com/x.md) [mail](mailto:a@b.c) `[code](not-checked.md)`\n\n"
        "```\n[fenced](not-checked-either.md)\n```\n\n"
        "[ref]: gone-too.md\n"
    )
    found = broken_links(tmp_path, [page])
    assert [line.split(" -> ")[0] for line in found] == [
        "page.md: missing.md",
        "page.md: img/missing.png",
        "page.md: other.md#not-a-heading",
        "page.md: #nowhere",
        "page.md: gone-too.md",
    ]
