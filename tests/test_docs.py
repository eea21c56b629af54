"""The README and docs/: every relative link resolves to a file or heading, and the README stays a front door.

Plain text checks (no toolchain imports): a link is ``[text](target)`` or ``![alt](target)`` outside
code; its target, relative to the file that holds it, must exist inside the repository, and its
``#anchor`` must name a heading of the Markdown file it points to (GitHub's heading ids).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README_MAX_LINES = 300

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,}).*?^ {0,3}\1[ \t]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"<(?:a|img)\b[^>]*?\b(?:href|src)=\"([^\"]+)\"", re.IGNORECASE)
HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # http:, https:, mailto:, ...


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def prose(text: str) -> str:
    """The text without fenced code, inline code and HTML comments (links there are not links)."""
    text = HTML_COMMENT.sub("", FENCE.sub("", text))
    return INLINE_CODE.sub("code", text)


def links(text: str) -> list[str]:
    body = prose(text)
    return LINK.findall(body) + HTML_LINK.findall(body)


def slug(heading: str) -> str:
    """GitHub's heading id: markup dropped, lower case, punctuation removed, spaces to hyphens."""
    heading = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    heading = heading.replace("`", "").lower()
    return re.sub(r"[^\w\- ]", "", heading).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    ids = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text(encoding="utf-8"))):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        ids.add(base if count == 0 else f"{base}-{count}")
    return ids


def broken_links(path: Path) -> list[str]:
    problems = []
    for target in links(path.read_text(encoding="utf-8")):
        if EXTERNAL.match(target) or target.startswith("//"):
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if ROOT not in resolved.parents and resolved != ROOT:
            problems.append(f"{target}: outside the repository")
        elif not resolved.exists():
            problems.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{target}: no heading #{anchor} in {resolved.relative_to(ROOT)}")
    return problems


def test_slug_follows_github():
    assert slug("edge v2 — built for integer kernels (the bundled default)") == \
        "edge-v2--built-for-integer-kernels-the-bundled-default"
    assert slug("Synthetic data (`aio-synth`)") == "synthetic-data-aio-synth"
    assert slug("The bundled model's report") == "the-bundled-models-report"


def test_link_scanner_skips_code_and_reads_images():
    text = "see [a](a.md#x) and ![p](img/p.png)\n`[not](code.md)`\n```\n[nor](fenced.md)\n```\n<!-- [nor](c.md) -->\n"
    assert links(text) == ["a.md#x", "img/p.png"]


@pytest.mark.parametrize("path", doc_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_relative_links_resolve(path):
    assert broken_links(path) == []


def test_docs_exist_and_are_indexed():
    docs = {path.name for path in (ROOT / "docs").glob("*.md")} - {"README.md"}
    assert docs, "docs/ has no pages"
    index = set(links((ROOT / "docs" / "README.md").read_text(encoding="utf-8")))
    readme = set(links((ROOT / "README.md").read_text(encoding="utf-8")))
    for name in docs:
        assert name in index, f"docs/README.md does not link {name}"
        assert f"docs/{name}" in readme, f"README.md's documentation list does not link docs/{name}"


def test_readme_is_a_front_door():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move details to docs/ (at most {README_MAX_LINES})"
