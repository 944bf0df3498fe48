"""ChatGPT data export: conversations.json.

Each conversation is a tree (`mapping`): editing a message starts a new branch,
and the export keeps the abandoned ones. The conversation the user ended with
is the path from `current_node` back to the root; only that path is read.
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


def current_path(mapping: dict[str, Any], current_node: str | None) -> list[dict[str, Any]]:
    """Nodes from the root to `current_node` (or to the newest leaf when it is missing)."""
    if current_node not in mapping:
        leaves = [
            node for node in mapping.values() if isinstance(node, dict) and not node.get("children")
        ]
        if not leaves:
            return []
        current_node = max(leaves, key=lambda n: (n.get("message") or {}).get("create_time") or 0)[
            "id"
        ]
    path: list[dict[str, Any]] = []
    seen: set[str] = set()
    node_id = current_node
    while node_id and node_id in mapping and node_id not in seen:
        seen.add(node_id)
        node = mapping[node_id]
        path.append(node)
        node_id = node.get("parent")
    return list(reversed(path))


def message_text(message: dict[str, Any]) -> str:
    """The readable text of a message; images become '(image)', other content types are dropped."""
    content = message.get("content") or {}
    kind = content.get("content_type")
    if kind in ("text", "multimodal_text"):
        parts = []
        for part in content.get("parts") or []:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and "image" in str(part.get("content_type", "")):
                parts.append("(image)")
        return "\n".join(part for part in parts if part.strip())
    if kind == "code":
        return str(content.get("text") or "")
    return ""  # user_editable_context, browsing displays, tool output


def _turns(conversation: dict[str, Any]) -> list[Turn]:
    turns = []
    for node in current_path(conversation.get("mapping") or {}, conversation.get("current_node")):
        message = node.get("message")
        if not isinstance(message, dict):
            continue
        role = ((message.get("author") or {}).get("role")) or ""
        if role not in ROLE_TO_SPEAKER or (message.get("metadata") or {}).get(
            "is_visually_hidden_from_conversation"
        ):
            continue
        turns.append(
            Turn(
                str(message.get("id") or node.get("id")),
                ROLE_TO_SPEAKER[role],
                message_text(message),
                to_iso(message.get("create_time")),
            )
        )
    return turns


SHAPE = ExportShape("chatgpt", "mapping", dict, ("conversation_id", "id"), "title", "create_time")


def parse(file: SourceFile, settings: IngestSettings) -> Parsed:
    data = load_json(file)
    if isinstance(data, dict) and "mapping" in data:  # a single conversation saved on its own
        data = [data]
    return parse_conversation_export(file, data, SHAPE, _turns)


def _sniff(name: str, head: bytes) -> bool:
    return name.endswith(".json") and b'"mapping"' in head


SOURCE = Source(
    name="chatgpt",
    description="ChatGPT export conversations.json (the current branch of each conversation)",
    extensions=(".json",),
    sniff=_sniff,
    parse=parse,
)
