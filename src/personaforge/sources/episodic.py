"""Episodic memories in MetaHuman's shape: one JSON file per event (or a list of them).

Required: `id`, `timestamp`, `content`. Optional: `type`, `response` (what an
assistant answered), `tags`, `entities`, `metadata.cognitiveMode`. The memory's
mode comes from the type when it names one, then from the cognitive mode.
"""

from __future__ import annotations

from typing import Any

from personaforge.config import IngestSettings
from personaforge.sources.base import (
    Parsed,
    SkipFile,
    Source,
    SourceFile,
    clean_tags,
    load_json,
    to_iso,
)
from personaforge.store import MemoryDraft

TYPE_TO_MODE = {
    "reflection": "reflection",
    "inner_dialogue": "reflection",
    "dream": "reflection",
    "journal": "reflection",
    "conversation": "conversation",
    "chat": "conversation",
    "observation": "observation",
    "event": "observation",
    "action": "agent",
    "task": "agent",
}
COGNITIVE_TO_MODE = {"dual": "dual", "agent": "agent", "emulation": "conversation"}
REQUIRED = ("id", "timestamp", "content")


def _memory(event: dict[str, Any], label: str) -> MemoryDraft:
    missing = [key for key in REQUIRED if not event.get(key)]
    if missing:
        raise ValueError(f"{label}: missing {', '.join(missing)}")
    created_at = to_iso(event["timestamp"])
    if created_at is None:
        raise ValueError(f"{label}: timestamp {event['timestamp']!r} is not a date")
    if not isinstance(event["content"], str):
        raise ValueError(f"{label}: content is not text")
    metadata = event.get("metadata") if isinstance(event.get("metadata"), dict) else {}
    event_type = str(event.get("type") or "")
    cognitive = str(metadata.get("cognitiveMode") or "")
    mode = TYPE_TO_MODE.get(event_type) or COGNITIVE_TO_MODE.get(cognitive) or "observation"
    meta: dict[str, Any] = {
        "type": event_type,
        "cognitive_mode": cognitive,
        "entities": event.get("entities") or [],
    }
    if isinstance(event.get("response"), str):
        meta["response"] = event["response"]
    return MemoryDraft(
        locator=str(event["id"]),
        text=event["content"],
        created_at=created_at,
        title=event_type.replace("_", " ") or "memory",
        tags=clean_tags(event.get("tags")),
        mode=mode,
        speaker="self",
        meta=meta,
    )


def parse(file: SourceFile, settings: IngestSettings) -> Parsed:
    data = load_json(file)
    events = data if isinstance(data, list) else [data]
    parsed = Parsed()
    for index, event in enumerate(events):
        label = f"event {index}" if isinstance(data, list) else "event"
        if not isinstance(event, dict):
            parsed.bad.append(f"{label}: not a JSON object")
            continue
        try:
            parsed.memories.append(_memory(event, label))
        except ValueError as exc:
            parsed.bad.append(str(exc))
    if not parsed.memories and not isinstance(data, list):
        raise SkipFile(f"not an episodic memory ({parsed.bad[0].removeprefix('event: ')})")
    return parsed


def _sniff(name: str, head: bytes) -> bool:
    # A memory missing its content is still recognised, so it is reported as a schema skip.
    return name.endswith(".json") and b'"timestamp"' in head and b'"id"' in head


SOURCE = Source(
    name="episodic",
    description="episodic memory JSON files (MetaHuman: id, timestamp, content, type, metadata.cognitiveMode)",
    extensions=(".json",),
    sniff=_sniff,
    parse=parse,
)
