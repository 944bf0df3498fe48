"""Deterministic sample data: a fictional person's vault, chats, memories and corrections.

`write_sample_data(DIR)` lays out:

    DIR/vault/                     Obsidian vault (Journal/YYYY/MM/YYYY-MM-DD.md, topics, traps)
    DIR/chats/chatgpt/             ChatGPT export (conversations.json, one edited branch)
    DIR/chats/claude/              Claude.ai export (conversations.json)
    DIR/chats/claude-code/<proj>/  Claude Code session transcripts (*.jsonl)
    DIR/chats/whatsapp/            WhatsApp chats: her sister (iOS), a running group (Android)
    DIR/chats/telegram/            a Telegram Desktop export (result.json)
    DIR/mail/                      Gmail Takeout mail (an mbox with Sent labels)
    DIR/episodic/YYYY/MM/          episodic memories (MetaHuman OS JSON)
    DIR/feedback/corrections.jsonl preference pairs and rated responses
    DIR/sample-manifest.json       what was written, the planted fake secrets, the facts
                                   (and `fact_history`: facts that change, with dates), her
                                   opinions, the `quiz` the fact benchmark asks (quiz.py), the
                                   traps ingest must handle (kept outside the sources), and
                                   `identity`: the identity.* settings her chats need

`write_sample_month(DIR, "2026-11")` then adds one further month (Nov 2026 to
Apr 2027, in order): new daily notes, reviews, topic notes, chats, episodic
memories and corrections, written with that month's style drift (drift.py), and
appends the month to the manifest's `months` (drift targets and measurements).

Same seed, same bytes, same mtimes.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from personaforge.atomic import atomic_write_text
from personaforge.config import IdentitySettings
from personaforge.errors import UserError
from personaforge.sample import persona
from personaforge.sample.chats import BRANCHED, write_chatgpt, write_claude, write_claude_code
from personaforge.sample.drift import DRIFT, DUTCH_WORDS, SUMMARY_MARKERS, measure_style
from personaforge.sample.grammar import Voice, stream
from personaforge.sample.life_events import write_life_events
from personaforge.sample.memories import write_episodic, write_feedback
from personaforge.sample.messaging import IDENTITY, write_messaging
from personaforge.sample.months import month_bounds, write_month
from personaforge.sample.planted import make_secrets
from personaforge.sample.quiz import fact_quiz
from personaforge.sample.story import BASE_MONTHS, LATER_MONTHS, MONTHS
from personaforge.sample.vault import write_vault
from personaforge.sample.writer import SampleWriter

MANIFEST = "sample-manifest.json"
DEFAULT_SEED = 7
SOURCE_DIRS = {
    "vault": "vault",
    "chatgpt": "chats/chatgpt",
    "claude": "chats/claude",
    "claude-code": "chats/claude-code",
    "whatsapp": "chats/whatsapp",
    "telegram": "chats/telegram",
    "mail": "mail",
    "episodic": "episodic",
    "feedback": "feedback",
}


def sample_identity() -> IdentitySettings:
    """Her identity.* settings: her WhatsApp chats name no owner (the demo writes these into
    config.toml; code that ingests the sample passes them to `ingest`)."""
    return IdentitySettings(**IDENTITY)


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
    secrets = make_secrets(seed)
    writer = SampleWriter(target)
    voice = write_vault(writer, seed, secrets)
    write_chatgpt(writer, stream(seed, "chatgpt"))
    write_claude(writer, stream(seed, "claude"))
    write_claude_code(writer, stream(seed, "claude-code"), secrets)
    write_messaging(writer)  # fixed texts: no random stream, so the other sources are unchanged
    write_episodic(writer, Voice(voice.grammar, stream(seed, "episodic"), seen=voice.seen))
    write_feedback(writer)
    fact_history = write_life_events(writer)  # facts that change: she moves in September
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
        "fact_history": fact_history,
        "identity": IDENTITY,
        "opinions": list(persona.OPINIONS),
        "quiz": fact_quiz(),  # the fact benchmark's questions (evaluate/knows.py)
        "planted_secrets": [asdict(secret) for secret in writer.planted],
        "expectations": writer.expectations,
        "branched_conversation": {
            "title": BRANCHED["title"],
            "abandoned_user_text": BRANCHED["abandoned"][0],
            "kept_user_text": BRANCHED["kept"][0],
        },
        "style_drift": style_drift_definition(),
        "months": [_base_month(target, month) for month in BASE_MONTHS],
    }
    _save_manifest(target, manifest, persona.END_DATE)
    return manifest


def write_sample_month(target: Path, month: str, seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """Write one further month (e.g. "2026-11") into existing sample data; returns the manifest.

    The month continues the storyline after October 2026 (story.LATER_MONTHS) with
    the month's style drift (drift.DRIFT), and is added to the manifest's `months`
    with its drift targets and their measurement on the month's daily notes.
    Months go forward: each must come after the last one written; writing a month
    that is already there changes nothing. Same folder, seed and month: same bytes
    and mtimes.
    """
    target = Path(target)
    manifest_path = target / MANIFEST
    if not manifest_path.exists():
        raise UserError(f"{target} holds no sample data; write it first (write_sample_data)")
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("seed") != seed:
        raise UserError(f"{target} was written with seed {manifest.get('seed')}, not {seed}")
    if month not in LATER_MONTHS:
        raise UserError(
            f"no sample month {month!r}; the storyline continues with {', '.join(LATER_MONTHS)}"
        )
    written = [entry["month"] for entry in manifest.get("months", [])]
    if month in written:
        return manifest
    if written and month < written[-1]:
        raise UserError(f"months go forward: {target} already holds {written[-1]}")
    writer = SampleWriter(target)
    entry = write_month(writer, month, seed, make_secrets(seed))
    entry["sources"] = {
        source: {"files": len(files), "words": _words(target, files)}
        for source, files in sorted(writer.files.items())
    }
    manifest["months"] = [*manifest.get("months", []), entry]
    manifest["period"]["end"] = entry["period"]["end"]
    manifest["planted_secrets"] += [asdict(secret) for secret in writer.planted]
    manifest["sources"] = _sources_on_disk(target)
    _save_manifest(target, manifest, entry["period"]["end"])
    return manifest


def style_drift_definition() -> dict[str, Any]:
    """How the manifest's `months[].drift` and `months[].measured` are defined (drift.py)."""
    return {
        "measured_on": "the month's daily notes (vault/Journal), prose only: no frontmatter, "
        "headings, code, tags",
        "parameters": {
            "kortom_share": "share of summary lines opening with 'Kortom:' rather than 'Net:'",
            "dutch_per_100_words": "words from `dutch_words` per 100 words",
            "words_per_sentence": "mean words per sentence",
        },
        "summary_markers": list(SUMMARY_MARKERS),
        "dutch_words": sorted(DUTCH_WORDS),
        "targets": {month: drift.as_dict() for month, drift in DRIFT.items()},
    }


def _base_month(target: Path, month: str) -> dict[str, Any]:
    notes = sorted((target / "vault" / "Journal" / month[:4] / month[5:]).glob("*.md"))
    first, last = month_bounds(month)
    return {
        "month": month,
        "period": {"start": first, "end": last},
        "storyline": dict(MONTHS[month].summary),
        "drift": None,  # her style as it is: the baseline the later months drift from
        "measured": measure_style(note.read_text(encoding="utf-8") for note in notes),
        "daily_notes": [note.relative_to(target).as_posix() for note in notes],
    }


def _sources_on_disk(target: Path) -> dict[str, dict[str, Any]]:
    sources = {}
    for source, folder in sorted(SOURCE_DIRS.items()):
        files = sorted(
            p.relative_to(target).as_posix() for p in (target / folder).rglob("*") if p.is_file()
        )
        sources[source] = {"path": folder, "files": len(files), "words": _words(target, files)}
    return sources


def _save_manifest(target: Path, manifest: dict[str, Any], last_day: str) -> None:
    path = target / MANIFEST
    atomic_write_text(path, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    stamp = datetime.fromisoformat(last_day).replace(tzinfo=timezone.utc).timestamp()
    os.utime(path, (stamp, stamp))
