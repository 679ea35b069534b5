"""Comments cite docs/architecture.md or the README by section title; every cited section exists,
and no comment cites a document outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
SOURCES = ("app", "workers", "config", "migrations", "tests", "bench")
# "(docs/architecture.md, Startup)", "(README, Health endpoints; …)": the title runs to ) ; : or ,
CITATION = re.compile(r"\((docs/architecture\.md|README), ([^);:,]+)")


def python_files() -> list[Path]:
    return sorted(p for top in SOURCES for p in (ROOT / top).rglob("*.py"))


def headings(document: Path) -> list[str]:
    return [
        line.lstrip("#").strip()
        for line in document.read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    ]


def flattened(path: Path) -> str:
    """The file's text with line breaks (and comment markers after them) folded to spaces, so a
    citation wrapped over two lines reads as one."""
    return re.sub(r"\s*\n\s*(#\s*)?", " ", path.read_text(encoding="utf-8"))


def test_every_cited_section_exists() -> None:
    titles = {
        "docs/architecture.md": headings(ROOT / "docs" / "architecture.md"),
        "README": headings(ROOT / "README.md"),
    }
    cited = 0
    for path in python_files():
        for document, section in CITATION.findall(flattened(path)):
            cited += 1
            assert any(
                title.startswith(section.strip().strip('"`')) for title in titles[document]
            ), f"{path.relative_to(ROOT)} cites {document}, {section!r}: no such section"
    assert (
        cited >= 15
    )  # at least the ones that replaced citations of a design note outside the repository


def test_no_comment_cites_a_document_outside_the_repository() -> None:
    for path in python_files():
        assert "DESIGN" + " §" not in path.read_text(encoding="utf-8"), path.relative_to(ROOT)
