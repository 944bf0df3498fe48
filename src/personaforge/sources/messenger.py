"""Facebook Messenger and Instagram direct messages (Download Your Information, JSON).

A thread is a folder (`messages/inbox/<name>_<id>/`) of `message_1.json`,
`message_2.json`…: each file holds `participants`, `title`, `thread_path` and a
slice of `messages`, newest first, `message_1.json` the newest. Each file is
read on its own: messages are put in the order they were sent, and ids come
from `thread_path` and the time sent, so the files of one thread never clash
(a conversation that straddles two files is read as two).

Both exports write UTF-8 as latin-1 escapes (`"Caf\\u00c3\\u00a9"` for "Café"):
every string is turned back into the bytes it stands for and read as UTF-8
(text not of that shape is left alone). The person's messages are those whose
`sender_name` is one of `identity.names`.

Dropped: reactions and likes written as messages ("Reacted ❤ to your
message", "Liked a message"), Messenger's own notices ("You sent an
attachment.", "Anna named the group …", calls; NOTICES below), unsent messages
(`is_unsent`), calls and subscription events (their `type`), and media,
stickers and shares without words.
"""

from __future__ import annotations

import re
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
from personaforge.sources.messaging import Chat, ChatMessage, fix_strings, memories_of

TYPED_KINDS = {"Generic", "Share", "text", None}  # None: no `type` (Instagram, older exports)
# What Messenger and Instagram write as a message's content when nobody typed it. `{who}`
# is "You" or the sender's name.
NOTICES = [
    r"(?:{who} )?[Rr]eacted .{{1,12}} to (?:your|a|their|his|her) message",
    r"(?:{who} )?[Ll]iked a message",
    r"{who} sent an? (?:attachment|photo|video|link|GIF|sticker|voice message|audio clip)",
    r"{who} (?:named the group|changed the group (?:photo|name)|set (?:the|your|his|her) nickname|"
    r"set the (?:emoji|quick reaction)|changed the (?:theme|chat theme)|created the group|"
    r"turned (?:on|off) disappearing messages|pinned a message|unsent a message)\b.*",
    r"{who} (?:added|removed) .* (?:to|from) the group.*",
    r"{who} left the group.*",
    r"{who} (?:started|joined|ended) (?:a |the )?(?:video |audio |voice )?(?:chat|call).*",
    r"(?:{who} )?missed (?:a |your )?(?:video |audio |voice )?call.*",
    r"{who} called you.*",
    r"The (?:video |audio )?(?:chat|call) ended\.?",
    r"This message was unsent\.?",
    r"You are now connected on Messenger\.?",
    r"Say hi to your new Facebook friend.*",
]


def notice_pattern(sender: str) -> re.Pattern[str]:
    who = f"(?:You|{re.escape(sender)})" if sender else "You"
    return re.compile(
        "^(?:" + "|".join(p.format(who=who) for p in NOTICES) + r")\.?\s*$", re.I | re.S
    )


def _field(message: dict[str, Any], *names: str) -> Any:
    return next((message[name] for name in names if message.get(name) is not None), None)


def read_message(message: dict[str, Any], index: int, seen: dict[int, int]) -> ChatMessage | None:
    """One message, or None when nobody typed it."""
    if message.get("is_unsent") or message.get("isUnsent"):
        return None
    if message.get("type") not in TYPED_KINDS:
        return None
    sender = str(_field(message, "sender_name", "senderName") or "")
    text = _field(message, "content", "text")
    if not isinstance(text, str) or notice_pattern(sender).match(text.strip()):
        return None
    stamp = _field(message, "timestamp_ms", "timestamp")
    when = to_iso(stamp / 1000) if isinstance(stamp, int | float) else None
    key = int(stamp) if isinstance(stamp, int | float) else -index
    order = seen.get(key, 0)
    seen[key] = order + 1
    return ChatMessage(f"{key}/{order}", sender or "?", text, when)


def _ordered(dicts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Oldest first (the export is newest first); a message without a time keeps its place."""

    def sent(message: dict[str, Any]) -> float:
        stamp = _field(message, "timestamp_ms", "timestamp")
        return float(stamp) if isinstance(stamp, int | float) else 0.0

    return sorted(reversed(dicts), key=sent)


def parse(file: SourceFile, settings: IngestSettings) -> Parsed:
    data = load_json(file)
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        raise SkipFile("not a Messenger or Instagram export (expected an object with messages)")
    data = fix_strings(data)
    parsed = Parsed(people=People(key="name"))
    title = str(data.get("title") or data.get("threadName") or file.path.parent.name)
    thread = str(data.get("thread_path") or data.get("threadPath") or title)
    label = "instagram" if "instagram" in file.relative.lower() else "messenger"
    messages, seen = [], {}
    parsed.bad += [
        f"message {index}: not an object"
        for index, message in enumerate(data["messages"])
        if not isinstance(message, dict)
    ]
    dicts = [message for message in data["messages"] if isinstance(message, dict)]
    for index, message in enumerate(_ordered(dicts)):
        read = read_message(message, index, seen)
        if read is not None:
            messages.append(read)
    chat = Chat(label, f"{label}:{thread}", title, messages)
    parsed.memories = memories_of([chat], parsed.people, settings.chat_gap_hours, mtime_iso(file))
    return parsed


def _sniff(name: str, head: bytes) -> bool:
    return (
        name.endswith(".json")
        and b'"participants"' in head
        and (b'"sender_name"' in head or b'"senderName"' in head or b'"thread_path"' in head)
    )


SOURCE = Source(
    name="messenger",
    description="Facebook Messenger and Instagram message_N.json (Download Your Information)",
    extensions=(".json",),
    sniff=_sniff,
    parse=parse,
    messaging=True,
)
