"""The documentation holds together: the Sphinx site under ``docs/`` builds with warnings as
errors (broken cross-references, missing images, pages outside the toctree), and the README stays
a front door of at most 300 lines whose every relative link reaches a file of the repository, and
a heading of it when the link names one. External links are not fetched."""

from __future__ import annotations

import re
import subprocess
import sys
from itertools import pairwise
from pathlib import Path
from urllib.parse import unquote, urlsplit

from markdown_it import MarkdownIt
from markdown_it.token import Token

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
README_MAX_LINES = 300


def _tokens(text: str) -> list[Token]:
    return MarkdownIt("commonmark").enable("table").parse(text)


def _slug(title: str) -> str:
    """A heading's anchor as GitHub (and MyST's heading anchors) make it."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    """The anchors of every heading of a Markdown file (a repeated title gets -1, -2, …)."""
    tokens = _tokens(path.read_text())
    anchors: set[str] = set()
    for opening, inline in pairwise(tokens):
        if opening.type != "heading_open":
            continue
        title = "".join(t.content for t in inline.children or [] if t.type in ("text", "code_inline"))
        slug, n = _slug(title), 0
        while (slug if n == 0 else f"{slug}-{n}") in anchors:
            n += 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def _links(text: str) -> list[str]:
    """Every link and image target of a Markdown text (code spans and blocks hold none)."""
    targets = []
    for block in _tokens(text):
        for token in block.children or []:
            target = token.attrGet("href") if token.type == "link_open" else token.attrGet("src")
            if token.type in ("link_open", "image") and isinstance(target, str):
                targets.append(target)
    return targets


def _readme_command(marker: str) -> str:
    """What ``.ci/run`` reads: the first line of the fenced block right after the marker."""
    lines = README.read_text().splitlines()
    at = lines.index(f"<!-- {marker} -->")
    assert lines[at + 1].startswith("```"), f"no fenced block right after <!-- {marker} -->"
    return lines[at + 2]


def test_docs_site_builds_with_warnings_as_errors(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "docs", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "index.html").exists()
    for png in (ROOT / "docs").glob("*.png"):
        assert (tmp_path / "_images" / png.name).exists(), f"docs/{png.name} is shown on no page"


def test_readme_is_a_front_door_of_at_most_300_lines():
    lines = README.read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"
    assert _readme_command("ci:run-command").startswith("python3 -m venv .venv")
    assert _readme_command("ci:test-command") == "python -m pytest"


def test_every_relative_link_of_the_readme_resolves():
    broken = []
    links = _links(README.read_text())
    assert links, "the README links nowhere"
    for link in links:
        parts = urlsplit(link)
        if parts.scheme in ("http", "https"):
            continue  # not fetched: no internet here
        assert not parts.scheme and not parts.netloc, f"{link}: not a relative link"
        target = (README.parent / unquote(parts.path)).resolve() if parts.path else README
        if not target.is_relative_to(ROOT):
            broken.append(f"{link}: outside the repository")
        elif not target.is_file():
            broken.append(f"{link}: no such file")
        elif parts.fragment and parts.fragment not in _anchors(target):
            broken.append(f"{link}: no heading #{parts.fragment} in {target.relative_to(ROOT)}")
    assert not broken, "\n".join(broken)
