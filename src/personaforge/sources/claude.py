"""Claude.ai data export: conversations.json (a list of conversations with chat_messages).

When messages name their parent (`parent_message_uuid`), the conversation is
the chain ending at the newest message, so retried and edited branches drop out
as they do for ChatGPT.
"""

from __future__ import annotations

from typing import Any

from personaforge.config import IngestSettings
from personaforge.sources.base import (
    ROLE_TO_SPEAKER,
    ExportShape,
    Parsed,
    Source,
    SourceFile,
    Turn,
    load_json,
    parse_conversation_export,
    to_iso,
)


def message_text(message: dict[str, Any]) -> str:
    blocks = message.get("content")
    if isinstance(blocks, list):
        texts = [
            str(b.get("text") or "")
            for b in blocks
            if isinstance(b, dict) and b.get("type") == "text"
        ]
        if any(text.strip() for text in texts):
            return "\n\n".join(texts)
    return str(message.get("text") or "")


def current_chain(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_id = {str(m["uuid"]): m for m in messages if m.get("uuid")}
    if not messages or not all("parent_message_uuid" in m for m in messages):
        return messages
    newest = max(messages, key=lambda m: str(m.get("created_at") or ""))
    chain, seen = [], set()
    node: dict[str, Any] | None = newest
    while node is not None and str(node.get("uuid")) not in seen:
        seen.add(str(node.get("uuid")))
        chain.append(node)
        node = by_id.get(str(node.get("parent_message_uuid")))
    return list(reversed(chain))


SHAPE = ExportShape("claude", "chat_messages", list, ("uuid",), "name", "created_at")


def _turns(conversation: dict[str, Any]) -> list[Turn]:
    messages = [m for m in conversation["chat_messages"] if isinstance(m, dict)]
    return [
        Turn(
            str(m.get("uuid") or f"m{i}"),
            ROLE_TO_SPEAKER[m["sender"]],
            message_text(m),
            to_iso(m.get("created_at")),
        )
        for i, m in enumerate(current_chain(messages))
        if isinstance(m.get("sender"), str) and m["sender"] in ROLE_TO_SPEAKER
    ]


def parse(file: SourceFile, settings: IngestSettings) -> Parsed:
    return parse_conversation_export(file, load_json(file), SHAPE, _turns)


def _sniff(name: str, head: bytes) -> bool:
    return name.endswith(".json") and b'"chat_messages"' in head


SOURCE = Source(
    name="claude",
    description="Claude.ai export conversations.json",
    extensions=(".json",),
    sniff=_sniff,
    parse=parse,
)
