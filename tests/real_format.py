"""Shared by the real-format tests: the fixtures, parsing them, and the markup no target may hold."""

from __future__ import annotations

import re
from pathlib import Path

from personaforge.config import IngestSettings
from personaforge.sources import SOURCES, Parsed, SourceFile
from personaforge.store import Memory, MemoryDraft, memory_id

REAL = Path(__file__).parent / "fixtures" / "real"
CLAUDE_CODE_SESSION = next((REAL / "claude-code").rglob("34abf387-*.jsonl"))
CHATGPT_EXPORT = REAL / "chatgpt" / "conversations.json"
VAULT = REAL / "vault"

# What the person never typed, as it appears in real exports (issue 14, classes 1-2, 4, 6, 8).
MARKUP: dict[str, re.Pattern[str]] = {
    "compaction summary": re.compile(
        r"This session is being continued from a previous conversation"
    ),
    "meta caveat": re.compile(r"Caveat: The messages below were generated"),
    "interrupt marker": re.compile(r"\[Request interrupted by user"),
    "claude code wrapper": re.compile(
        r"</?(?:bash-input|bash-stdout|bash-stderr|command-name|command-message|command-args"
        r"|local-command-stdout|local-command-stderr|task-notification|system-reminder)>"
    ),
    "api error": re.compile(r"API Error"),
    "private-use character": re.compile("[\ue000-\uf8ff]"),
    "citation": re.compile(r"【[^】\n]*†|\bturn\d+(?:search|view|news|image|file)\d+"),
    "asset pointer": re.compile(r"sediment://|file-service://|asset_pointer"),
    "obsidian comment": re.compile(r"%%|<!--"),
    "callout marker": re.compile(r"^[ \t]*(?:>[ \t]*)*\[![A-Za-z][\w-]*\]", re.M),
    "block id": re.compile(r"(?:^|[ \t])\^[A-Za-z0-9-]+[ \t]*$", re.M),
    "raw html": re.compile(
        r"</?(?:div|span|br|kbd|img|details|summary|b|i|font|center|iframe|p)\b[^<>]*>", re.I
    ),
    "python repr": re.compile(r"\['[^'\n]*'(?:, '[^'\n]*')*\]"),
}
_FENCE = re.compile(r"^(?:[ \t]{0,3}>[ \t]?)*? {0,3}(`{3,}|~{3,})")  # quoted code is code
_QUOTE = re.compile(r"^(?:[ \t]{0,3}>[ \t]?)+")
_INLINE_CODE = re.compile(r"`+[^`\n]*`+")


def without_code(text: str) -> str:
    """The text with fenced and inline code blanked: markup inside code is code, and allowed."""
    lines, fence = [], None
    for line in text.split("\n"):
        opener = _FENCE.match(line)
        if fence is None and opener:
            fence = opener.group(1)[0] * 3
            lines.append("")
        elif fence is not None:
            fence = None if _QUOTE.sub("", line).lstrip().startswith(fence) else fence
            lines.append("")
        else:
            lines.append(_INLINE_CODE.sub(" ", line))
    return "\n".join(lines)


def markup_in(text: str) -> list[str]:
    """Names of the markup found in `text` outside code."""
    prose = without_code(text)
    return [name for name, pattern in MARKUP.items() if pattern.search(prose)]


def parse_file(source: str, path: Path, root: Path | None = None, **settings) -> Parsed:
    root = root or path.parent
    file = SourceFile(
        path.resolve(),
        path.resolve().relative_to(root.resolve()).as_posix(),
        path.read_bytes(),
        1_780_000_000.0,
    )
    return SOURCES[source].parse(file, IngestSettings(**settings))


def as_memories(source: str, drafts: list[MemoryDraft]) -> list[Memory]:
    """Drafts as the store would return them (ids from source + locator)."""
    return [
        Memory(
            id=memory_id(source, d.locator),
            source=source,
            locator=d.locator,
            file_path="/fixture",
            created_at=d.created_at,
            title=d.title,
            text=d.text,
            tags=d.tags,
            mode=d.mode,
            speaker=d.speaker,
            meta=d.meta,
            content_hash=d.content_hash(),
            added_at="t",
            updated_at="t",
            deleted_at=None,
        )
        for d in drafts
    ]
