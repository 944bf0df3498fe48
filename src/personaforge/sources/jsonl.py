"""Generic JSONL chat logs, for tools with no parser of their own.

Either one message per line, `{"role": "user"|"assistant", "content": "...",
"timestamp"?, "conversation_id"?, "id"?}`, or one conversation per line,
`{"messages": [...], "id"?, "title"?}`. The user's turns are the person's.
"""

from __future__ import annotations

from typing import Any

from personaforge.config import IngestSettings
from personaforge.sources.base import (
    ROLE_TO_SPEAKER,
    Parsed,
    Source,
    SourceFile,
    Turn,
    conversation_memories,
    iter_jsonl,
    mtime_iso,
    to_iso,
)


def _content(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # OpenAI-style content parts
        texts = [
            str(p.get("text") or "")
            for p in value
            if isinstance(p, dict) and p.get("type") == "text"
        ]
        return "\n".join(texts)
    return None


def _turn(message: dict[str, Any], fallback_id: str) -> Turn | None:
    speaker = ROLE_TO_SPEAKER.get(str(message.get("role") or message.get("speaker") or ""))
    text = _content(message.get("content", message.get("text")))
    if speaker is None or text is None:
        return None
    when = to_iso(message.get("timestamp") or message.get("created_at") or message.get("time"))
    return Turn(str(message.get("id") or fallback_id), speaker, text, when)


def parse(file: SourceFile, settings: IngestSettings) -> Parsed:
    parsed = Parsed()
    fallback_date = mtime_iso(file)
    loose: dict[str, list[Turn]] = {}
    for number, row in iter_jsonl(file, parsed):
        if isinstance(row.get("messages"), list):
            conversation_id = str(
                row.get("id") or row.get("conversation_id") or f"{file.path.stem}-line{number}"
            )
            turns = []
            for index, message in enumerate(row["messages"]):
                turn = _turn(message, f"m{index}") if isinstance(message, dict) else None
                if (
                    turn is None
                    and isinstance(message, dict)
                    and message.get("role") not in ("system", "tool")
                ):
                    parsed.bad.append(f"line {number} message {index}: needs role and content")
                if turn is not None:
                    turns.append(turn)
            title = str(row.get("title") or conversation_id)
            parsed.memories += conversation_memories(
                "jsonl", conversation_id, title, turns, fallback_date
            )
            continue
        turn = _turn(row, f"line{number}")
        if turn is None:
            if row.get("role") not in ("system", "tool"):
                parsed.bad.append(f"line {number}: needs role (user/assistant) and content")
            continue
        conversation_id = str(row.get("conversation_id") or row.get("session_id") or file.path.stem)
        loose.setdefault(conversation_id, []).append(turn)
    for conversation_id, turns in loose.items():
        parsed.memories += conversation_memories(
            "jsonl", conversation_id, conversation_id, turns, fallback_date
        )
    return parsed


def _sniff(name: str, head: bytes) -> bool:
    return name.endswith(".jsonl") and (b'"role"' in head or b'"messages"' in head)


SOURCE = Source(
    name="jsonl",
    description="generic JSONL chat logs: {role, content} per line or {messages: [...]} per line",
    extensions=(".jsonl",),
    sniff=_sniff,
    parse=parse,
)
