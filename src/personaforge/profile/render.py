"""USER_PROFILE.md and the diff, as Markdown a person reads and can check line by line."""

from __future__ import annotations

from datetime import date, timedelta

from personaforge.profile.facts import SECTIONS, Fact
from personaforge.profile.records import Claim, Profile, ProfileDiff

RECENT_DAYS = 60  # "changed recently": two monthly cycles back from the profile's last day
IDS_SHOWN = 3
STATEMENTS_SHOWN = 8  # per kind of statement; the JSON keeps them all
QUOTE_CHARS = 180


def _ids(fact: Fact) -> str:
    ids = fact.memory_ids
    shown = " ".join(f"`{i[:8]}`" for i in ids[:IDS_SHOWN])
    return shown + (f" +{len(ids) - IDS_SHOWN}" if len(ids) > IDS_SHOWN else "")


def _memories(count: int) -> str:
    return f"{count} memor{'y' if count == 1 else 'ies'}"


def _seen(fact: Fact) -> str:
    span = (
        fact.first_seen
        if fact.first_seen == fact.last_seen
        else f"{fact.first_seen} → {fact.last_seen}"
    )
    return f"{_memories(fact.support)} ({span})"


def _quote(fact: Fact) -> str | None:
    """The sentence that states the fact, preferring a statement to a mere mention."""
    ranked = sorted(
        fact.evidence,
        key=lambda e: (e.extractor == "rules:mention", e.quote.startswith("tagged #"), e.date),
    )
    for evidence in ranked:
        quote = evidence.quote.strip()
        if quote:
            return quote if len(quote) <= QUOTE_CHARS else quote[: QUOTE_CHARS - 1] + "…"
    return None


def fact_line(fact: Fact, by_id: dict[str, Fact]) -> list[str]:
    if fact.status == "current":
        head = f"- **{fact.label}:** {fact.value} — current · {_seen(fact)} · {_ids(fact)}"
    else:
        newer = by_id.get(fact.superseded_by or "")
        change = f"superseded by {newer.value}" if newer else "no longer stated as current"
        change += f" on {fact.changed_on}" if fact.changed_on else ""
        head = f"- ~~**{fact.label}:** {fact.value}~~ — {change} · {_seen(fact)} · {_ids(fact)}"
        if fact.conflict:
            head += f" · ⚠ still written as current until {fact.last_seen}: the notes disagree"
    lines = [head]
    quote = _quote(fact)
    if quote and fact.section != "relationships":  # people by role, not by what was said of them
        lines.append(f"  > {quote}")
    return lines


def statement_lines(facts: list[Fact]) -> list[str]:
    lines = []
    ranked = sorted(facts, key=lambda f: (-f.support, f.first_seen))
    for fact in ranked[:STATEMENTS_SHOWN]:
        lines.append(f"- “{fact.value}” — {_seen(fact)} · {_ids(fact)}")
    if len(ranked) > STATEMENTS_SHOWN:
        lines.append(f"- … and {len(ranked) - STATEMENTS_SHOWN} more in USER_PROFILE.json")
    return lines


def section_lines(profile: Profile, section: str) -> list[str]:
    by_id = {f.id: f for f in profile.facts}
    facts = [f for f in profile.facts if f.section == section]
    keyed = [f for f in facts if not f.statement]
    lines = [line for fact in keyed for line in fact_line(fact, by_id)]
    statements: dict[str, list[Fact]] = {}
    for fact in facts:
        if fact.statement:
            statements.setdefault(fact.label, []).append(fact)
    for label, group in statements.items():
        lines += ["", f"*{label}:*", *statement_lines(group)]
    return lines or ["- nothing the notes state outright yet"]


def style_lines(profile: Profile) -> list[str]:
    style = profile.style
    if style is None:
        return ["- nothing written by you to measure"]
    wps = style.words_per_sentence
    lines = [
        f"Measured over {style.memories} memories you wrote: {style.words:,} words in {style.sentences:,} sentences.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| words per sentence | mean {wps['mean']}, median {wps['median']:g}, 90th percentile {wps['p90']:g} |",
        f"| short sentences (≤ 6 words) | {style.short_sentence_share:.0%} |",
        f"| vocabulary | {style.distinct_words:,} distinct words; type-token ratio {style.type_token_ratio} (500-word windows) |",
        f"| questions answered in the next breath | {style.answered_questions} of {style.questions} |",
    ]
    for name, rate in style.punctuation_per_1k_words.items():
        lines.append(f"| {name} per 1,000 words | {rate:g} |")
    lines += [
        "",
        "Sentences most often open with: " + ", ".join(f"“{w}” ({n})" for w, n in style.openings),
        "",
        "Phrases in many memories: "
        + (", ".join(f"“{p}” ({n})" for p, n in style.phrases) or "none"),
        "",
        "Words reached for in the most memories: " + ", ".join(w for w, _ in style.favourite_words),
    ]
    return lines


def recent_lines(profile: Profile) -> list[str]:
    if not profile.as_of:
        return []
    start = (date.fromisoformat(profile.as_of[:10]) - timedelta(days=RECENT_DAYS)).isoformat()
    by_id = {f.id: f for f in profile.facts}
    lines = []
    for fact in sorted(profile.facts, key=lambda f: f.changed_on or ""):
        if fact.changed_on and fact.changed_on >= start:
            newer = by_id.get(fact.superseded_by or "")
            lines.append(
                f"- {fact.changed_on}: {fact.label}: {fact.value} → {newer.value if newer else '?'}"
            )
    new = [
        f
        for f in profile.facts
        if f.first_seen >= start and f.status == "current" and not f.statement
    ]
    for fact in sorted(new, key=lambda f: f.first_seen):
        lines.append(
            f"- new since {start}: {fact.label}: {fact.value} (first seen {fact.first_seen})"
        )
    return lines or [f"- nothing changed between {start} and {profile.as_of}"]


def _claim_line(claim: Claim, by_id: dict[str, Fact]) -> str:
    named = [by_id[i] for i in claim.facts if i in by_id]
    if claim.verdict == "reproduces":
        what = "reproduces " + "; ".join(f"{f.label}: {f.value}" for f in named)
    elif claim.verdict == "stale":
        what = "repeats " + "; ".join(
            f"{f.label}: {f.value}, superseded on {f.changed_on or '?'}" for f in named
        )
    elif claim.verdict == "supported":
        what = "borne out by your notes"
    else:
        what = "no memory holds " + (", ".join(claim.missing) or "it")
    ids = " ".join(f"`{i[:8]}`" for i in claim.evidence)
    return f"- *{claim.question}* “{claim.text}” — {what}" + (f" · {ids}" if ids else "")


def probe_lines(profile: Profile) -> list[str]:
    probe = profile.probe
    if probe is None:
        return [
            "Not probed. `personaforge profile build --version vN` asks a trained version the fixed "
            "questions and checks its answers against your notes."
        ]
    counts = probe.summary()
    by_id = {f.id: f for f in profile.facts}
    lines = [
        f"{probe.version} answered {counts['questions']} fixed questions. Of its claims, "
        f"{counts['reproduces']} reproduce a fact above, {counts['supported']} are borne out by your "
        f"notes, {counts['stale']} repeat a superseded fact and {counts['unsupported']} have no evidence "
        f"({counts['uncheckable']} sentences were too vague to check).",
        "",
        "### Supported: the model reproduces this",
        *([_claim_line(c, by_id) for c in probe.supported] or ["- none"]),
        "",
        "### Unsupported: the model claims this without evidence",
        *([_claim_line(c, by_id) for c in probe.unsupported] or ["- none"]),
    ]
    return lines


def render_markdown(profile: Profile) -> str:
    about = f"model {profile.version}: " if profile.version else ""
    lines = [
        f"# About {profile.person}",
        "",
        f"> Distilled by personaforge on {profile.built_at[:10]} ({about}{profile.memories} memories "
        f"dated up to {profile.as_of}).",
        "> Every fact cites the memories it rests on (`personaforge memories show ID` opens one), when",
        "> it was first and last seen, and how many memories support it. A fact no memory supports is",
        "> not written here; a replaced fact stays, struck through, with the day it changed.",
    ]
    for key, title in SECTIONS.items():
        lines += ["", f"## {title}", "", *section_lines(profile, key)]
    lines += ["", "## Communication style", "", *style_lines(profile)]
    lines += ["", "## Changed recently", "", *recent_lines(profile)]
    lines += ["", "## What the model says about you", "", *probe_lines(profile)]
    lines += ["", "## How this was made", "", *made_lines(profile)]
    return "\n".join(lines) + "\n"


def made_lines(profile: Profile) -> list[str]:
    sources = ", ".join(f"{name} {count}" for name, count in profile.sources.items())
    rules = profile.extractors.get("rules", {})
    lines = [
        f"- memories read: {profile.memories} ({sources})",
        f"- rules: {rules.get('candidates', 0)} candidate statements, merged into {len(profile.facts)} facts",
    ]
    teacher = profile.extractors.get("teacher")
    if teacher:
        rejected = ", ".join(f"{r} {n}" for r, n in teacher["rejected"].items()) or "none"
        lines.append(
            f"- teacher {teacher['endpoint']}: {teacher['accepted']} facts kept, rejected: {rejected}"
            f"; {teacher['requests']} requests, {teacher['cached']} cached, {teacher['failed']} failed"
        )
    privacy = profile.privacy
    lines.append(
        f"- privacy: {privacy.get('facts_dropped', 0)} facts dropped, {privacy.get('values_redacted', 0)} "
        f"values redacted, {privacy.get('quotes_withheld', 0)} quotes withheld"
    )
    return lines


def render_diff(diff: ProfileDiff) -> str:
    lines = [f"# Profile diff: {diff.old} → {diff.new}", ""]
    if diff.empty():
        return "\n".join([*lines, "No facts changed."]) + "\n"
    groups = [
        (
            "Changed",
            [
                f"- {c['label']}: {c['old'] or '—'} → {c['new'] or '—'}"
                + (f" (since {c['since']})" if c["since"] else "")
                for c in diff.changed
            ],
        ),
        (
            "Superseded",
            [f"- {f.label}: {f.value} (on {f.changed_on or '?'})" for f in diff.superseded],
        ),
        ("Added", [f"- {f.label}: {f.value} ({_seen(f)})" for f in diff.added]),
        ("Dropped", [f"- {f.label}: {f.value} (was {_seen(f)})" for f in diff.dropped]),
    ]
    for title, items in groups:
        lines += [f"## {title} ({len(items)})", "", *(items or ["- none"]), ""]
    return "\n".join(lines)
