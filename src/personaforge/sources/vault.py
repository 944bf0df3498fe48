"""Markdown / Obsidian notes.

One note becomes one memory, or, when longer than `ingest.split_chars`, one
memory per heading section. What a note carries:

- YAML frontmatter: tags, aliases, title, date/created, mode; broken YAML is
  reported and the block is left out of the text rather than the note skipped;
  other keys go to `meta.frontmatter` as JSON values (a list stays a list);
- inline #tags, nested ones too (#work/kestrel), but not inside code fences,
  inline code, URLs, wikilinks or comments, and never a heading's #;
- the date: frontmatter, then a YYYY-MM-DD (or YYYY/MM/DD folder) in the path,
  then the file's mtime.

Highlight notes that Readwise, the Kindle plugin or Hypothesis export into the
vault (highlights.py) are mostly someone else's words: the passages become a
memory of speaker `other` (`#highlights` in the locator), her notes on them a
memory of her own.

Only what the person wrote reaches the memory's text: code, comments, callout markers, HTML
and wikilinks are read by markup.py (what is code, what is taken off prose, and why). A split
section's own heading goes to `meta.heading_path` and the locator, not into its text.

A memory's locator is `<vault folder name>/<path inside the vault>#Heading`:
the vault is the nearest folder holding `.obsidian` (else the folder given to
ingest), so ids and the eval split stay put when the vault folder moves.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from personaforge.config import IngestSettings
from personaforge.sources import highlights, markup
from personaforge.sources.base import (
    Parsed,
    SkipFile,
    Source,
    SourceFile,
    clean_tags,
    decode_text,
    mtime_iso,
    to_iso,
)
from personaforge.sources.markup import (
    inline_tags,
    mask_code_blocks,
    readable_links,
    strip_markup,
    unwrap_callouts,
)
from personaforge.store import MODES, MemoryDraft

# Tags that mark a note as reflective writing rather than an observation.
REFLECTIVE_TAGS = {
    "reflection",
    "insight",
    "learning",
    "decision",
    "review",
    "journal",
    "daily",
    "realization",
}
JOURNAL_FOLDERS = {"journal", "journals", "daily", "dailies", "daily notes", "diary"}
DATE_KEYS = ("date", "created", "created_at", "creation_date", "day")
VAULT_MARKER = ".obsidian"  # the folder Obsidian keeps in a vault's root

_FRONTMATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
# libyaml's loader when PyYAML was built with it: same YAML, about 10x faster to parse, and
# frontmatter parsing was a quarter of a full vault ingest (bench/ingest.py, 2,000 notes).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_DAY_IN_NAME = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
_DAY_IN_FOLDERS = re.compile(r"(?:^|/)(\d{4})/(\d{2})/(\d{2})(?:\.[^/]*)?$")


def split_frontmatter(text: str) -> tuple[dict[str, Any], str, str | None]:
    """(frontmatter, body, problem). A broken block is dropped from the body and reported."""
    match = _FRONTMATTER.match(text)
    if not match:
        return {}, text, None
    body = text[match.end() :]
    try:
        data = yaml.load(match.group(1), Loader=_YAML_LOADER)  # a safe loader: C or Python
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark else ""
        return {}, body, f"frontmatter is not valid YAML{where}; read the note without it"
    except RecursionError:
        return {}, body, "frontmatter is nested too deeply; read the note without it"
    if data is None:
        return {}, body, None
    if not isinstance(data, dict):
        return {}, body, "frontmatter is not a mapping; read the note without it"
    return {str(key): value for key, value in data.items()}, body, None


def json_value(value: Any, depth: int = 0) -> Any:
    """A frontmatter value as JSON: lists stay lists, dates become ISO text (never a Python repr)."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, date | datetime):
        return value.isoformat()
    if depth > 8:  # YAML anchors can nest without end; deeper than any real note goes
        return None
    if isinstance(value, list | tuple | set):
        return [json_value(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {str(key): json_value(item, depth + 1) for key, item in value.items()}
    return str(value)


def as_text(value: Any) -> str:
    """A frontmatter value as the text a person would read: a list is comma-separated."""
    value = json_value(value)
    if isinstance(value, list):
        return ", ".join(as_text(item) for item in value if as_text(item))
    if isinstance(value, dict) or value is None:
        return ""
    return str(value).strip()


# -- where the note is and when it was written -----------------------------------------------


@lru_cache(maxsize=4096)
def _obsidian_root(folder: str) -> str | None:
    """The nearest folder at or above `folder` that holds `.obsidian`, or None."""
    path = Path(folder)
    if (path / VAULT_MARKER).is_dir():
        return folder
    return None if path.parent == path else _obsidian_root(str(path.parent))


@lru_cache(maxsize=4096)
def _root(found: str | None, folder: str, depth: int) -> tuple[str, str]:
    """(root, its name) for a file in `folder`, `depth` parts below the folder given to ingest:
    the `.obsidian` folder's if one was found, else the folder given to ingest."""
    if found:
        return found, Path(found).name
    parents = (Path(folder) / "_").parents  # the file's parents
    root = parents[depth - 1] if 0 < depth <= len(parents) else Path(folder)
    return str(root), root.name


def vault_path(file: SourceFile) -> tuple[str, str]:
    """(vault folder name, posix path inside the vault): the same wherever the vault is moved."""
    folder = str(file.path.parent)
    try:
        found = _obsidian_root(folder)
    except (OSError, RecursionError):
        found = None
    root, name = _root(found, folder, len(PurePosixPath(file.relative).parts))
    path = str(file.path)
    if os.sep == "/" and root != "/" and path.startswith(root + "/"):
        inside = path[len(root) + 1 :]  # what relative_to(root).as_posix() gives, without Paths
    else:
        try:
            inside = file.path.relative_to(root).as_posix()
        except ValueError:
            inside = file.relative
    return name or "vault", inside


def note_date(frontmatter: dict[str, Any], relative: str) -> tuple[str | None, str]:
    """The note's date and where it came from (frontmatter, filename, folders)."""
    for key in DATE_KEYS:
        stamp = to_iso(frontmatter.get(key))
        if stamp:
            return stamp, f"frontmatter:{key}"
    name = relative.rsplit("/", 1)[-1]
    for pattern, origin in ((_DAY_IN_NAME, "filename"), (_DAY_IN_FOLDERS, "folders")):
        match = pattern.search(name if origin == "filename" else relative)
        if match:
            try:
                day = date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
            except ValueError:
                continue
            return to_iso(day), origin
    return None, "mtime"


# -- sections and parts -------------------------------------------------------------------


def sections(body: str, runs: markup.Runs | None = None) -> list[tuple[list[str], str, str]]:
    """(heading path, heading line, text under it) per heading section; fenced headings ignored.

    The text does not hold the section's own heading line: the heading is the
    section's name (its path goes to the locator and meta), not its content.
    """
    masked = mask_code_blocks(body, runs).split("\n")
    lines = body.split("\n")
    result: list[tuple[list[str], str, str]] = []
    stack: list[tuple[int, str]] = []
    current: list[str] = []
    path: list[str] = []
    heading_line = ""
    for index, line in enumerate(lines):
        heading = _HEADING.match(masked[index])
        if heading:
            result.append((path, heading_line, "\n".join(current)))
            level = len(heading.group(1))
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading.group(2).strip()))
            path = [title for _, title in stack]
            heading_line, current = line, []
        else:
            current.append(line)
    result.append((path, heading_line, "\n".join(current)))
    return [(p, h, text.strip()) for p, h, text in result if text.strip()]


def cut_spans(text: str, limit: int) -> list[tuple[int, int]]:
    """(start, end) of parts of at most `limit` characters: whole paragraphs while they fit,
    an over-long paragraph cut at a space (or anywhere, if it has none in the second half).

    One pass over the text with indices and no re-slicing, so a 50 MB note of one
    line costs one scan (48.6 MB: 0.13 s). The old cutter copied the rest of the
    line at every cut, which is quadratic: 49.5 MB took 49.5 s of CPU.
    """
    if len(text) <= limit:
        return [(0, len(text))]
    spans: list[tuple[int, int]] = []
    start = end = -1  # the part being gathered; -1 when there is none
    position = 0
    while position <= len(text):
        found = text.find("\n\n", position)
        stop = len(text) if found < 0 else found
        if stop - position > limit:  # a paragraph too long on its own: cut it at spaces
            if start >= 0:
                spans.append((start, end))
            while stop - position > limit:
                cut = text.rfind(" ", position, position + limit)
                cut = cut if cut > position + limit // 2 else position + limit
                spans.append((position, cut))
                position = cut
            start, end = position, stop
        elif start >= 0 and stop - start <= limit:
            end = stop
        else:
            if start >= 0:
                spans.append((start, end))
            start, end = position, stop
        if found < 0:
            break
        position = found + 2
    if start >= 0:
        spans.append((start, end))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def cut_long(text: str, limit: int) -> list[str]:
    """Cut at paragraph breaks (then at spaces) into parts of at most `limit` characters."""
    return [text[s:e].strip() for s, e in cut_spans(text, limit)]


def _parts(
    section: str, heading_line: str, limit: int, runs: markup.Runs | None = None
) -> tuple[list[tuple[str, list[str]]], list[str]]:
    """((text, tags) per part of a section, the section's link targets).

    Tags are looked for in the section's heading and in each part with its code
    blanked, so a part that starts inside a long code block finds no tag in it.
    `runs` is `markup.split_fenced(section)` when the caller has it already.
    """
    readable, links = readable_links(section, runs)
    readable = readable.strip()
    masked = mask_code_blocks(readable)
    heading_tags = inline_tags(heading_line)
    spans = cut_spans(readable, limit)
    whole = spans == [(0, len(readable))]  # a part's slice of `masked` is masked again
    parts = [
        (readable[start:end].strip(), heading_tags + inline_tags(masked[start:end], whole))
        for start, end in spans
    ]
    # A section of only empty links ([[]], [[|]], [[#]]) reads as nothing: no memory.
    return [(text, tags) for text, tags in parts if text], links


def _mode(frontmatter: dict[str, Any], tags: list[str], inside: str) -> str:
    declared = frontmatter.get("mode")
    if isinstance(declared, str) and declared in MODES:
        return declared
    folders = {part.lower() for part in inside.split("/")[:-1]}
    if folders & JOURNAL_FOLDERS or {tag.split("/")[0].lower() for tag in tags} & REFLECTIVE_TAGS:
        return "reflection"
    return "observation"


def _frontmatter_meta(frontmatter: dict[str, Any]) -> dict[str, Any]:
    skip = {"tags", "tag", "aliases", "alias", "title", *DATE_KEYS}
    return {key: json_value(value) for key, value in frontmatter.items() if key not in skip}


def parse(file: SourceFile, settings: IngestSettings) -> Parsed:
    text = decode_text(file.data)
    parsed = Parsed()
    frontmatter, body, problem = split_frontmatter(text)
    if problem:
        parsed.warnings.append(problem)
    # Markup goes before the note is split, so a heading inside a comment is no heading.
    body, runs = markup.clean(body)
    if not body.strip():
        return parsed  # an empty note is read and holds no memory
    vault, inside = vault_path(file)
    name = inside.rsplit("/", 1)[-1]
    title = as_text(frontmatter.get("title")) or name.rsplit(".", 1)[0].strip()
    note_tags = clean_tags(frontmatter.get("tags", frontmatter.get("tag")))
    aliases = clean_tags(frontmatter.get("aliases", frontmatter.get("alias")))
    created_at, date_origin = note_date(frontmatter, inside)
    created_at = created_at or mtime_iso(file)
    kind = highlights.exporter(frontmatter, body)
    if kind is not None:  # someone else's passages, with her notes between them
        note = _Note(vault, inside, title, note_tags, aliases, created_at, date_origin, frontmatter)
        parsed.memories = highlight_memories(note, body, kind, settings)
        return parsed
    chunks = [([], "", body.strip())] if len(body) <= settings.split_chars else sections(body, runs)
    for raw_path, heading_line, section in chunks:
        heading_path = [readable_links(heading)[0] for heading in raw_path]
        known = runs if section == body else None  # the note's runs, when it is one section
        parts, links = _parts(section, heading_line, settings.max_memory_chars, known)
        for number, (part, found) in enumerate(parts, start=1):
            tags = list(dict.fromkeys(note_tags + found))
            locator = f"{vault}/{inside}"
            if heading_path:
                locator += "#" + " > ".join(heading_path)
            if len(parts) > 1:
                locator += f" (part {number})"
            parsed.memories.append(
                MemoryDraft(
                    locator=locator,
                    text=part,
                    created_at=created_at,
                    title=" > ".join([title, *heading_path]),
                    tags=tags,
                    mode=_mode(frontmatter, tags, inside),
                    speaker="self",
                    meta={
                        "path": inside,
                        "note": title,
                        "heading_path": heading_path,
                        "links": links,
                        "aliases": aliases,
                        "date_from": date_origin,
                        "frontmatter": _frontmatter_meta(frontmatter),
                    },
                )
            )
    return parsed


@dataclass(frozen=True)
class _Note:
    """What every memory of one note shares."""

    vault: str
    inside: str
    title: str
    tags: list[str]
    aliases: list[str]
    created_at: str
    date_origin: str
    frontmatter: dict[str, Any]


def highlight_memories(
    note: _Note, body: str, kind: str, settings: IngestSettings
) -> list[MemoryDraft]:
    """A highlight export (sources/highlights.py) as memories: her notes as `self`, the passages
    she highlighted as `other` (someone else's words: context, never a target)."""
    own, passages = highlights.split(body, kind)
    memories = []
    for speaker, text, suffix in (("self", own, ""), ("other", passages, "#highlights")):
        parts = cut_long(readable_links(text)[0], settings.max_memory_chars) if text else []
        for number, part in enumerate(parts, start=1):
            locator = f"{note.vault}/{note.inside}{suffix}"
            if len(parts) > 1:
                locator += f" (part {number})"
            memories.append(
                MemoryDraft(
                    locator=locator,
                    text=part,
                    created_at=note.created_at,
                    title=note.title,
                    tags=note.tags,
                    mode="observation",
                    speaker=speaker,
                    meta={
                        "path": note.inside,
                        "note": note.title,
                        "heading_path": [],
                        "aliases": note.aliases,
                        "date_from": note.date_origin,
                        "highlights_from": kind,
                        "frontmatter": _frontmatter_meta(note.frontmatter),
                    },
                )
            )
    return memories


# signal-export writes a chat.md beside each chat's data.json ("[2024-03-08 08:30:00] Me: …"):
# a rendering of messages, not a note; the signal source reads data.json instead.
MESSAGE_LOG_NAMES = ("chat.md",)
_MESSAGE_LOG = re.compile(
    rb"\A(?:\xef\xbb\xbf)?\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}(?::\d{2})?\] [^\n:]{1,80}: "
)


def _sniff(name: str, head: bytes) -> bool:
    if name in MESSAGE_LOG_NAMES and _MESSAGE_LOG.match(head):
        return False
    return name.endswith((".md", ".markdown"))


SOURCE = Source(
    name="vault",
    description="Markdown / Obsidian notes (*.md): frontmatter, #tags, wikilinks, split at headings",
    extensions=(".md", ".markdown"),
    sniff=_sniff,
    parse=parse,
)

__all__ = [
    "SOURCE",
    "SkipFile",
    "cut_long",
    "cut_spans",
    "inline_tags",
    "note_date",
    "parse",
    "readable_links",
    "split_frontmatter",
    "strip_markup",
    "unwrap_callouts",
    "vault_path",
]
