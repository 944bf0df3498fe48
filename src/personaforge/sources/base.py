"""What every source parser shares: the file handed in, the result handed back, helpers.

A parser is a plain function `parse(file, settings) -> Parsed`. It raises
`SkipFile(reason)` when the whole file is unusable (not UTF-8, not JSON, wrong
shape); a bad record inside an otherwise good file is counted in `Parsed.bad`
with its reason and the rest is kept. In a JSONL file every line is a record:
a line that is not UTF-8, not JSON or nested too deeply costs that line only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from personaforge.config import IngestSettings
from personaforge.sources.identity import People
from personaforge.store import MemoryDraft


class SkipFile(Exception):
    """The whole file cannot be ingested; the message is the reason shown to the user."""


@dataclass(frozen=True)
class SourceFile:
    path: Path  # absolute
    relative: str  # posix path relative to the folder the user named (for titles and display)
    data: bytes
    mtime: float  # seconds since the epoch


@dataclass
class Parsed:
    memories: list[MemoryDraft] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)  # one reason per skipped record
    warnings: list[str] = field(default_factory=list)  # kept, but the user should know
    # Messaging and mail: who wrote in the file; speakers are set by identity.resolve.
    people: People | None = None


@dataclass(frozen=True)
class Source:
    """A registered source format."""

    name: str
    description: str
    extensions: tuple[str, ...]  # lower-case, with the dot
    sniff: Callable[[str, bytes], bool]  # (lower-case file name, first bytes) -> is it mine?
    parse: Callable[[SourceFile, IngestSettings], Parsed]
    # Messages have authors: which are the person's is decided by the identity.* settings
    # (identity.resolve), so reading it again is due when those settings change.
    messaging: bool = False


def decode_text(data: bytes, cut_end: bool = False) -> str:
    """UTF-8 (a BOM is dropped), with CRLF and CR line ends made LF.

    `cut_end`: a file that ends inside a multi-byte character (a copy or a write
    cut short) loses that character, not the whole file.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if cut_end and exc.reason == "unexpected end of data" and exc.end == len(data):
            return decode_text(data[: exc.start])
        raise SkipFile(
            f"not UTF-8 (byte {exc.start}: {data[exc.start : exc.start + 1]!r})"
        ) from None
    if "\x00" in text:
        raise SkipFile("binary content (NUL bytes)")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def load_json(file: SourceFile) -> Any:
    try:
        return json.loads(decode_text(file.data))
    except json.JSONDecodeError as exc:
        raise SkipFile(f"not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except RecursionError:
        raise SkipFile("JSON nested too deeply to read") from None


def _json_line(raw: bytes) -> tuple[Any, str | None]:
    """(value, None) for a readable JSON line, or (None, why it is not)."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 (byte {exc.start})"
    if "\x00" in line:
        return None, "binary content (NUL bytes)"
    try:
        return json.loads(line), None
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON ({exc.msg})"
    except RecursionError:
        return None, "JSON nested too deeply"


def iter_jsonl(file: SourceFile, parsed: Parsed) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for each JSON object line; bad lines are counted in `parsed.bad`.

    Lines are decoded one by one, so a session killed in the middle of a multi-byte
    character, or one stray binary line, costs that line and not the whole file.
    A file where no line at all is readable is not JSONL: it is skipped whole.
    """
    data = file.data.removeprefix(b"\xef\xbb\xbf")
    rows = []
    bad_before = len(parsed.bad)
    for number, raw in enumerate(data.replace(b"\r\n", b"\n").split(b"\n"), start=1):
        if not raw.strip():
            continue
        value, problem = _json_line(raw)
        if problem is None and not isinstance(value, dict):
            problem = "not a JSON object"
        if problem is not None:
            parsed.bad.append(f"line {number}: {problem}")
            continue
        rows.append((number, value))
    if not rows and len(parsed.bad) > bad_before:
        raise SkipFile(f"no readable JSONL record ({parsed.bad[bad_before]})")
    return rows


_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def to_iso(value: Any) -> str | None:
    """Normalise a timestamp to ISO 8601, or None when it is not one.

    Accepts datetime/date objects, ISO strings (a trailing Z is UTC) and Unix
    seconds. Zoned times become UTC; a bare date becomes local midnight.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        return datetime(value.year, value.month, value.day).isoformat()
    elif isinstance(value, int | float):
        if not 0 < value < 32503680000:  # before year 3000
            return None
        return datetime.fromtimestamp(value, tz=timezone.utc).isoformat(timespec="seconds")
    elif isinstance(value, str):
        text = value.strip()
        if _ISO_DAY.match(text):
            text += "T00:00:00"
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.isoformat(timespec="seconds")


def mtime_iso(file: SourceFile) -> str:
    return datetime.fromtimestamp(file.mtime, tz=timezone.utc).isoformat(timespec="seconds")


def clean_tags(values: Any) -> list[str]:
    """Tags from a list or a comma/space separated string, without '#', deduplicated in order."""
    if values is None:
        return []
    if isinstance(values, str):
        values = re.split(r"[,\s]+", values)
    if not isinstance(values, list | tuple):
        return []
    tags: list[str] = []
    for value in values:
        if not isinstance(value, str | int):
            continue
        tag = str(value).strip().lstrip("#").strip()
        if tag and tag not in tags:
            tags.append(tag)
    return tags


# Roles as chat exports spell them, to the store's speakers. Others (system, tool) are not turns.
ROLE_TO_SPEAKER = {
    "user": "self",
    "human": "self",
    "self": "self",
    "assistant": "assistant",
    "model": "assistant",
    "claude": "assistant",
    "bot": "assistant",
    "other": "other",
}


@dataclass
class Turn:
    """One turn of a conversation before it becomes a memory."""

    message_id: str
    speaker: str  # self, assistant, other
    text: str
    created_at: str | None


def conversation_memories(
    source_label: str,
    conversation_id: str,
    title: str,
    turns: list[Turn],
    fallback_date: str,
    extra_meta: dict[str, Any] | None = None,
) -> list[MemoryDraft]:
    """A memory per turn, consecutive turns of one speaker merged, with their order in meta.

    The dataset stage rebuilds dialogues from `meta.conversation_id` and `meta.turn`.
    """
    merged: list[Turn] = []
    for turn in turns:
        text = turn.text.strip()
        if not text:
            continue
        if merged and merged[-1].speaker == turn.speaker:
            merged[-1].text += "\n\n" + text
            continue
        merged.append(Turn(turn.message_id, turn.speaker, text, turn.created_at))
    memories = []
    previous_at = fallback_date
    for index, turn in enumerate(merged):
        created_at = turn.created_at or previous_at
        previous_at = created_at
        meta = {
            "conversation_id": conversation_id,
            "conversation_title": title,
            "turn": index,
            "turns": len(merged),
            "format": source_label,
            **(extra_meta or {}),
        }
        memories.append(
            MemoryDraft(
                locator=f"{conversation_id}/{turn.message_id}",
                text=turn.text,
                created_at=created_at,
                title=title,
                tags=[],
                mode="conversation",
                speaker=turn.speaker,
                meta=meta,
            )
        )
    return memories


def short(text: str, limit: int = 80) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class ExportShape:
    """Where a chat export keeps each conversation's parts (ChatGPT and Claude.ai differ only here)."""

    label: str  # the source name
    messages_key: str  # the key whose value holds the messages; a conversation without it is bad
    messages_type: type  # dict (ChatGPT's mapping) or list (Claude's chat_messages)
    id_keys: tuple[str, ...]
    title_key: str
    created_key: str


def parse_conversation_export(
    file: SourceFile,
    data: Any,
    shape: ExportShape,
    turns_of: Callable[[dict[str, Any]], list[Turn]],
) -> Parsed:
    """A list of conversations to memories; a conversation of the wrong shape is a bad record."""
    if not isinstance(data, list):
        raise SkipFile(f"not a {shape.label} export (expected a list of conversations)")
    parsed = Parsed()
    for index, conversation in enumerate(data):
        if not isinstance(conversation, dict) or not isinstance(
            conversation.get(shape.messages_key), shape.messages_type
        ):
            parsed.bad.append(f"conversation {index}: no {shape.messages_key}")
            continue
        conversation_id = next(
            (str(conversation[k]) for k in shape.id_keys if conversation.get(k)), f"index-{index}"
        )
        title = str(conversation.get(shape.title_key) or "Untitled chat")
        started = to_iso(conversation.get(shape.created_key)) or mtime_iso(file)
        try:
            turns = turns_of(conversation)
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            # A conversation of a shape no export has used yet costs that conversation only.
            parsed.bad.append(f"conversation {index}: unreadable ({type(exc).__name__}: {exc})")
            continue
        parsed.memories += conversation_memories(
            shape.label, conversation_id, title, turns, started
        )
    return parsed
