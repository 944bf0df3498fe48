"""Claude Code session transcripts (~/.claude/projects/<project>/<session>.jsonl).

Kept: the person's typed messages and the assistant's text. A tool call
becomes one line (`[tool Bash: pytest -x]`); tool results, thinking, sidechain
(sub-agent) entries and <system-reminder> blocks are dropped. A truncated last
line, as a session killed mid-write leaves, is counted and skipped.
"""

from __future__ import annotations

import re
from typing import Any

from personaforge.config import IngestSettings
from personaforge.sources.base import (
    Parsed,
    Source,
    SourceFile,
    Turn,
    conversation_memories,
    iter_jsonl,
    mtime_iso,
    short,
    to_iso,
)

_REMINDER = re.compile(r"<system-reminder>.*?</system-reminder>", re.S)
# Slash-command wrappers Claude Code writes into user entries; their text is not the person's prose.
_COMMAND_WRAPPERS = re.compile(r"<(command-[a-z]+|local-command-stdout)>.*?</\1>", re.S)
# The input field that best says what a tool call did, in order of preference.
TOOL_SUMMARY_KEYS = (
    "command",
    "file_path",
    "path",
    "pattern",
    "url",
    "query",
    "description",
    "prompt",
)


def tool_line(block: dict[str, Any]) -> str:
    arguments = block.get("input") if isinstance(block.get("input"), dict) else {}
    detail = next((arguments[key] for key in TOOL_SUMMARY_KEYS if arguments.get(key)), "")
    name = block.get("name") or "tool"
    return f"[tool {name}: {short(detail, 70)}]" if detail else f"[tool {name}]"


def entry_text(content: Any) -> str:
    if isinstance(content, str):
        pieces = [content]
    elif isinstance(content, list):
        pieces = []
        for block in content:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text":
                pieces.append(str(block.get("text") or ""))
            elif block.get("type") == "tool_use":
                pieces.append(tool_line(block))
            # tool_result, thinking, redacted_thinking, image: dropped
    else:
        return ""
    text = "\n".join(piece for piece in pieces if piece.strip())
    text = _COMMAND_WRAPPERS.sub("", _REMINDER.sub("", text))
    return text.strip()


def parse(file: SourceFile, settings: IngestSettings) -> Parsed:
    parsed = Parsed()
    turns: list[Turn] = []
    session_id = file.path.stem
    title = ""
    project = ""
    for _, entry in iter_jsonl(file, parsed):
        if entry.get("type") == "summary" and not title:
            title = str(entry.get("summary") or "")
        if (
            entry.get("type") not in ("user", "assistant")
            or entry.get("isSidechain")
            or entry.get("isMeta")
        ):
            continue
        message = entry.get("message")
        if not isinstance(message, dict):
            parsed.bad.append(f"entry {entry.get('uuid', '?')}: no message")
            continue
        session_id = str(entry.get("sessionId") or session_id)
        project = project or str(entry.get("cwd") or "")
        speaker = "self" if entry["type"] == "user" else "assistant"
        text = entry_text(message.get("content"))
        turns.append(
            Turn(
                str(entry.get("uuid") or len(turns)), speaker, text, to_iso(entry.get("timestamp"))
            )
        )
    if not title:
        first = next(
            (turn.text for turn in turns if turn.speaker == "self" and turn.text.strip()), ""
        )
        title = short(first, 60) or "Claude Code session"
    meta = {"project": project} if project else {}
    parsed.memories = conversation_memories(
        "claude-code", session_id, title, turns, mtime_iso(file), meta
    )
    return parsed


def _sniff(name: str, head: bytes) -> bool:
    return name.endswith(".jsonl") and b'"sessionId"' in head


SOURCE = Source(
    name="claude-code",
    description="Claude Code session transcripts (*.jsonl under ~/.claude/projects)",
    extensions=(".jsonl",),
    sniff=_sniff,
    parse=parse,
)
