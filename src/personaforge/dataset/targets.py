"""What of a note may be a training target: the person's own words, without quotes or heading markup.

Notes quote other people. On a one-author public vault read as a new user would,
a quarter of the voice targets held text the author quoted from documentation or
other people (`> ` blockquotes), and some held heading markup in the middle of a
reply. So, outside code:

- a blockquote (`> ` lines; Obsidian callouts are unwrapped at ingest) is
  someone else's words: it is never in a target, and goes to the prompt as what
  the note quotes, so her comment on it is the target;
- a heading's markup never reaches a target: a heading in the middle of a note
  stays as a plain line of its words ("## What went well" -> "What went well",
  a setext heading loses its `===` line); the headings a note opens with go to
  the prompt (extract.py).

Code, fenced or indented by four spaces after a blank line, is hers and kept as
written: a `>` or `#` in it is code, not a quote or a heading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_QUOTE = re.compile(r"^ {0,3}(?:(?:[-*+]|\d+[.)]) +)?>")  # "> x", and "- > x" in a list
_QUOTE_MARKERS = re.compile(r"^ {0,3}(?:(?:[-*+]|\d+[.)]) +)?(?: {0,3}> ?)+")
_HEADING = re.compile(r"^ {0,3}#{1,6}(?:[ \t]+|$)(.*?)(?:[ \t]+#+)?[ \t]*$")
_UNDERLINE = re.compile(r"^ {0,3}(?:={2,}|-{2,})[ \t]*$")  # a setext heading's second line
_INDENTED = re.compile(r"^(?: {4}|\t)")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s")


@dataclass(frozen=True)
class Block:
    kind: str  # own, quote or code
    text: str


def blocks(text: str) -> list[Block]:
    """The text in runs of her own lines, quoted lines and code, in order."""
    runs: list[tuple[str, list[str]]] = []
    fence: str | None = None
    previous = ""  # the last non-blank line outside code (is an indented line a list's?)
    blank_before = True
    for line in text.split("\n"):
        opener = _FENCE.match(line)
        if fence is not None:
            kind = "code"
            if line.lstrip().startswith(fence):
                fence = None
        elif opener:
            kind, fence = "code", opener.group(1)[0] * 3
        elif _INDENTED.match(line) and line.strip() and _starts_code(runs, blank_before, previous):
            kind = "code"
        elif _QUOTE.match(line):
            kind = "quote"
        elif not line.strip() and runs and runs[-1][0] in ("quote", "code"):
            kind = runs[-1][0]  # a blank line inside a quote or code block stays with it
        else:
            kind = "own"
        if line.strip() and kind != "code":
            previous = line
        blank_before = not line.strip()
        if runs and runs[-1][0] == kind:
            runs[-1][1].append(line)
        else:
            runs.append((kind, [line]))
    return [Block(kind, "\n".join(lines)) for kind, lines in runs]


def _starts_code(runs: list[tuple[str, list[str]]], blank_before: bool, previous: str) -> bool:
    """An indented line is code when it continues code, or follows a blank line that no
    list item or indented list text comes before (CommonMark's indented code block)."""
    if runs and runs[-1][0] == "code":
        return True
    return blank_before and not (_LIST_ITEM.match(previous) or previous.startswith((" ", "\t")))


def plain_heading(line: str) -> str:
    """A heading line as the words it holds ("## What went well" -> "What went well")."""
    match = _HEADING.match(line)
    return match.group(1).strip() if match else line


def _without_underlines(lines: list[str]) -> list[str]:
    """Lines without setext underlines ("Title" over "=====" is a heading "Title")."""
    return [
        line
        for index, line in enumerate(lines)
        if not (index and lines[index - 1].strip() and _UNDERLINE.match(line))
    ]


def unquote(block: str) -> str:
    return "\n".join(_QUOTE_MARKERS.sub("", line) for line in block.split("\n")).strip()


def own_text(text: str, headings: str = "plain") -> str:
    """The note's target text: quotes out, code as written, and heading lines as their words
    (`headings="plain"`) or left out (`"drop"`, for a paragraph-sized reflection)."""
    kept: list[str] = []
    for block in blocks(text):
        if block.kind == "quote":
            continue
        if block.kind == "own":
            lines = _without_underlines(block.text.split("\n"))
            if headings == "drop":
                lines = [line for line in lines if not _HEADING.match(line)]
            kept.append("\n".join(plain_heading(line) for line in lines))
        else:
            kept.append(block.text)
    lines = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)  # blank lines off the ends; code keeps every character


def quotes(text: str) -> list[str]:
    """The passages the note quotes, without their `>` markers."""
    return [unquote(b.text) for b in blocks(text) if b.kind == "quote" and unquote(b.text)]


def is_code(paragraph: str) -> bool:
    """A paragraph that is a code block, fenced or indented."""
    found = blocks(paragraph.strip("\n"))
    return bool(found) and all(b.kind == "code" or not b.text.strip() for b in found)
