"""DiscordChatExporter JSON exports (one channel or DM per file: `guild`, `channel`, `messages`).

A message's author is `author.id` (and `author.name`, the unique username); the
person's messages are those whose id or username is in `identity.ids`.

Kept: `content` of `Default` and `Reply` messages. Dropped:
- every other type (`RecipientAdd`, `Call`, `ChannelPinnedMessage`,
  `GuildMemberJoin`, `ThreadCreated`…): Discord's notices, not messages;
- bots (`author.isBot`) and interaction responses (`interaction`: a bot's answer
  to someone's slash command);
- forwarded messages (`reference.type` "Forward", `forwardedMessage`): another
  author's words in someone's name;
- attachments, embeds (link previews) and stickers: no words typed.
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

TYPED_KINDS = {"Default", "Reply"}


def is_typed(message: dict[str, Any]) -> bool:
    """A message a person typed in this channel (see the module docstring)."""
    author = message.get("author") if isinstance(message.get("author"), dict) else {}
    reference = message.get("reference") if isinstance(message.get("reference"), dict) else {}
    return (
        message.get("type", "Default") in TYPED_KINDS
        and not author.get("isBot")
        and not message.get("interaction")
        and not message.get("forwardedMessage")
        and reference.get("type") != "Forward"
    )


def chat_title(data: dict[str, Any]) -> str:
    guild = data.get("guild") if isinstance(data.get("guild"), dict) else {}
    channel = data.get("channel") if isinstance(data.get("channel"), dict) else {}
    name = str(channel.get("name") or "channel")
    server = str(guild.get("name") or "")
    if not server or server == "Direct Messages":
        return name
    return f"{server} #{name}"


def parse(file: SourceFile, settings: IngestSettings) -> Parsed:
    data = load_json(file)
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        raise SkipFile("not a DiscordChatExporter export (expected an object with messages)")
    channel = data.get("channel") if isinstance(data.get("channel"), dict) else {}
    parsed = Parsed(people=People(key="id"))
    messages = []
    for index, message in enumerate(data["messages"]):
        author = message.get("author") if isinstance(message, dict) else None
        if not isinstance(author, dict) or not isinstance(message.get("content", ""), str):
            parsed.bad.append(f"message {index}: no author or content")
            continue
        if not is_typed(message):
            continue
        ids = tuple(str(author[key]) for key in ("id", "name") if author.get(key))
        messages.append(
            ChatMessage(
                str(message.get("id") or f"index-{index}"),
                str(author.get("nickname") or author.get("name") or "?"),
                str(message.get("content") or ""),
                to_iso(message.get("timestamp")),
                author_ids=ids,
            )
        )
    chat_id = f"discord:{channel.get('id') or file.path.stem}"
    chat = Chat("discord", chat_id, chat_title(data), messages)
    parsed.memories = memories_of([chat], parsed.people, settings.chat_gap_hours, mtime_iso(file))
    return parsed


def _sniff(name: str, head: bytes) -> bool:
    return (
        name.endswith(".json")
        and b'"guild"' in head
        and b'"channel"' in head
        and b'"messages"' in head
    )


SOURCE = Source(
    name="discord",
    description="DiscordChatExporter JSON (a channel or DM per file)",
    extensions=(".json",),
    sniff=_sniff,
    parse=parse,
    messaging=True,
)
