"""Highlight notes that Readwise, the Kindle plugin and Hypothesis write into a vault.

Such a note is mostly someone else's words: the passages the person marked in a
book or an article. Read as a note, every highlight would be trained as her
voice. The exporters' default templates, as their code writes them:

    Readwise     # Title / ## Metadata (- Author: …) / ## Highlights
                 - passage ([Location 123](https://readwise.io/to_kindle?…))
                     - Note: her note            - Tags: [[tag]]
    Kindle       frontmatter `kindle-sync:` / # Title / ## Metadata / ## Highlights
                 passage — location: [123](kindle://book?…) ^ref-4567
                 (her note, when she wrote one)
                 ---
    Hypothesis   # Title / ## Metadata (- Author:: …) / ## Highlights
                 - passage — [Updated on 2024-01-02](https://hyp.is/…)
                   - Annotation: her note        - Tags: #tag

A note is one of these when it has a Highlights heading and the exporter's mark
(EXPORTERS). Then `split` gives her words (notes, annotations, and any section
of her own) and the passages (someone else's, stored with speaker `other`);
the Metadata section is neither.
"""

from __future__ import annotations

import re
from typing import Any

# Exporter: what in the frontmatter or the body marks its notes.
EXPORTERS: dict[str, re.Pattern[str]] = {
    "readwise": re.compile(r"readwise\.io/|!\[rw-book-cover\]|#readwise\b", re.I),
    "kindle": re.compile(r"kindle://book|\bkindle-sync\b", re.I),
    "hypothesis": re.compile(r"hyp\.is/|hypothes\.is/|#hypothesis\b", re.I),
}
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_HIGHLIGHTS = re.compile(r"^(?:highlights|annotations|notes and highlights)$", re.I)
_METADATA = re.compile(r"^(?:metadata|book info|info)$", re.I)
_BULLET = re.compile(r"^(?P<indent>[ \t]*)[-*+][ \t]+(?P<text>.*)$")
_NOTE_LABEL = re.compile(
    r"^(?:\*\*)?(?:Note|Annotation|Comment)s?(?:\*\*)?\s*:{1,2}(?:\*\*)?\s*(?P<text>.*)$", re.I
)
_TAGS_LABEL = re.compile(r"^(?:\*\*)?Tags?(?:\*\*)?\s*:{1,2}", re.I)
# Where a passage came from, appended by the exporters: links, locations, block ids.
_SOURCE_MARKS = re.compile(
    r"\s*\(\[(?:Location|Page|View Highlight)[^\]]*\]\([^)]*\)\)"
    r"|\s*—\s*location:\s*\[[^\]]*\]\([^)]*\)"
    r"|\s*—\s*\[Updated on [^\]]*\]\([^)]*\)"
    r"|\s+\^ref-[\w-]+\s*$",
    re.I,
)


_COVER = re.compile(r"!\[[^\]]*\]\([^)]*\)")


def exporter(frontmatter: dict[str, Any], body: str) -> str | None:
    """Which exporter wrote this note, or None for a note of her own."""
    if not any(
        _HIGHLIGHTS.match(m.group(2).strip()) for m in map(_HEADING.match, body.split("\n")) if m
    ):
        return None
    marks = " ".join(str(key) for key in frontmatter) + " " + str(frontmatter.get("tags", ""))
    for name, pattern in EXPORTERS.items():
        if pattern.search(body) or pattern.search(marks):
            return name
    return None


def _sections(body: str) -> list[tuple[str, list[str]]]:
    """(heading, lines) per section; the lines before the first heading have heading ''."""
    found: list[tuple[str, list[str]]] = [("", [])]
    for line in body.split("\n"):
        heading = _HEADING.match(line)
        if heading:
            found.append((heading.group(2).strip(), []))
        else:
            found[-1][1].append(line)
    return found


def _clean(passage: str) -> str:
    return _SOURCE_MARKS.sub("", passage).strip()


def _bullets(lines: list[str]) -> tuple[list[str], list[str]]:
    """(her notes, the passages) of a Readwise or Hypothesis Highlights section."""
    notes: list[str] = []
    passages: list[str] = []
    target: list[str] | None = None  # where continuation lines go
    for line in lines:
        bullet = _BULLET.match(line)
        if bullet and not bullet["indent"]:
            passages.append(_clean(bullet["text"].removeprefix("> ")))
            target = passages
        elif bullet:
            label = _NOTE_LABEL.match(bullet["text"])
            if label:
                notes.append(label["text"].strip())
                target = notes
            elif _TAGS_LABEL.match(bullet["text"]):
                target = None
            elif target is not None:
                target[-1] += "\n" + bullet["text"].strip()
        elif line.strip() and target is not None:
            target[-1] += "\n" + line.strip()
    return [n for n in notes if n], [p for p in passages if p]


def _kindle(lines: list[str]) -> tuple[list[str], list[str]]:
    """(her notes, the passages) of a Kindle plugin Highlights section: blocks between `---`."""
    notes: list[str] = []
    passages: list[str] = []
    for block in re.split(r"(?m)^\s*---\s*$", "\n".join(lines)):
        paragraphs = [p.strip() for p in block.split("\n\n") if p.strip()]
        if not paragraphs:
            continue
        passages.append(_clean(paragraphs[0]))
        notes += paragraphs[1:]  # the template writes her note after the passage
    return notes, [p for p in passages if p]


def split(body: str, kind: str) -> tuple[str, str]:
    """(her own words, the passages she highlighted) of a highlight note."""
    own: list[str] = []
    passages: list[str] = []
    for heading, lines in _sections(body):
        if _METADATA.match(heading):
            continue  # author, title, links: about the source, not words of anyone's
        if _HIGHLIGHTS.match(heading):
            notes, found = (_kindle if kind == "kindle" else _bullets)(lines)
            own += notes
            passages += found
            continue
        text = "\n".join(lines).strip()
        if text and not _COVER.fullmatch(text):  # the title's section holds the cover alone
            own.append(f"{heading}\n{text}" if heading else text)
    return "\n\n".join(own).strip(), "\n\n".join(passages).strip()
