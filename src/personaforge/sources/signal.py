"""Signal chats exported by signal-export (`sigexport`): `<chat name>/data.json`.

Despite its name the file is JSON Lines: one message per line, `{"date",
"sender", "body", "quote", "sticker", "reactions", "attachments", "deleted",
"call", "missed"}`. signal-export writes the owner's messages with `sender`
"Me", so the export names its owner. The chat is the folder's name. (`chat.md`
beside it renders the same messages for reading, with quotes inlined; it is not
read.)

Kept: `body`, without the two trailing spaces signal-export adds for Markdown.
Dropped: `quote` (the message replied to, already a message of its own),
deleted messages, calls, stickers, reactions and attachments.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from personaforge.config import IngestSettings
from personaforge.sources.base import Parsed, Source, SourceFile, iter_jsonl, mtime_iso, to_iso
from personaforge.sources.identity import People
from personaforge.sources.messaging import Chat, ChatMessage, memories_of

OWNER = "Me"  # how signal-export names the owner's messages
SKIP_FLAGS = ("deleted", "call")


def read_message(row: dict[str, Any], seen: dict[str, int]) -> ChatMessage | None:
    if any(row.get(flag) for flag in SKIP_FLAGS):
        return None
    sender, body = row.get("sender"), row.get("body")
    if not isinstance(sender, str) or not isinstance(body, str):
        raise ValueError("needs sender and body")
    when = to_iso(row.get("date"))
    key = when or "undated"
    order = seen.get(key, 0)
    seen[key] = order + 1
    return ChatMessage(f"{key}/{order}", sender, body.rstrip(), when, by_owner=sender == OWNER)


def parse(file: SourceFile, settings: IngestSettings) -> Parsed:
    parsed = Parsed(people=People(key="name", owner_known=True))
    path = PurePosixPath(file.relative)
    title = path.parent.name if len(path.parts) > 1 else file.path.parent.name or "Signal chat"
    messages: list[ChatMessage] = []
    seen: dict[str, int] = {}
    for number, row in iter_jsonl(file, parsed):
        try:
            message = read_message(row, seen)
        except ValueError as exc:
            parsed.bad.append(f"line {number}: {exc}")
            continue
        if message is not None:
            messages.append(message)
    chat = Chat("signal", f"signal:{title}", title, messages)
    parsed.memories = memories_of([chat], parsed.people, settings.chat_gap_hours, mtime_iso(file))
    return parsed


def _sniff(name: str, head: bytes) -> bool:
    return (
        name.endswith(".json") and b'"sender"' in head and b'"body"' in head and b'"quote"' in head
    )


SOURCE = Source(
    name="signal",
    description="Signal chats exported by signal-export (<chat>/data.json, one message per line)",
    extensions=(".json",),
    sniff=_sniff,
    parse=parse,
    messaging=True,
)
