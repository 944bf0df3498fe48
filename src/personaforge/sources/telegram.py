"""Telegram Desktop exports: `result.json` (Settings > Advanced > Export Telegram data, JSON).

A full export holds `personal_information` (the owner: `user_id`) and
`chats.list` (and `left_chats.list`); a single chat exported alone is one chat
object (`name`, `type`, `id`, `messages`). A message's author is `from_id`
(`user123456789`); the owner's messages are those whose `from_id` is `user` +
`personal_information.user_id`, or, for a single chat, whose author matches the
identity settings. `text` is a string or a list of strings and entity objects
(`{"type": "bold", "text": …}`); the entities' text is kept as plain text.

Dropped, because the author did not write them:
- service messages (`type: service`: calls, joins, pins, title changes);
- forwarded messages (`forwarded_from`: they come "from" the forwarder);
- messages sent through an inline bot (`via_bot`: @gif, @wiki… send "from" you);
- messages saved from elsewhere into Saved Messages (`saved_from`);
- quoted text (`blockquote` entities);
- channels (posts to an audience, not a conversation).
Media, stickers, polls and locations carry no words; a caption is kept.
"""

from __future__ import annotations

from typing import Any

from personaforge.config import IngestSettings
from personaforge.sources.base import (
    Parsed,
    SkipFile,
    Source,
    SourceFile,
    load_json,
    mtime_iso,
    to_iso,
)
from personaforge.sources.identity import People
from personaforge.sources.messaging import Chat, ChatMessage, memories_of

# Keys that mark a message as someone else's words, and why (docs/ingest.md lists them).
NOT_WRITTEN_HERE = {
    "forwarded_from": "forwarded: written by someone else",
    "via_bot": "sent through an inline bot: the bot's content",
    "saved_from": "saved from another chat",
}
CHANNEL_TYPES = {"public_channel", "private_channel"}
QUOTE_ENTITIES = {"blockquote"}


def entity_text(part: Any) -> str:
    if isinstance(part, str):
        return part
    if isinstance(part, dict) and part.get("type") not in QUOTE_ENTITIES:
        return str(part.get("text") or "")
    return ""


def message_text(message: dict[str, Any]) -> str:
    text = message.get("text")
    if isinstance(text, list):
        return "".join(entity_text(part) for part in text)
    return text if isinstance(text, str) else ""


def _when(message: dict[str, Any]) -> str | None:
    stamp = message.get("date_unixtime")
    if isinstance(stamp, str) and stamp.isdigit():
        return to_iso(int(stamp))
    return to_iso(message.get("date"))


def read_chat(chat: dict[str, Any], owner: str | None, bad: list[str]) -> Chat:
    """One chat's typed messages; `owner` is the owner's from_id when the export names it.

    A message that is not an object is counted in `bad`.
    """
    fallback = "Saved Messages" if chat.get("type") == "saved_messages" else "Telegram chat"
    title = str(chat.get("name") or fallback)
    messages = []
    for index, message in enumerate(chat.get("messages") or []):
        if not isinstance(message, dict):
            bad.append(f"chat {chat.get('id')} message {index}: not an object")
            continue
        if message.get("type") != "message":
            continue
        if any(message.get(key) for key in NOT_WRITTEN_HERE):
            continue
        from_id = str(message.get("from_id") or "")
        messages.append(
            ChatMessage(
                str(message.get("id")),
                str(message.get("from") or from_id or "deleted account"),
                message_text(message),
                _when(message),
                author_ids=(from_id,) if from_id else (),
                by_owner=owner is not None and from_id == owner,
            )
        )
    return Chat("telegram", f"telegram:{chat.get('id')}", title, messages)


def _chats(data: dict[str, Any], parsed: Parsed) -> list[dict[str, Any]]:
    if isinstance(data.get("messages"), list):  # one chat exported alone
        return [data]
    found = []
    for section in ("chats", "left_chats"):
        listed = data.get(section)
        chats = listed.get("list") if isinstance(listed, dict) else None
        for index, chat in enumerate(chats if isinstance(chats, list) else []):
            if not isinstance(chat, dict) or not isinstance(chat.get("messages"), list):
                parsed.bad.append(f"{section} {index}: no messages")
                continue
            found.append(chat)
    return found


def parse(file: SourceFile, settings: IngestSettings) -> Parsed:
    data = load_json(file)
    if not isinstance(data, dict):
        raise SkipFile("not a Telegram export (expected an object)")
    info = data.get("personal_information")
    user_id = info.get("user_id") if isinstance(info, dict) else None
    owner = f"user{user_id}" if isinstance(user_id, int | str) and str(user_id) else None
    parsed = Parsed(people=People(key="id", owner_known=owner is not None))
    chats = []
    for chat in _chats(data, parsed):
        if chat.get("type") in CHANNEL_TYPES:
            continue
        try:
            chats.append(read_chat(chat, owner, parsed.bad))
        except (TypeError, ValueError, AttributeError) as exc:
            parsed.bad.append(f"chat {chat.get('id')}: unreadable ({type(exc).__name__}: {exc})")
    parsed.memories = memories_of(chats, parsed.people, settings.chat_gap_hours, mtime_iso(file))
    return parsed


def _sniff(name: str, head: bytes) -> bool:
    return name.endswith(".json") and (
        b'"personal_information"' in head
        or (b'"from_id"' in head and b'"date_unixtime"' in head)
        or (b'"type": "personal_chat"' in head or b'"type":"personal_chat"' in head)
    )


SOURCE = Source(
    name="telegram",
    description="Telegram Desktop export result.json (all chats or one)",
    extensions=(".json",),
    sniff=_sniff,
    parse=parse,
    messaging=True,
)
