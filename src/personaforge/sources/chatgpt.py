"""ChatGPT data export: conversations.json.

Each conversation is a tree (`mapping`): editing a message starts a new branch,
and the export keeps the abandoned ones. The conversation the user ended with
is the path from `current_node` back to the root; only that path is read.

On that path a turn is a user or assistant message addressed to everyone
(`recipient` "all"). Messages the assistant addressed to a tool (`python` code,
`browser`/`web` searches, `bio` memory writes), `tool` and `system` messages,
and hidden ones are not turns. Voice messages keep their words: their parts
are `audio_transcription` objects (the text) beside audio asset pointers (the
recording, dropped). Citation markers that the web tool leaves in replies
(`\\ue200cite\\ue202turn0search0\\ue201`, older `【3†source】`) are removed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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

# Who a message is for; anything else (python, browser, web, bio, dalle.text2im, ...) is a tool call.
ADDRESSED_TO_EVERYONE = {"all", None}
# Markers the web tool leaves in replies: a private-use-area start (U+E200), fields split by
# U+E202, an end (U+E201); older exports used 【message†source】.
_CITATION = re.compile(r"\ue200[^\ue200\ue201]*\ue201|【[^】\n]{0,80}†[^】\n]{0,80}】")
_PRIVATE_USE = re.compile(r"[\ue200-\ue2ff]")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"[ \t]+([.,;:!?)])")


def _transcription(part: dict[str, Any]) -> str:
    return str(part.get("text") or "")


# What each kind of structured content part contributes to the text; unlisted kinds add nothing:
# audio, video and image asset pointers are the recording or the picture, not words she typed
# (an "(image)" placeholder would be trained as her reply).
PART_TEXT: dict[str, Callable[[dict[str, Any]], str]] = {
    "text": _transcription,
    "audio_transcription": _transcription,
}


def part_text(part: Any) -> str:
    if isinstance(part, str):
        return part
    if isinstance(part, dict):
        reader = PART_TEXT.get(str(part.get("content_type") or ""))
        return reader(part) if reader else ""
    return ""


def strip_citations(text: str) -> str:
    cleaned = _PRIVATE_USE.sub("", _CITATION.sub("", text))
    return _SPACE_BEFORE_PUNCTUATION.sub(r"\1", cleaned) if cleaned != text else text


def message_text(message: dict[str, Any]) -> str:
    """The readable text of a message; other content types (tool output, context) give ''."""
    content = message.get("content")
    if not isinstance(content, dict):
        return ""
    kind = content.get("content_type")
    if kind in ("text", "multimodal_text"):
        parts = content.get("parts") if isinstance(content.get("parts"), list) else []
        texts = [part_text(part) for part in parts]
        return strip_citations("\n".join(text for text in texts if text.strip()))
    if kind == "code":
        return str(content.get("text") or "")
    return ""  # user_editable_context, execution_output, tether_*, thoughts, system_error


def _node_time(node: Any) -> float:
    message = node.get("message") if isinstance(node, dict) else None
    stamp = message.get("create_time") if isinstance(message, dict) else None
    return float(stamp) if isinstance(stamp, int | float) and not isinstance(stamp, bool) else 0.0


def current_path(mapping: dict[str, Any], current_node: Any) -> list[dict[str, Any]]:
    """Nodes from the root to `current_node` (or to the newest leaf when it is missing)."""
    nodes = {str(key): node for key, node in mapping.items() if isinstance(node, dict)}
    if not isinstance(current_node, str) or current_node not in nodes:
        leaves = [key for key, node in nodes.items() if not node.get("children")]
        if not leaves:
            return []
        current_node = max(leaves, key=lambda key: _node_time(nodes[key]))
    path: list[dict[str, Any]] = []
    seen: set[str] = set()
    node_id: Any = current_node
    while isinstance(node_id, str) and node_id in nodes and node_id not in seen:
        seen.add(node_id)
        path.append(nodes[node_id])
        node_id = nodes[node_id].get("parent")
    return list(reversed(path))


def turn_of(node: dict[str, Any]) -> Turn | None:
    """The node's message as a turn, or None when it is not one (see the module docstring)."""
    message = node.get("message")
    if not isinstance(message, dict):
        return None
    author = message.get("author") if isinstance(message.get("author"), dict) else {}
    role = author.get("role")
    metadata = message.get("metadata") if isinstance(message.get("metadata"), dict) else {}
    recipient = message.get("recipient")
    if (
        not isinstance(role, str)
        or role not in ROLE_TO_SPEAKER
        or not isinstance(recipient, str | None)
        or recipient not in ADDRESSED_TO_EVERYONE
        or metadata.get("is_visually_hidden_from_conversation")
    ):
        return None
    return Turn(
        str(message.get("id") or node.get("id")),
        ROLE_TO_SPEAKER[role],
        message_text(message),
        to_iso(message.get("create_time")),
    )


def _turns(conversation: dict[str, Any]) -> list[Turn]:
    path = current_path(conversation.get("mapping") or {}, conversation.get("current_node"))
    return [turn for turn in map(turn_of, path) if turn is not None]


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
