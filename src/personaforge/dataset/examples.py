"""The training example every dataset stage passes along, and its JSON form.

SFT examples are TRL's conversational format (`messages`); preference examples
carry `prompt` messages plus `chosen` and `rejected`. Both keep provenance in
`meta` (DESIGN.md's data contract): the memories they came from, source, date,
tags, mode and kind, plus why they were extracted.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from personaforge.store import Memory

KINDS = ("voice", "reflection", "dialogue", "knowledge", "preference")
# A message flag (`"context": true`): an assistant turn handed to the model as context (serve's
# `asked` format recalls her facts as earlier answers), composed rather than written by her,
# so training never takes it as a target (train/trainers.py sft_rows).
CONTEXT_TURN = "context"


@dataclass
class Example:
    kind: str
    messages: list[dict[str, str]]  # SFT: the whole conversation; preference: the prompt
    memories: list[Memory]  # provenance; the first is the example's own memory
    chosen: str | None = None  # preference only
    rejected: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. reflection reasons, teacher name

    @property
    def primary(self) -> Memory:
        return self.memories[0]

    @property
    def target(self) -> str:
        """The text the model is trained to produce: the last assistant turn, or `chosen`."""
        if self.chosen is not None:
            return self.chosen
        return self.messages[-1]["content"]

    def set_target(self, text: str) -> None:
        if self.chosen is not None:
            self.chosen = text
        else:
            self.messages[-1] = {**self.messages[-1], "content": text}

    @property
    def id(self) -> str:
        """Stable across rebuilds: the kind, the memories and the prompt, not the target's edits."""
        prompt = "\n".join(m["content"] for m in self.messages if m["role"] == "user")
        key = f"{self.kind}\0{','.join(m.id for m in self.memories)}\0{prompt}"
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    def meta(self) -> dict[str, Any]:
        memory = self.primary
        return {
            "id": self.id,
            "memory_ids": [m.id for m in self.memories],
            "source": memory.source,
            "locator": memory.locator,
            "date": memory.created_at[:10],
            "tags": memory.tags,
            "mode": memory.mode,
            "kind": self.kind,
            **self.extra,
        }

    def to_record(self) -> dict[str, Any]:
        if self.chosen is not None:
            return {
                "prompt": self.messages,
                "chosen": self.chosen,
                "rejected": self.rejected,
                "meta": self.meta(),
            }
        return {"messages": self.messages, "meta": self.meta()}

    def texts(self) -> list[str]:
        """Every text the example would put in a training file (for the privacy scrub)."""
        texts = [m["content"] for m in self.messages]
        return texts + [t for t in (self.chosen, self.rejected) if t is not None]


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, sort_keys=False)
