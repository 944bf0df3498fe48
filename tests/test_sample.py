"""The sample person's data: deterministic, varied like real writing, holding everything later
stages must handle, and continuing month by month with a measurable style drift."""

from __future__ import annotations

import itertools
import json
import random
import re
import shutil
import statistics
from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest

from personaforge.errors import UserError
from personaforge.sample import (
    MANIFEST,
    life_events,
    persona,
    sample_identity,
    story,
    write_sample_data,
    write_sample_month,
)
from personaforge.sample.drift import DRIFT, measure_style, note_sentences
from personaforge.sample.grammar import Grammar, Voice
from personaforge.sample.vault import grammar_for, review_slots


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("sample")
    return root, write_sample_data(root)


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_bytes_and_mtimes(sample, tmp_path):
    root, _ = sample
    again = tmp_path / "again"
    write_sample_data(again)
    assert snapshot(again) == snapshot(root)
    other = tmp_path / "other"
    write_sample_data(other, seed=8)
    assert snapshot(other) != snapshot(root)


def test_existing_data_is_reused_unless_overwritten(sample, tmp_path):
    root, manifest = sample
    assert write_sample_data(root) == manifest
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "mine.txt").write_text("not sample data")
    with pytest.raises(UserError, match="not empty"):
        write_sample_data(tmp_path / "busy")


def test_vault_has_four_months_of_daily_notes(sample):
    root, _ = sample
    daily = sorted((root / "vault" / "Journal").rglob("*.md"))
    pattern = re.compile(r"Journal/(\d{4})/(\d{2})/(\d{4}-\d{2}-\d{2})\.md$")
    months = set()
    for note in daily:
        match = pattern.search(note.as_posix())
        assert match, note
        day = date.fromisoformat(match.group(3))
        assert (match.group(1), match.group(2)) == (f"{day.year}", f"{day.month:02d}")
        months.add((day.year, day.month))
    assert len(months) >= 4 and len(daily) >= 100


def test_vault_features_for_the_markdown_reader(sample):
    root, _ = sample
    text = "\n".join(
        p.read_text() for p in (root / "vault").rglob("*.md") if p.name != "cafe-latin1.md"
    )
    for tag in ("#reflection", "#insight", "#decision", "#running/log", "#work/kestrel"):
        assert tag in text, tag
    assert "\n---\ndate: 2026-" in "\n" + text or text.startswith("---")
    assert (
        "aliases: [" in text
        and "[[Tidewatch|the tide app]]" in text
        and "![[tide-diagram.png]]" in text
    )
    assert "```python" in text and "#not-a-tag" in text
    assert "\n## " in text and "\n# " in text
    notes_without_frontmatter = [
        p for p in (root / "vault" / "Journal").rglob("*.md") if not p.read_text().startswith("---")
    ]
    assert notes_without_frontmatter  # dated by filename only


def test_chatgpt_export_has_a_branched_conversation(sample):
    root, manifest = sample
    conversations = json.loads((root / "chats/chatgpt/conversations.json").read_text())
    branched = next(
        c for c in conversations if c["title"] == manifest["branched_conversation"]["title"]
    )
    mapping = branched["mapping"]
    assert any(len(node["children"]) > 1 for node in mapping.values())
    kept_path, node = [], branched["current_node"]
    while node is not None:
        message = mapping[node]["message"]
        if message and message["content"]["parts"][0]:
            kept_path.append(message["content"]["parts"][0])
        node = mapping[node]["parent"]
    abandoned = manifest["branched_conversation"]["abandoned_user_text"]
    assert manifest["branched_conversation"]["kept_user_text"] in kept_path
    assert abandoned not in kept_path
    assert any(
        n["message"] and n["message"]["content"]["parts"][0] == abandoned for n in mapping.values()
    )


def test_claude_code_sessions_have_tools_thinking_and_reminders(sample):
    root, manifest = sample
    sessions = sorted((root / "chats/claude-code").rglob("*.jsonl"))
    assert len(sessions) == 2
    blocks, reminders, truncated = set(), 0, 0
    for session in sessions:
        for line in session.read_text().splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                truncated += 1
                continue
            content = entry.get("message", {}).get("content")
            if isinstance(content, list):
                blocks |= {block["type"] for block in content}
            elif isinstance(content, str):
                reminders += "<system-reminder>" in content
    assert {"text", "thinking", "tool_use", "tool_result"} <= blocks
    assert reminders >= 1 and truncated == 1
    assert manifest["expectations"]["truncated_last_line"]


def test_episodic_memories_have_metahuman_fields(sample):
    root, manifest = sample
    files = [p for p in (root / "episodic").rglob("*.json")]
    assert len(files) >= 40
    modes = set()
    for file in files:
        record = json.loads(file.read_text())
        if file.as_posix().endswith(manifest["expectations"]["skipped_schema"][0]):
            assert "content" not in record
            continue
        assert {
            "id",
            "timestamp",
            "content",
            "type",
            "tags",
            "entities",
            "metadata",
        } <= record.keys()
        modes.add(record["metadata"]["cognitiveMode"])
    assert {"dual", "agent", "emulation"} <= modes


def test_corrections_hold_preference_pairs_and_ratings(sample):
    root, _ = sample
    lines = (root / "feedback/corrections.jsonl").read_text().splitlines()
    records, broken = [], 0
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            broken += 1
    assert broken == 1
    pairs = [r for r in records if {"prompt", "chosen", "rejected"} <= r.keys()]
    rated = [r for r in records if {"prompt", "response", "rating"} <= r.keys()]
    assert len(pairs) >= 15 and len(rated) >= 5


def test_planted_secrets_are_where_the_manifest_says(sample):
    root, manifest = sample
    kinds = {s["kind"] for s in manifest["planted_secrets"]}
    assert {
        "api_key",
        "password",
        "email",
        "phone",
        "private_key",
        "iban",
        "card",
        "aws_key",
        "github_token",
    } <= kinds
    for secret in manifest["planted_secrets"]:
        assert secret["value"] in (root / secret["where"]).read_text(), secret


def test_enough_text_for_several_hundred_examples(sample):
    root, manifest = sample
    sections = sum(
        p.read_text().count("\n## ")
        for p in (root / "vault").rglob("*.md")
        if p.name != "cafe-latin1.md"
    )
    conversations = json.loads((root / "chats/chatgpt/conversations.json").read_text())
    user_turns = sum(
        1
        for c in conversations
        for n in c["mapping"].values()
        if n["message"] and n["message"]["author"]["role"] == "user"
    )
    assert sections + user_turns >= 300
    assert sum(source["words"] for source in manifest["sources"].values()) >= 20_000
    assert (root / MANIFEST).exists()


# -- varied writing, same voice ------------------------------------------------------------------------


def vault_notes(root: Path, manifest: dict) -> dict[str, str]:
    """Every readable vault note but the planted exact copy (a trap, not her writing)."""
    copies = {
        path
        for key, paths in manifest["expectations"].items()
        if key.startswith("exact_duplicate_of")
        for path in paths
    }
    notes = {}
    for path in sorted((root / "vault").rglob("*.md")):
        rel = path.relative_to(root).as_posix()
        if rel in copies or "/.obsidian/" in rel or "/Templates/" in rel:
            continue
        try:
            notes[rel] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
    return notes


def repeated_share(notes: dict[str, str]) -> float:
    """Share of sentences of 6+ words that occur in more than one note."""
    where: dict[str, set[str]] = defaultdict(set)
    for rel, text in notes.items():
        for sentence in note_sentences(text):
            if len(sentence.split()) >= 6:
                where[sentence].add(rel)
    occurrences = [(s, rel) for s, rels in where.items() for rel in rels]
    return sum(len(where[s]) > 1 for s, _ in occurrences) / len(occurrences)


def shingles(text: str, size: int = 8) -> set[tuple[str, ...]]:
    words = " ".join(note_sentences(text)).lower().split()
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


def daily_notes(notes: dict[str, str]) -> dict[str, str]:
    return {rel: text for rel, text in notes.items() if "/Journal/" in rel}


def test_the_measures_catch_templated_writing():
    note = "# Monday\n\n## Work\nWrote the plan as one page. Priya read it twice and asked good questions.\n"
    assert repeated_share({"a.md": note, "b.md": note}) == 1.0
    assert repeated_share({"a.md": note, "b.md": note.replace("twice", "once")}) == 0.5
    other = "# Tuesday\n\n## Evening\nCooked soup. Priya read it twice and asked good questions.\n"
    assert len(shingles(note) & shingles(other)) == 1  # the one shared 8-word run
    assert not shingles(note) & shingles(
        "## Morning\nRain at six, tea, pages, no phone until eight.\n"
    )


def test_vault_sentences_are_almost_never_repeated(sample):
    # Measured with seed 7: 0.4% (the generator before composition: 89.5%, from fixed lists).
    root, manifest = sample
    assert repeated_share(vault_notes(root, manifest)) < 0.05


def test_two_days_share_few_8_word_shingles(sample):
    # Measured with seed 7: a daily note's 8-word shingles found in any other day's note, 4.2%
    # on average (before: 71.6%); the most similar pair of days, Jaccard 0.05 (before: 0.29).
    root, manifest = sample
    days = {rel: shingles(text) for rel, text in daily_notes(vault_notes(root, manifest)).items()}
    counts: dict[tuple[str, ...], int] = defaultdict(int)
    for found in days.values():
        for shingle in found:
            counts[shingle] += 1
    seen_elsewhere = [
        sum(counts[s] > 1 for s in found) / len(found) for found in days.values() if found
    ]
    assert statistics.fmean(seen_elsewhere) < 0.10
    worst = max(len(a & b) / len(a | b) for a, b in itertools.combinations(days.values(), 2))
    assert worst < 0.15


def test_her_voice_markers_survive_the_variety(sample):
    root, manifest = sample
    daily = daily_notes(vault_notes(root, manifest))
    sentences = [s for text in daily.values() for s in note_sentences(text)]
    prose = " ".join(sentences)
    assert sum(s.startswith("Net:") for s in sentences) >= 60
    tomorrow = sum(s.startswith("Tomorrow:") for s in sentences)
    assert tomorrow >= len(daily) - len(life_events.HOME_LINES)  # the move writes a few short notes
    answered = sum(
        a.endswith("?") and not b.endswith("?") and len(b.split()) <= 4
        for a, b in itertools.pairwise(sentences)
    )
    assert answered >= 20  # "Is that true? Mostly."
    assert prose.lower().count("honestly") >= 5 and prose.lower().count("fair enough") >= 5
    # Dashes, never semicolons (before the rework: 6.6 dashes per 1,000 words).
    assert prose.count("—") * 1000 / len(prose.split()) >= 4 and ";" not in prose
    lengths = [len(s.split()) for s in sentences]
    assert statistics.median(lengths) < 10 and statistics.fmean(lengths) < 7  # short, declarative


def test_every_fact_is_stated_in_her_own_writing(sample):
    root, manifest = sample
    assert manifest["facts"] == persona.FACTS
    own = " ".join(vault_notes(root, manifest).values()).lower()
    own += " ".join(p.read_text() for p in (root / "episodic").rglob("*.json")).lower()
    for key, phrases in persona.FACT_EVIDENCE.items():
        assert key in persona.FACTS
        for phrase in phrases:
            assert phrase.lower() in own, (key, phrase)


def test_storyline_days_and_places_fit_the_calendar(sample):
    root, manifest = sample
    daily = daily_notes(vault_notes(root, manifest))
    day_of = {rel: re.search(r"(\d{4}-\d{2}-\d{2})\.md$", rel).group(1) for rel in daily}
    for phrase, first, last in [
        ("Cutover night.", "2026-09-17", "2026-09-17"),
        ("Maas half marathon: 1:47", "2026-10-18", "2026-10-18"),
        ("Race week.", "2026-10-12", "2026-10-17"),
        ("Cutover rehearsal", "2026-09-01", "2026-09-17"),
        ("Decided: SQLite for Tidewatch", "2026-07-14", "2026-07-14"),
        ("Tidewatch beta:", "2026-09-05", "2026-10-31"),
    ]:
        days = [day_of[rel] for rel, text in daily.items() if phrase in text]
        assert days and all(first <= d <= last for d in days), (phrase, days)
    # She lives in Rotterdam until the move (life_events.py), then in Delft.
    assert story.MOVE_DAY == life_events.MOVE_DAY
    for rel, text in daily.items():
        if day_of[rel] < story.MOVE_DAY:
            assert "Delft station" not in text and "Delftse Hout" not in text, rel
        else:
            assert "Cycled along the Maas" not in text and "Kralingse Plas" not in text, rel


def test_grammar_syntax_choices_slots_and_tidying():
    grammar = Grammar({"who": ["Tom", "Priya"], "greet": ["[hello|hi] {who}[, {when}|]."]})
    rng = random.Random(1)
    seen = {grammar.expand("{greet}", rng, {"when": ["today", "again"]}) for _ in range(200)}
    assert seen == {
        f"{a} {w}{t}."
        for a in ("Hello", "Hi")
        for w in ("Tom", "Priya")
        for t in ("", ", today", ", again")
    }
    assert grammar.expand("{who} [a|[b|c]] x .  then", rng, {"who": lambda r: "sam"}).startswith(
        "Sam "
    )
    assert grammar.expand("one. two", rng) == "One. Two"
    with pytest.raises(KeyError, match="nobody"):
        grammar.expand("{nobody}", rng)


def test_voice_rerolls_rather_than_repeat_a_sentence():
    voice = Voice(
        Grammar({"line": ["I wrote the whole plan on [one|two] pages today."]}), random.Random(3)
    )
    first, second = voice.say("{line}"), voice.say("{line}")
    assert first != second and voice.repeats == 0
    third = voice.say("{line}")  # both variants used: the third must repeat, and says so
    assert third in (first, second) and voice.repeats == 1


def test_every_rule_reference_resolves_in_every_month():
    for key, month in story.MONTHS.items():
        for day in [f"{key}-01", *(first for first, _ in month.after)]:
            grammar, rng = grammar_for(day), random.Random(day)
            slots = review_slots(date.fromisoformat(day), rng)  # a superset of a note's slots
            assert grammar.references() <= set(grammar.rules) | set(slots), day
            for name in grammar.rules:  # and every rule expands
                grammar.expand("{" + name + "}", rng, slots)


def test_sample_size_stays_about_the_same(sample):
    # Before the rework: 125 daily notes, 166 vault files of 20,613 words, 53 episodic files.
    root, manifest = sample
    daily = list((root / "vault" / "Journal").rglob("*.md"))
    assert 110 <= len(daily) <= 140
    vault = manifest["sources"]["vault"]
    assert 150 <= vault["files"] <= 185 and 14_500 <= vault["words"] <= 27_000
    assert manifest["sources"]["episodic"]["files"] == 53


# -- monthly cycles with style drift ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def later(tmp_path_factory) -> tuple[Path, dict]:
    """The base months plus every later month, in order."""
    root = tmp_path_factory.mktemp("months")
    write_sample_data(root)
    manifest = {}
    for month in story.LATER_MONTHS:
        manifest = write_sample_month(root, month)
    return root, manifest


def test_months_are_recorded_with_their_drift(later):
    root, manifest = later
    months = manifest["months"]
    assert [m["month"] for m in months] == story.BASE_MONTHS + story.LATER_MONTHS
    assert len(story.LATER_MONTHS) >= 4 and manifest["period"]["end"] == months[-1]["period"]["end"]
    for entry in months:
        notes = [(root / rel).read_text() for rel in entry["daily_notes"]]
        assert 20 <= len(notes) <= 31 and entry["measured"] == measure_style(notes)
        if entry["drift"] is None:  # base months: her style as it is
            assert (
                entry["measured"]["kortom_share"] == 0
                and entry["measured"]["dutch_per_100_words"] < 0.5
            )
    later_months = [m for m in months if m["drift"] is not None]
    assert [m["drift"] for m in later_months] == [DRIFT[m["month"]].as_dict() for m in later_months]
    definition = manifest["style_drift"]
    assert definition["targets"] == {k: v.as_dict() for k, v in DRIFT.items()}
    assert "boodschappen" in definition["dutch_words"] and "net" not in definition["dutch_words"]


def test_each_drift_is_measurable_and_moves_every_month(later):
    _, manifest = later
    baseline = manifest["months"][len(story.BASE_MONTHS) - 1]["measured"]
    previous = baseline
    for entry in manifest["months"][len(story.BASE_MONTHS) :]:
        target, measured = entry["drift"], entry["measured"]
        # Within one summary line of the target share, and close to the two rates.
        assert (
            abs(measured["kortom_share"] - target["kortom_share"])
            <= 1 / measured["summary_lines"] + 1e-9
        )
        assert abs(measured["dutch_per_100_words"] - target["dutch_per_100_words"]) <= 0.4
        assert abs(measured["words_per_sentence"] - target["words_per_sentence"]) <= 0.75
        for key in ("kortom_share", "dutch_per_100_words", "words_per_sentence"):
            # A share stops at 1.0 (every summary line says "Kortom:" from 2027-03 on).
            saturated = key == "kortom_share" and previous[key] == 1.0
            assert measured[key] > previous[key] or saturated, (entry["month"], key)
        previous = measured


def test_a_month_continues_the_story_in_every_source(later, sample):
    root, manifest = later
    base_root, base = sample
    november = next(m for m in manifest["months"] if m["month"] == "2026-11")
    assert set(november["files"]) >= {"vault", "chatgpt", "claude-code", "episodic"}
    assert any("Customs service" in rel for rel in november["files"]["vault"])
    text = " ".join((root / rel).read_text() for rel in november["daily_notes"])
    assert "customs" in text.lower() and "Delft" in text and "Kestrel Freight" in text
    # The exports are rewritten whole, as a new export would be: every old conversation is kept.
    old = {
        c["id"]: c for c in json.loads((base_root / "chats/chatgpt/conversations.json").read_text())
    }
    new = {c["id"]: c for c in json.loads((root / "chats/chatgpt/conversations.json").read_text())}
    assert len(new) > len(old) and all(
        new[key] == conversation for key, conversation in old.items()
    )
    corrections = (root / "feedback/corrections.jsonl").read_text()
    assert corrections.startswith((base_root / "feedback/corrections.jsonl").read_text())
    assert "Kortom:" in corrections
    # A planted secret in a later month is in the manifest, and in the file it names.
    wifi = [
        s for s in manifest["planted_secrets"] if s["where"].startswith("vault/Journal/2026/11/")
    ]
    assert wifi and wifi[0]["value"] in (root / wifi[0]["where"]).read_text()
    assert len(manifest["planted_secrets"]) == len(base["planted_secrets"]) + 1
    # Her later months repeat almost nothing she wrote before.
    notes = vault_notes(root, manifest)
    assert repeated_share(notes) < 0.05


def test_write_sample_month_is_deterministic_and_goes_forward(sample, tmp_path):
    root, _ = sample
    one, two = tmp_path / "one", tmp_path / "two"
    for folder in (one, two):
        shutil.copytree(root, folder)
        write_sample_month(folder, "2026-11")
    assert snapshot(one) == snapshot(two)
    before = snapshot(one)
    write_sample_month(one, "2026-11")  # already there: nothing changes
    assert snapshot(one) == before
    with pytest.raises(UserError, match="no sample month"):
        write_sample_month(one, "2026-10")
    write_sample_month(one, "2027-01")  # a gap is allowed...
    with pytest.raises(UserError, match="months go forward"):
        write_sample_month(one, "2026-12")  # ...going back is not
    with pytest.raises(UserError, match="seed 7"):
        write_sample_month(one, "2027-02", seed=8)
    with pytest.raises(UserError, match="holds no sample data"):
        write_sample_month(tmp_path / "empty", "2026-11")


def test_a_later_month_ingests_like_the_base_months(sample, tmp_path):
    from personaforge.config import IngestSettings
    from personaforge.ingest import ingest
    from personaforge.store import MemoryStore

    root = tmp_path / "data"
    shutil.copytree(sample[0], root)
    with MemoryStore.open(tmp_path / "memories.db") as store:
        ingest([root], store, IngestSettings(), identity=sample_identity(), show_progress=False)
        before = store.count()
        write_sample_month(root, "2026-11")
        summary = ingest(
            [root], store, IngestSettings(), identity=sample_identity(), show_progress=False
        )
        months = dict(store.counts_by("month"))
    # The month's files are new; the rewritten ChatGPT export only adds: no old turn changes.
    assert summary.files_new >= 40 and summary.files_changed == 1
    assert summary.memories.added >= summary.files_new
    assert summary.memories.updated == 0 and summary.memories.deleted == 0
    assert len(summary.skipped) == 2  # still only the two planted unreadable files
    assert "2026-11" in months and before > 0
