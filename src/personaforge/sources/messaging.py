"""What the messaging and mail parsers share: a chat of messages, and how it becomes memories.

A parser reads its format into `Chat`s (a chat: its stable id, title, and
messages in the order they were sent, each with its author as the export shows
it). `chat_memories` then turns a chat into memories:

- a silence longer than `ingest.chat_gap_hours` starts a new conversation
  (`meta.conversation_id` is the chat id and the time its first message was
  sent, so it stays put when a later export adds messages);
- within a conversation, consecutive messages of one author are joined into one
  memory (a reply typed as four quick messages is one reply);
- every memory keeps its author (`meta.author`, `author_ids`, `author_email`) and
  starts as `other`: `identity.resolve` decides which are the person's.

A message's locator is `<chat id>/<message id>`, and message ids come from the
export (or, where it has none, from the time sent and the order within that
time), so a re-export of the same chat updates its memories instead of
duplicating them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from personaforge.sources.identity import People, author_key
from personaforge.store import MemoryDraft


@dataclass
class ChatMessage:
    id: str  # stable within its chat
    author: str  # as the export shows it
    text: str
    created_at: str | None  # ISO 8601
    author_ids: tuple[str, ...] = ()
    author_email: str = ""
    by_owner: bool = False  # the export itself marks this as its owner's message
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. a mail's subject
    # Others the message reaches, as (key value, shown): a mail's recipients are in its thread.
    present: tuple[tuple[str, str], ...] = ()

    @property
    def merge_key(self) -> str:
        """Who wrote it, for joining one author's consecutive messages."""
        if self.by_owner:
            return "\0owner"
        return self.author_email or (self.author_ids[0] if self.author_ids else self.author)


@dataclass
class Chat:
    format: str  # the source name
    id: str  # stable: the same chat in a later export has the same id
    title: str
    messages: list[ChatMessage] = field(default_factory=list)
    gap_split: bool = True  # mail threads are conversations however long replies take
    join_runs: bool = True  # mail: each mail is its own turn


def _hours_between(earlier: str | None, later: str | None) -> float | None:
    if not earlier or not later:
        return None
    try:
        first, second = datetime.fromisoformat(earlier), datetime.fromisoformat(later)
        return (second - first).total_seconds() / 3600
    except (TypeError, ValueError):  # a zoned and a naive time: no gap is measured
        return None


def conversations(chat: Chat, gap_hours: float) -> list[list[ChatMessage]]:
    """The chat's messages in conversations, split where the silence is longer than the gap."""
    runs: list[list[ChatMessage]] = []
    previous: str | None = None
    for message in chat.messages:
        gap = _hours_between(previous, message.created_at)
        if not runs or (chat.gap_split and gap is not None and gap > gap_hours):
            runs.append([])
        runs[-1].append(message)
        previous = message.created_at or previous
    return runs


def _joined(run: list[ChatMessage], join: bool) -> list[list[ChatMessage]]:
    """Consecutive messages of one author, grouped (each alone when `join` is off)."""
    groups: list[list[ChatMessage]] = []
    for message in run:
        if join and groups and groups[-1][0].merge_key == message.merge_key:
            groups[-1].append(message)
        else:
            groups.append([message])
    return groups


def _meta(chat: Chat, first: ChatMessage, conversation_id: str) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "conversation_id": conversation_id,
        "chat_id": chat.id,
        "conversation_title": chat.title,
        "format": chat.format,
        "author": first.author,
    }
    if first.author_ids:
        meta["author_ids"] = list(first.author_ids)
    if first.author_email:
        meta["author_email"] = first.author_email
    if first.by_owner:
        meta["by_owner"] = True
    meta.update(first.extra)
    return meta


def chat_memories(chat: Chat, gap_hours: float, fallback_date: str) -> list[MemoryDraft]:
    """The chat as memories (see the module docstring); messages without text are left out."""
    chat.messages = [m for m in chat.messages if m.text.strip()]
    memories: list[MemoryDraft] = []
    previous_at = fallback_date
    in_group = _is_group(chat)  # once per chat: it looks at every message
    for run in conversations(chat, gap_hours):
        started = next((m.created_at for m in run if m.created_at), None) or previous_at
        conversation_id = f"{chat.id}@{started}"
        groups = _joined(run, chat.join_runs)
        for turn, group in enumerate(groups):
            first = group[0]
            created_at = first.created_at or previous_at
            previous_at = created_at
            meta = _meta(chat, first, conversation_id)
            meta.update(turn=turn, turns=len(groups), group=in_group)
            if len(group) > 1:
                meta["messages"] = len(group)
            memories.append(
                MemoryDraft(
                    locator=f"{chat.id}/{first.id}",
                    text="\n".join(m.text.strip() for m in group),
                    created_at=created_at,
                    title=chat.title,
                    tags=[],
                    mode="conversation",
                    speaker="self" if first.by_owner else "other",
                    meta=meta,
                )
            )
    return memories


def _is_group(chat: Chat) -> bool:
    """More than two people wrote in it (a chat of two is a conversation, not a group)."""
    return len({m.merge_key for m in chat.messages}) > 2


def count_people(people: People, chat: Chat) -> None:
    """Count who wrote in the chat (for `identity.likely_owner`)."""
    for message in chat.messages:
        meta = {
            "author": message.author,
            "author_ids": message.author_ids,
            "author_email": message.author_email,
        }
        value = author_key(meta, people.key)
        if message.by_owner:
            people.owner_known = True
        if value:
            people.count(chat.id, value, message.author or value)
        for other, shown in message.present:  # in the chat, with no message of their own
            people.chats.setdefault(chat.id, Counter())[(other, shown)] += 0


def memories_of(
    chats: Iterable[Chat], people: People, gap_hours: float, fallback_date: str
) -> list[MemoryDraft]:
    """Every chat's memories, and its authors counted in `people`."""
    memories: list[MemoryDraft] = []
    for chat in chats:
        memories += chat_memories(chat, gap_hours, fallback_date)
        count_people(people, chat)
    return memories


# -- text as exports mangle it ----------------------------------------------------------------


def undo_latin1_mojibake(text: str) -> str:
    """Facebook and Instagram exports write each UTF-8 byte as its own character (\\u00c3\\u00a9
    for é). Encoding as latin-1 gives the bytes back; text that is not of that shape (a
    character above U+00FF, or bytes that are not UTF-8) is returned as it is."""
    if not text or text.isascii():
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def fix_strings(value: Any, fix: Any = undo_latin1_mojibake, depth: int = 0) -> Any:
    """`fix` applied to every string in a JSON value (keys too)."""
    if isinstance(value, str):
        return fix(value)
    if depth > 64:  # deeper than any export nests; left as it is
        return value
    if isinstance(value, list):
        return [fix_strings(item, fix, depth + 1) for item in value]
    if isinstance(value, dict):
        return {fix(str(k)): fix_strings(v, fix, depth + 1) for k, v in value.items()}
    return value
