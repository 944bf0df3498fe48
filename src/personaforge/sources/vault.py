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

Code is fenced, or indented four spaces (or a tab) after a blank line that no
list comes before, as CommonMark reads it.

Only what the person wrote reaches the memory's text. Obsidian markup is taken
off (MARKUP below says what and why): `%% comments %%` and `<!-- -->` are
hidden text and are dropped; a callout (`> [!note] Title`) keeps its title and
body without the marker and the `>`; block ids (`^abc123`) and raw HTML tags
go (the text inside a tag stays); wikilinks and embeds are rewritten as
readable text ([[Target|alias]] -> alias). A split section's own heading goes
to `meta.heading_path` and the locator, not into its text. Code, fenced or
inline, is never rewritten and never yields tags.

A memory's locator is `<vault folder name>/<path inside the vault>#Heading`:
the vault is the nearest folder holding `.obsidian` (else the folder given to
ingest), so ids and the eval split stay put when the vault folder moves.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from personaforge.config import IngestSettings
from personaforge.sources import highlights
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
VAULT_MARKER = ".obsidian"  # the folder Obsidian keeps in a vault's root
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
# libyaml's loader when PyYAML was built with it: same YAML, about 10x faster to parse, and
# frontmatter parsing was a quarter of a full vault ingest (bench/ingest.py, 2,000 notes).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
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
_WIKILINK = r"(!?)\[\[([^\]\n|]*)(?:\|([^\]\n]*))?\]\]"
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


# -- code stays code ---------------------------------------------------------------------


def mask_code_blocks(text: str) -> str:
    """The text with fenced code blocks blanked (same length, newlines kept)."""
    return "".join(
        re.sub(r"[^\n]", " ", chunk) if code else chunk for code, chunk in split_fenced(text)
    )


_QUOTE_MARKERS = re.compile(r"^(?:[ \t]{0,3}>[ \t]?)+")


def _dequote(line: str) -> str:
    """The line without its blockquote markers: a fence inside a quote is still a fence."""
    return _QUOTE_MARKERS.sub("", line, count=1) if ">" in line[:8] else line


def _fence_opener(line: str) -> str | None:
    opener = _FENCE.match(_dequote(line))
    return opener.group(1)[0] * 3 if opener else None


_INDENTED = re.compile(r"^(?: {4}|\t)")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s")


def _may_hold_code(text: str) -> bool:
    """A fence, or a line indented four spaces or a tab (an indented code block's)."""
    return (
        "```" in text
        or "~~~" in text
        or "\n    " in text
        or "\n\t" in text
        or text.startswith(("    ", "\t"))
    )


class _IndentedCode:
    """CommonMark's indented code block: lines indented four spaces (or a tab) after a blank
    line, unless a list item or a list's indented text comes before the blank line."""

    def __init__(self) -> None:
        self.open = False
        self.blank_before = True
        self.previous = ""  # the last non-blank line of prose

    def step(self, line: str) -> bool:
        """Is this line (outside fences) indented code?"""
        blank = not line.strip()
        if blank:
            code = self.open  # a blank line inside the block belongs to it
        elif _INDENTED.match(line):
            code = self.open or (
                self.blank_before
                and not (_LIST_ITEM.match(self.previous) or self.previous.startswith((" ", "\t")))
            )
        else:
            code = False
        self.open = code  # a blank line is code exactly when the block is open
        if not blank and not code:
            self.previous = line
        self.blank_before = blank
        return code


def split_fenced(text: str) -> list[tuple[bool, str]]:
    """The text in runs of code (True: fenced, or indented four spaces after a blank line) and
    of everything else (False).

    Joined, the runs are the text again. An unclosed fence runs to the end.
    """
    if not _may_hold_code(text):
        return [(False, text)]  # most prose holds no code: skip the per-line scan
    runs: list[tuple[bool, list[str]]] = []
    fence: str | None = None
    indented = _IndentedCode()
    for line in text.split("\n"):
        opener = _fence_opener(line)
        in_code = fence is not None or opener is not None
        if fence is None and opener:
            fence = opener
        elif fence is not None and _dequote(line).lstrip().startswith(fence):
            fence = None
        if not in_code:
            in_code = indented.step(line)
        else:
            indented = _IndentedCode()
        if runs and runs[-1][0] == in_code:
            runs[-1][1].append(line)
        else:
            runs.append((in_code, [line]))
    last = len(runs) - 1
    return [
        (code, "\n".join(lines) + ("\n" if i < last else ""))
        for i, (code, lines) in enumerate(runs)
    ]


def on_prose(text: str, transform: Callable[[str], str]) -> str:
    """`transform` applied to the text between fenced code blocks; the blocks are left as they are."""
    return "".join(chunk if code else transform(chunk) for code, chunk in split_fenced(text))


# Each markup pattern is matched together with inline code, so a match starting inside inline
# code is the code (kept as it is) and never the markup.
_INLINE_CODE = r"(?P<code>`+[^`\n]*`+)"


def _outside_code(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(f"{_INLINE_CODE}|{pattern}", flags)


def _replace_outside_code(
    pattern: re.Pattern[str], replace: Callable[[re.Match[str]], str]
) -> Callable[[str], str]:
    def transform(text: str) -> str:
        return pattern.sub(lambda m: m.group("code") or replace(m), text)

    return transform


# -- Obsidian markup -------------------------------------------------------------------------

_QUOTE = re.compile(r"^[ \t]{0,3}>[ \t]?")
_CALLOUT_HEAD = re.compile(r"^[ \t]*\[![A-Za-z][\w-]*\][+-]?[ \t]*(.*)$")
_CALLOUT_LEFTOVER = re.compile(r"^((?:[ \t]{0,3}>[ \t]?)+)\[![A-Za-z][\w-]*\][+-]?[ \t]*", re.M)
# Nested callouts are unwrapped one level per pass; deeper ones (none in real vaults) keep
# their `>` but lose the marker.
MAX_CALLOUT_DEPTH = 8
HTML_BLOCK_ELEMENTS = (
    "address|article|aside|blockquote|br|center|dd|details|div|dl|dt|figcaption|figure|footer"
    "|h[1-6]|header|hr|li|main|nav|ol|p|pre|section|summary|table|tbody|td|tfoot|th|thead|tr|ul"
)
HTML_INLINE_ELEMENTS = (
    "a|abbr|audio|b|big|cite|code|del|em|font|i|iframe|img|input|ins|kbd|label|mark|picture"
    "|q|s|small|source|span|strike|strong|sub|sup|time|u|var|video|wbr"
)

# The markup taken off prose, in order, and why: (name, triggers, pattern, replacement). A step
# whose triggers are not in the text is skipped: `in` is one C scan, while a pattern is tried at
# every position (a 5 MB note of plain prose parses in 0.2 s instead of 5.8 s).
MARKUP: list[tuple[str, tuple[str, ...], re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    # Obsidian hides %% comments %% when reading; an unclosed one hides the rest of the text.
    (
        "comment",
        ("%%", "<!--"),
        _outside_code(r"[ \t]*(?:%%.*?(?:%%|\Z)|<!--.*?(?:-->|\Z))", re.S),
        lambda m: "",
    ),
    # Scripts and styles are not text at all.
    (
        "html-hidden",
        ("<",),
        _outside_code(r"<(?P<hidden>script|style)\b[^>]*>.*?</(?P=hidden)\s*>", re.S | re.I),
        lambda m: "",
    ),
    # Block-level tags end a line of text; inline ones just go (their text stays).
    (
        "html-block",
        ("<",),
        _outside_code(rf"</?(?:{HTML_BLOCK_ELEMENTS})\b[^<>]*>", re.I),
        lambda m: "\n",
    ),
    (
        "html-inline",
        ("<",),
        _outside_code(rf"</?(?:{HTML_INLINE_ELEMENTS})\b[^<>]*>", re.I),
        lambda m: "",
    ),
    # A block id (^abc123) ends a line: an anchor for links, not words.
    ("block-id", ("^",), _outside_code(r"(?:^|[ \t]+)\^[A-Za-z0-9-]+[ \t]*$", re.M), lambda m: ""),
    # Leftovers of removed tags: no more than one blank line in a row.
    ("blank-lines", ("\n\n",), _outside_code(r"\n[ \t]*\n(?:[ \t]*\n)+"), lambda m: "\n\n"),
]


def _step(
    triggers: tuple[str, ...], pattern: re.Pattern[str], replace: Callable[[re.Match[str]], str]
) -> Callable[[str], str]:
    transform = _replace_outside_code(pattern, replace)
    return lambda text: transform(text) if any(t in text for t in triggers) else text


# (triggers, step) per markup step. Each prose chunk is checked for the triggers (a chunk
# without them is left as it is); the whole text is checked first, so a note holding none
# of a step's triggers skips the fence scan too.
_STEPS = [(triggers, _step(triggers, pattern, replace)) for _, triggers, pattern, replace in MARKUP]


def unwrap_callouts(text: str) -> str:
    """Callouts as plain text: the title line (if any) and the body, without `> [!type]`."""
    for _ in range(MAX_CALLOUT_DEPTH):
        unwrapped = _unwrap_one_level(text)
        if unwrapped == text:
            break
        text = unwrapped
    return on_prose(text, lambda chunk: _CALLOUT_LEFTOVER.sub(r"\1", chunk))


def _unwrap_one_level(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    fence: str | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        opener = _fence_opener(line)
        if fence is not None or opener:
            if fence is None:
                fence = opener
            elif _dequote(line).lstrip().startswith(fence):
                fence = None
            out.append(line)
            continue
        quote = _QUOTE.match(line)
        head = _CALLOUT_HEAD.match(line[quote.end() :]) if quote else None
        if head is None:
            out.append(line)
            continue
        if head.group(1).strip():
            out.append(head.group(1).strip())
        while index < len(lines) and (inner := _QUOTE.match(lines[index])):
            out.append(lines[index][inner.end() :])
            index += 1
    return "\n".join(out)


def strip_markup(text: str) -> str:
    """Prose without comments, HTML tags and block ids; code left exactly as written."""
    for triggers, transform in _STEPS:
        if any(trigger in text for trigger in triggers):
            text = on_prose(text, transform)
    return text


_LINKS = _outside_code(_WIKILINK)


def readable_links(text: str) -> tuple[str, list[str]]:
    """Wikilinks and embeds as readable text, and the link targets; code is left alone."""
    targets: list[str] = []

    def replace(match: re.Match[str]) -> str:
        if match.group("code"):
            return match.group("code")
        embed, target, alias = match.group(2), match.group(3).strip(), match.group(4)
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

    if "[[" not in text:
        return text, targets
    return on_prose(text, lambda chunk: _LINKS.sub(replace, chunk)), targets


def inline_tags(text: str) -> list[str]:
    """#tags in the prose, in order, without '#'; nested tags keep their slashes."""
    if "#" not in text:
        return []
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


# -- where the note is and when it was written -----------------------------------------------


@lru_cache(maxsize=4096)
def _obsidian_root(folder: str) -> str | None:
    """The nearest folder at or above `folder` that holds `.obsidian`, or None."""
    path = Path(folder)
    if (path / VAULT_MARKER).is_dir():
        return folder
    return None if path.parent == path else _obsidian_root(str(path.parent))


def vault_path(file: SourceFile) -> tuple[str, str]:
    """(vault folder name, posix path inside the vault): the same wherever the vault is moved."""
    parts = PurePosixPath(file.relative).parts
    named = file.path.parents[len(parts) - 1] if 0 < len(parts) <= len(file.path.parents) else None
    try:
        found = _obsidian_root(str(file.path.parent))
    except (OSError, RecursionError):
        found = None
    root = Path(found) if found else named or file.path.parent
    try:
        inside = file.path.relative_to(root).as_posix()
    except ValueError:
        inside = file.relative
    return root.name or "vault", inside


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


def sections(body: str) -> list[tuple[list[str], str, str]]:
    """(heading path, heading line, text under it) per heading section; fenced headings ignored.

    The text does not hold the section's own heading line: the heading is the
    section's name (its path goes to the locator and meta), not its content.
    """
    masked = mask_code_blocks(body).split("\n")
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
    section: str, heading_line: str, limit: int
) -> tuple[list[tuple[str, list[str]]], list[str]]:
    """((text, tags) per part of a section, the section's link targets).

    Tags are looked for in the section's heading and in each part with its code
    blanked, so a part that starts inside a long code block finds no tag in it.
    """
    readable, links = readable_links(section)
    readable = readable.strip()
    masked = mask_code_blocks(readable)
    heading_tags = inline_tags(heading_line)
    parts = [
        (readable[start:end].strip(), heading_tags + inline_tags(masked[start:end]))
        for start, end in cut_spans(readable, limit)
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
    body = strip_markup(unwrap_callouts(body))
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
    chunks = [([], "", body.strip())] if len(body) <= settings.split_chars else sections(body)
    for raw_path, heading_line, section in chunks:
        heading_path = [readable_links(heading)[0] for heading in raw_path]
        parts, links = _parts(section, heading_line, settings.max_memory_chars)
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
