"""Benchmark: what of a person's writing reaches a training target, and how fast chats are read.

    .venv/bin/python bench/fidelity.py                          # the sample person and the fixtures
    .venv/bin/python bench/fidelity.py --vault ~/Obsidian/Vault # also any vault of your own
    .venv/bin/python bench/fidelity.py --results bench/RESULTS.md

Targets (issue 33): every example's reply is checked for lines of quote or heading markup
outside code (`> `, `- > `, `#`…, a setext `===`), the same way for "before" and "now".
"Before" is the voice target as extracted before issue 33: the note without the headings it
opens with. "Now" is every target the dataset builds (voice, reflection, knowledge and
dialogue). On the sample it also counts the messages she typed that are read as hers (all
must be) and other people's words in any target (none may be).

Speed: a generated WhatsApp chat and a generated mbox of the given sizes, parsed and their
speakers resolved, in messages per second.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUOTING_VAULT = ROOT / "tests" / "fixtures" / "real" / "vault-quoting"
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
MARKUP = {
    "quote": re.compile(r"^ {0,3}(?:[-*+] +)?>"),
    "heading": re.compile(r"^ {0,3}#{1,6}(?: |$)"),
    "setext": re.compile(r"^ {0,3}={3,}\s*$"),
}


def markup(text: str) -> set[str]:
    """Kinds of quote or heading markup on lines outside fenced and indented code."""
    found, fenced = set(), False
    for line in text.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and not line.startswith(("    ", "\t")):
            found |= {kind for kind, pattern in MARKUP.items() if pattern.match(line)}
    return found


def measure_targets(memories: list) -> dict:
    from personaforge.config import DatasetSettings
    from personaforge.dataset.extract import (
        ExtractContext,
        conversations_of,
        extract,
        is_own_writing,
        without_title,
    )

    before = [without_title(m.text) for m in memories if is_own_writing(m)]
    before = [t for t in before if t]
    context = ExtractContext(DatasetSettings(person_name="Maren"), conversations_of(memories))
    examples = extract(memories, ["voice", "reflection", "knowledge", "dialogue"], context)
    now_voice = [e.target for e in examples if e.kind == "voice"]

    def share(texts: list[str], kind: str | None = None) -> dict:
        hit = sum(bool(markup(t) if kind is None else kind in markup(t)) for t in texts)
        return {
            "targets": len(texts),
            "with_markup": hit,
            "share": round(hit / max(len(texts), 1), 4),
        }

    return {
        "voice_before": {**share(before), "quote": share(before, "quote")["with_markup"]},
        "voice_now": share(now_voice),
        "all_targets_now": share([e.target for e in examples]),
        "by_kind_now": {
            k: sum(e.kind == k for e in examples)
            for k in ("voice", "reflection", "knowledge", "dialogue")
        },
        "examples": examples,
    }


def vault_memories(vault: Path) -> list:
    from personaforge.config import IngestSettings
    from personaforge.ingest import ingest
    from personaforge.store import MemoryStore

    with (
        tempfile.TemporaryDirectory() as scratch,
        MemoryStore.open(Path(scratch) / "m.db") as store,
    ):
        ingest([vault], store, IngestSettings(), source="vault", show_progress=False)
        return store.memories()


def sample() -> dict:
    from personaforge.config import IngestSettings
    from personaforge.ingest import ingest
    from personaforge.sample import sample_identity, write_sample_data
    from personaforge.sample.messaging import her_messages
    from personaforge.store import MemoryStore

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "sample"
        write_sample_data(root)
        with MemoryStore.open(Path(scratch) / "m.db") as store:
            ingest([root], store, IngestSettings(), identity=sample_identity(), show_progress=False)
            memories = store.memories()
    result = measure_targets(memories)
    examples = result.pop("examples")
    mine = "\n".join(m.text for m in memories if m.speaker == "self")
    others = [m.text for m in memories if m.speaker == "other"]
    targets = "\n".join(e.target for e in examples)
    messaging = ("whatsapp", "telegram", "mail")
    dialogues = [e for e in examples if e.kind == "dialogue"]
    return {
        **result,
        "her_messages": len(her_messages()),
        "her_messages_read_as_hers": sum(text in mine for text in her_messages()),
        "others_messages": len(others),
        "others_messages_in_a_target": sum(text in targets for text in others),
        "dialogue_by_source": {
            s: sum(e.primary.source == s for e in dialogues)
            for s in ("chatgpt", "claude", "claude-code", *messaging)
        },
    }


def speed(messages: int, mails: int) -> dict:
    """Messages per second for a generated WhatsApp chat and a generated mbox."""
    from personaforge.config import IdentitySettings, IngestSettings
    from personaforge.sources import SOURCES, SourceFile
    from personaforge.sources.identity import Identity, resolve

    identity = Identity.from_settings(
        IdentitySettings(names=["Maren Holt"], emails=["maren@x.example"])
    )
    lines = []
    for n in range(messages):
        author = "Maren Holt" if n % 2 else "Anna Berg"
        day, minute = divmod(n, 600)
        lines.append(
            f"[{1 + day % 28:02d}/{1 + day // 28 % 12:02d}/2026, {minute // 60 + 8:02d}:{minute % 60:02d}:00] "
            f"{author}: message {n} with a few words of text, as chats go"
        )
    chat = ("\n".join(lines) + "\n").encode()
    mbox = "".join(
        f"From {n}@xxx Sat Mar 02 10:00:00 +0000 2024\nX-GM-THRID: {n // 4}\n"
        f"X-Gmail-Labels: {'Sent' if n % 2 else 'Inbox'}\nMessage-ID: <m{n}@x>\n"
        f"Date: Sat, 2 Mar 2024 10:{n % 60:02d}:00 +0000\n"
        f"From: {'Maren <maren@x.example>' if n % 2 else 'Anna <anna@x.example>'}\n"
        "Subject: =?UTF-8?Q?Caf=C3=A9?=\nContent-Type: text/plain; charset=UTF-8\n"
        "Content-Transfer-Encoding: quoted-printable\n\n"
        f"Mail {n}: a few sentences of a reply, caf=C3=A9 and all.\n\n"
        "On Sat, 2 Mar 2024 at 10:00, Anna <anna@x.example> wrote:\n> the earlier mail\n\n-- \nMaren\n\n"
        for n in range(mails)
    ).encode()
    out = {}
    for source, name, data, count in (
        ("whatsapp", "_chat.txt", chat, messages),
        ("mail", "All mail.mbox", mbox, mails),
    ):
        started = time.perf_counter()
        parsed = SOURCES[source].parse(SourceFile(Path(name), name, data, 0.0), IngestSettings())
        resolve(parsed.memories, parsed.people, identity)
        seconds = time.perf_counter() - started
        out[source] = {
            "messages": count,
            "megabytes": round(len(data) / 1e6, 1),
            "seconds": round(seconds, 2),
            "messages_per_second": round(count / seconds),
            "memories": len(parsed.memories),
        }
    return out


def section(report: dict) -> str:
    """The fidelity section of bench/RESULTS.md, from one report."""
    s, q = report["sample"], report["vault_quoting"]
    lines = [
        f"## fidelity — only her words reach a target; chats read as hers ({report['date']})",
        "",
        f"Machine: {report['machine']}. Command: `{report['command']}`.",
        "A target with markup holds a line of quote or heading markup outside code. "
        '"Before" is the voice target as extracted before issue 33 (the note without the headings '
        'it opens with); "now" is what the dataset extracts (voice, reflection, knowledge, dialogue).',
        "",
        "| data | voice targets before | with quote or heading markup before | targets now | with markup now |",
        "|------|---------------------:|------------------------------------:|------------:|----------------:|",
    ]
    rows = [("sample person (seed 7)", s), ("vault-quoting fixture", q)]
    rows += [(f"`{name}`", v) for name, v in report.get("vaults", {}).items()]
    for name, data in rows:
        before, now = data["voice_before"], data["all_targets_now"]
        lines.append(
            f"| {name} | {before['targets']} | {before['with_markup']} ({before['share']:.0%}; "
            f"{before['quote']} quoting) | {now['targets']} | {now['with_markup']} |"
        )
    by_source = ", ".join(f"{k} {v}" for k, v in s["dialogue_by_source"].items())
    lines += [
        "",
        f"- The sample person's chats: {s['her_messages_read_as_hers']} of the {s['her_messages']} "
        f"messages she typed are read as hers, word for word; of {s['others_messages']} messages "
        f"by other people, {s['others_messages_in_a_target']} reach a target. Dialogue examples "
        f"by source: {by_source}.",
    ]
    for source, numbers in report["speed"].items():
        lines.append(
            f"- Reading {source}: {numbers['messages']:,} messages ({numbers['megabytes']} MB) "
            f"in {numbers['seconds']} s, {numbers['messages_per_second']:,} messages/s, speakers resolved."
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--vault", type=Path, action="append", default=[], help="Also measure this vault."
    )
    parser.add_argument("--messages", type=int, default=100_000, help="WhatsApp messages to time.")
    parser.add_argument("--mails", type=int, default=10_000, help="Mails to time.")
    parser.add_argument(
        "--results", type=Path, help="Also rewrite this RESULTS.md's fidelity section."
    )
    args = parser.parse_args()
    timed = speed(args.messages, args.mails)  # first: nothing else's objects alive yet
    quoting = measure_targets(vault_memories(QUOTING_VAULT))
    quoting.pop("examples")
    report = {
        "benchmark": "fidelity",
        "date": time.strftime("%Y-%m-%d"),
        "command": "python bench/fidelity.py " + " ".join(sys.argv[1:]),
        "machine": (
            f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores, Python "
            f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f} at the start"
        ),
        "sample": sample(),
        "vault_quoting": quoting,
        "vaults": {},
        "speed": timed,
    }
    for vault in args.vault:
        measured = measure_targets(vault_memories(vault.expanduser()))
        measured.pop("examples")
        report["vaults"][vault.name] = measured
    print(json.dumps(report, indent=2))
    if args.results:
        from results_md import write_section  # bench/results_md.py, beside this file

        write_section(args.results, "## fidelity", section(report))


if __name__ == "__main__":
    main()
