"""Source formats, registered by name.

Each module exposes `SOURCE`, a `Source` with a name, the file extensions it
reads, a cheap `sniff` on the file's first bytes for auto-detection, and
`parse`. Order matters for auto-detection: the first source whose sniff
accepts a file reads it, so the specific formats come before the generic ones.
"""

from __future__ import annotations

from personaforge.sources import (
    chatgpt,
    claude,
    claude_code,
    discord,
    episodic,
    feedback,
    jsonl,
    mail,
    messenger,
    signal,
    telegram,
    vault,
    whatsapp,
)
from personaforge.sources.base import Parsed, SkipFile, Source, SourceFile

SOURCES: dict[str, Source] = {
    source.name: source
    for source in (
        vault.SOURCE,
        chatgpt.SOURCE,
        claude.SOURCE,
        claude_code.SOURCE,
        telegram.SOURCE,  # the messaging formats before episodic: their messages have ids
        discord.SOURCE,  # and timestamps too, and episodic's sniff looks for no more
        messenger.SOURCE,
        signal.SOURCE,
        whatsapp.SOURCE,
        mail.SOURCE,
        feedback.SOURCE,
        episodic.SOURCE,
        jsonl.SOURCE,
    )
}

SNIFF_BYTES = 4096  # enough for the keys every format puts in its first record


def detect(name: str, head: bytes) -> Source | None:
    """The source that reads a file with this name and first bytes, or None."""
    lowered = name.lower()
    for source in SOURCES.values():
        if lowered.endswith(source.extensions) and source.sniff(lowered, head):
            return source
    return None


MESSAGING = tuple(name for name, source in SOURCES.items() if source.messaging)

__all__ = [
    "MESSAGING",
    "SNIFF_BYTES",
    "SOURCES",
    "Parsed",
    "SkipFile",
    "Source",
    "SourceFile",
    "detect",
]
