"""Markdown / Obsidian notes.

One note becomes one memory, or, when longer than `ingest.split_chars`, one
memory per heading section (the heading path goes in the locator: `path#Work >
Migration`). What a note carries:

- YAML frontmatter: tags, aliases, title, date/created, mode; broken YAML is
  reported and the block is left out of the text rather than the note skipped;
- inline #tags, nested ones too (#work/kestrel), but not inside code fences,
  inline code, URLs, wikilinks or comments, and never a heading's #;
- wikilinks and embeds rewritten as readable text ([[Target|alias]] -> alias);
- the date: frontmatter, then a YYYY-MM-DD (or YYYY/MM/DD folder) in the path,
  then the file's mtime.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import yaml

from personaforge.config import IngestSettings
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
ATTACHMENT_EXTENSIONS = {
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".webp",
    ".svg",
    ".pdf",
    ".mp3",
    ".mp4",
    ".m4a",
    ".wav",
}

_FRONTMATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
# Regions where a '#' is never a tag. Replaced by spaces before tags are looked for.
_NOT_TAG_REGIONS = re.compile(
    r"`+[^`\n]*`+"  # inline code
    r"|<!--.*?-->|%%.*?%%"  # HTML and Obsidian comments
    r"|!?\[\[[^\]\n]*\]\]"  # wikilinks and embeds ([[Note#Heading]])
    r"|\]\([^)\s]*\)"  # markdown link targets ([text](page#anchor))
    r"|<?\b[a-z][a-z0-9+.-]*://[^\s>]*>?"  # URLs with fragments
    r"|&#?\w+;",  # HTML entities (&#35;)
    re.S,
)
_TAG = re.compile(r"(?:^|(?<=[\s(\[,;:!?]))#([^\s#`~!@$%^&*()=+\[\]{}|\\;:'\",.<>?]+)", re.M)
_WIKILINK = re.compile(r"(!?)\[\[([^\]\n|]*)(?:\|([^\]\n]*))?\]\]")
_DAY_IN_NAME = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
_DAY_IN_FOLDERS = re.compile(r"(?:^|/)(\d{4})/(\d{2})/(\d{2})(?:\.[^/]*)?$")


def split_frontmatter(text: str) -> tuple[dict[str, Any], str, str | None]:
    """(frontmatter, body, problem). A broken block is dropped from the body and reported."""
    match = _FRONTMATTER.match(text)
    if not match:
        return {}, text, None
    body = text[match.end() :]
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark else ""
        return {}, body, f"frontmatter is not valid YAML{where}; read the note without it"
    if data is None:
        return {}, body, None
    if not isinstance(data, dict):
        return {}, body, "frontmatter is not a mapping; read the note without it"
    return {str(key): value for key, value in data.items()}, body, None


def mask_code_blocks(text: str) -> str:
    """The text with fenced code blocks blanked (same length, newlines kept)."""
    lines = text.split("\n")
    fence: str | None = None
    for index, line in enumerate(lines):
        opener = _FENCE.match(line)
        if fence is None and opener:
            fence = opener.group(1)[0] * 3
            lines[index] = " " * len(line)
        elif fence is not None:
            if line.lstrip().startswith(fence):
                fence = None
            lines[index] = " " * len(line)
    return "\n".join(lines)


def inline_tags(text: str) -> list[str]:
    """#tags in the prose, in order, without '#'; nested tags keep their slashes."""
    masked = _NOT_TAG_REGIONS.sub(
        lambda m: re.sub(r"[^\n]", " ", m.group(0)), mask_code_blocks(text)
    )
    tags: list[str] = []
    for match in _TAG.finditer(masked):
        tag = match.group(1).strip("/-_")
        if not tag or tag.replace("/", "").isdigit() or tag in tags:  # #2026 and #1 are not tags
            continue
        tags.append(tag)
    return tags


def readable_links(text: str) -> tuple[str, list[str]]:
    """Wikilinks and embeds as readable text, and the link targets."""
    targets: list[str] = []

    def replace(match: re.Match[str]) -> str:
        embed, target, alias = match.group(1), match.group(2).strip(), match.group(3)
        page, _, heading = target.partition("#")
        if page and page not in targets:
            targets.append(page)
        if embed:
            kind = (
                "attachment"
                if any(page.lower().endswith(ext) for ext in ATTACHMENT_EXTENSIONS)
                else "embedded note"
            )
            return f"({kind}: {page})"
        if alias:
            return alias.strip()
        if heading.startswith("^"):  # a block reference reads as its page
            heading = ""
        return f"{page} > {heading}" if page and heading else page or heading

    return _WIKILINK.sub(replace, text), targets


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


def sections(body: str) -> list[tuple[list[str], str]]:
    """(heading path, text) per heading section, headings inside code fences ignored."""
    masked = mask_code_blocks(body).split("\n")
    lines = body.split("\n")
    result: list[tuple[list[str], str]] = []
    stack: list[tuple[int, str]] = []
    current: list[str] = []
    path: list[str] = []
    for index, line in enumerate(lines):
        heading = _HEADING.match(masked[index])
        if heading:
            result.append((path, "\n".join(current)))
            level = len(heading.group(1))
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading.group(2).strip()))
            path = [title for _, title in stack]
            current = [line]
        else:
            current.append(line)
    result.append((path, "\n".join(current)))
    return [(heading_path, text.strip()) for heading_path, text in result if _has_content(text)]


def _has_content(section: str) -> bool:
    """A section holding only its heading line is not a memory."""
    lines = [line for line in section.strip().split("\n") if line.strip()]
    return bool(lines) and not (len(lines) == 1 and _HEADING.match(lines[0]))


def cut_long(text: str, limit: int) -> list[str]:
    """Cut at paragraph breaks (then at spaces) into parts of at most `limit` characters."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for paragraph in text.split("\n\n"):
        while len(paragraph) > limit:
            cut = paragraph.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            if current:
                parts.append(current)
                current = ""
            parts.append(paragraph[:cut].strip())
            paragraph = paragraph[cut:].strip()
        candidate = f"{current}\n\n{paragraph}" if current else paragraph
        if len(candidate) > limit:
            parts.append(current)
            current = paragraph
        else:
            current = candidate
    if current.strip():
        parts.append(current)
    return [part for part in parts if part.strip()]


def _mode(frontmatter: dict[str, Any], tags: list[str], relative: str) -> str:
    declared = frontmatter.get("mode")
    if isinstance(declared, str) and declared in MODES:
        return declared
    folders = {part.lower() for part in relative.split("/")[:-1]}
    if folders & JOURNAL_FOLDERS or {tag.split("/")[0].lower() for tag in tags} & REFLECTIVE_TAGS:
        return "reflection"
    return "observation"


def _json_safe(frontmatter: dict[str, Any]) -> dict[str, Any]:
    keep = {}
    for key, value in frontmatter.items():
        if key in ("tags", "tag", "aliases", "alias", "title", *DATE_KEYS):
            continue
        keep[key] = (
            value if isinstance(value, str | int | float | bool | type(None)) else str(value)
        )
    return keep


def parse(file: SourceFile, settings: IngestSettings) -> Parsed:
    text = decode_text(file.data)
    parsed = Parsed()
    frontmatter, body, problem = split_frontmatter(text)
    if problem:
        parsed.warnings.append(problem)
    if not body.strip():
        return parsed  # an empty note is read and holds no memory
    name = file.relative.rsplit("/", 1)[-1]
    title = str(frontmatter.get("title") or name.rsplit(".", 1)[0]).strip()
    note_tags = clean_tags(frontmatter.get("tags", frontmatter.get("tag")))
    aliases = clean_tags(frontmatter.get("aliases", frontmatter.get("alias")))
    created_at, date_origin = note_date(frontmatter, file.relative)
    created_at = created_at or mtime_iso(file)
    chunks = [([], body.strip())] if len(body) <= settings.split_chars else sections(body)
    for heading_path, section in chunks:
        parts = cut_long(section, settings.max_memory_chars)
        for number, part in enumerate(parts, start=1):
            readable, links = readable_links(part)
            tags = note_tags + [tag for tag in inline_tags(part) if tag not in note_tags]
            locator = str(file.path)
            if heading_path:
                locator += "#" + " > ".join(heading_path)
            if len(parts) > 1:
                locator += f" (part {number})"
            parsed.memories.append(
                MemoryDraft(
                    locator=locator,
                    text=readable,
                    created_at=created_at,
                    title=" > ".join([title, *heading_path]),
                    tags=tags,
                    mode=_mode(frontmatter, tags, file.relative),
                    speaker="self",
                    meta={
                        "path": file.relative,
                        "note": title,
                        "heading_path": heading_path,
                        "links": links,
                        "aliases": aliases,
                        "date_from": date_origin,
                        "frontmatter": _json_safe(frontmatter),
                    },
                )
            )
    return parsed


def _sniff(name: str, head: bytes) -> bool:
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
    "inline_tags",
    "note_date",
    "parse",
    "readable_links",
    "split_frontmatter",
]
