"""Corrections and feedback (JSONL), kept for preference training.

Each line is `{"prompt", "chosen", "rejected"}` (a preference pair: the person's
answer and the one they rejected) or `{"prompt", "response", "rating"}` (a rated
answer). Optional: `id`, `timestamp`. A malformed line is counted and skipped.
"""

from __future__ import annotations

import hashlib
from typing import Any

from personaforge.config import IngestSettings
from personaforge.sources.base import (
    Parsed,
    Source,
    SourceFile,
    iter_jsonl,
    mtime_iso,
    short,
    to_iso,
)
from personaforge.store import MemoryDraft


def _kind(row: dict[str, Any]) -> str | None:
    if all(
        isinstance(row.get(key), str) and row[key].strip()
        for key in ("prompt", "chosen", "rejected")
    ):
        return "preference"
    if (
        isinstance(row.get("prompt"), str)
        and isinstance(row.get("response"), str)
        and (isinstance(row.get("rating"), int | float) and not isinstance(row.get("rating"), bool))
    ):
        return "rating"
    return None


def parse(file: SourceFile, settings: IngestSettings) -> Parsed:
    parsed = Parsed()
    fallback_date = mtime_iso(file)
    for number, row in iter_jsonl(file, parsed):
        kind = _kind(row)
        if kind is None:
            parsed.bad.append(
                f"line {number}: needs prompt+chosen+rejected or prompt+response+rating"
            )
            continue
        answer = row["chosen"] if kind == "preference" else row["response"]
        digest = hashlib.sha256(f"{row['prompt']}\0{answer}".encode()).hexdigest()[:12]
        meta = {"kind": kind, "prompt": row["prompt"], "line": number}
        if kind == "preference":
            meta.update(chosen=row["chosen"], rejected=row["rejected"])
        else:
            meta.update(response=row["response"], rating=row["rating"])
        parsed.memories.append(
            MemoryDraft(
                # Relative, like every other source's: an absolute path made the ids (and so
                # the held-out preference pairs) differ for the same data in another folder.
                locator=f"{file.relative}#{row.get('id') or digest}",
                text=answer,
                created_at=to_iso(row.get("timestamp")) or fallback_date,
                title=short(row["prompt"], 80),
                tags=[],
                mode="feedback",
                speaker="self",
                meta=meta,
            )
        )
    return parsed


def _sniff(name: str, head: bytes) -> bool:
    return (
        name.endswith(".jsonl")
        and b'"prompt"' in head
        and (b'"chosen"' in head or b'"rating"' in head)
    )


SOURCE = Source(
    name="feedback",
    description="corrections JSONL: {prompt, chosen, rejected} or {prompt, response, rating}",
    extensions=(".jsonl",),
    sniff=_sniff,
    parse=parse,
)
