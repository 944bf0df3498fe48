"""Deterministic sample data: a fictional person's vault, chats, memories and corrections.

`write_sample_data(DIR)` lays out:

    DIR/vault/                     Obsidian vault (Journal/YYYY/MM/YYYY-MM-DD.md, topics, traps)
    DIR/chats/chatgpt/             ChatGPT export (conversations.json, one edited branch)
    DIR/chats/claude/              Claude.ai export (conversations.json)
    DIR/chats/claude-code/<proj>/  Claude Code session transcripts (*.jsonl)
    DIR/episodic/YYYY/MM/          episodic memories (MetaHuman OS JSON)
    DIR/feedback/corrections.jsonl preference pairs and rated responses
    DIR/sample-manifest.json       what was written, the planted fake secrets, and the
                                   traps ingest must handle (kept outside the sources)

Same seed, same bytes, same mtimes.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from personaforge.atomic import atomic_write_text
from personaforge.errors import UserError
from personaforge.sample import persona
from personaforge.sample.chats import BRANCHED, write_chatgpt, write_claude, write_claude_code
from personaforge.sample.memories import write_episodic, write_feedback
from personaforge.sample.planted import make_secrets
from personaforge.sample.vault import write_vault
from personaforge.sample.writer import SampleWriter

MANIFEST = "sample-manifest.json"
DEFAULT_SEED = 7
SOURCE_DIRS = {
    "vault": "vault",
    "chatgpt": "chats/chatgpt",
    "claude": "chats/claude",
    "claude-code": "chats/claude-code",
    "episodic": "episodic",
    "feedback": "feedback",
}


def _words(root: Path, relatives: list[str]) -> int:
    total = 0
    for rel in relatives:
        try:
            total += len((root / rel).read_text(encoding="utf-8").split())
        except (UnicodeDecodeError, OSError):
            continue
    return total


def write_sample_data(
    target: Path, seed: int = DEFAULT_SEED, overwrite: bool = False
) -> dict[str, Any]:
    """Write the sample person's data under `target`; returns the manifest."""
    target = Path(target)
    if target.exists() and any(target.iterdir()):
        if not (target / MANIFEST).exists():
            raise UserError(
                f"{target} is not empty and holds no sample data; choose an empty folder"
            )
        if not overwrite:
            return json.loads((target / MANIFEST).read_text())
        for name in [*{d.split("/")[0] for d in SOURCE_DIRS.values()}, MANIFEST]:
            path = target / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    target.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    secrets = make_secrets(seed)
    writer = SampleWriter(target)
    write_vault(writer, rng, secrets)
    write_chatgpt(writer, rng)
    write_claude(writer, rng)
    write_claude_code(writer, rng, secrets)
    write_episodic(writer, rng)
    write_feedback(writer)
    manifest = {
        "person": persona.NAME,
        "description": persona.SELF_DESCRIPTION,
        "seed": seed,
        "period": {"start": persona.START_DATE, "end": persona.END_DATE},
        "sources": {
            source: {
                "path": SOURCE_DIRS[source],
                "files": len(files),
                "words": _words(target, files),
            }
            for source, files in sorted(writer.files.items())
        },
        "facts": persona.FACTS,
        "planted_secrets": [asdict(secret) for secret in writer.planted],
        "expectations": writer.expectations,
        "branched_conversation": {
            "title": BRANCHED["title"],
            "abandoned_user_text": BRANCHED["abandoned"][0],
            "kept_user_text": BRANCHED["kept"][0],
        },
    }
    manifest_path = target / MANIFEST
    atomic_write_text(manifest_path, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    stamp = datetime.fromisoformat(persona.END_DATE).replace(tzinfo=timezone.utc).timestamp()
    os.utime(manifest_path, (stamp, stamp))
    return manifest
