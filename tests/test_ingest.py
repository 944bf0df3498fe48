"""Ingest end to end: the sample data, incremental re-runs, deletions, interruption."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from personaforge import ingest as ingest_module
from personaforge.config import IngestSettings
from personaforge.errors import UserError
from personaforge.ingest import compile_globs, ingest
from personaforge.sample import sample_identity
from personaforge.sources import SOURCES
from personaforge.store import MIGRATIONS, MemoryStore


@pytest.fixture
def store(tmp_path):
    with MemoryStore.open(tmp_path / "memories.db") as opened:
        yield opened


def memory_rows(store: MemoryStore) -> list[tuple]:
    return [tuple(row) for row in store.db.execute("SELECT * FROM memories ORDER BY id")]


def write(path: Path, text: str, mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


# -- the sample data ---------------------------------------------------------------


def test_sample_data_ingests_every_format_and_its_traps(sample_data, store):
    summary = ingest(
        [sample_data], store, IngestSettings(), identity=sample_identity(), show_progress=False
    )
    # Every format but generic JSONL and the messaging formats she does not use.
    assert set(summary.files_by_source) == set(SOURCES) - {
        "jsonl",
        "discord",
        "messenger",
        "signal",
    }
    skipped = {Path(p).relative_to(sample_data).as_posix(): reason for p, reason in summary.skipped}
    assert "not UTF-8" in skipped.pop("vault/Inbox/cafe-latin1.md")
    assert "missing content" in skipped.pop("episodic/2026/07/evt-broken.json")
    assert skipped == {}
    assert summary.excluded == 4  # .obsidian (2), Templates, attachments
    bad = {Path(p).relative_to(sample_data).as_posix() for p, _, _ in summary.bad_records}
    assert (
        any(p.startswith("chats/claude-code/") for p in bad) and "feedback/corrections.jsonl" in bad
    )
    texts = " ".join(m.text for m in store.memories())
    assert (
        "What about concurrent writes from many users at once?" not in texts
    )  # abandoned ChatGPT branch
    assert "Backups and tests are what I care about" in texts  # the branch she kept
    assert "system-reminder" not in texts and "#not-a-tag" in texts  # code kept as text...
    tags = {tag for m in store.memories() for tag in m.tags}
    assert {"reflection", "insight", "decision", "running/log", "work/kestrel"} <= tags
    assert "not-a-tag" not in tags and "also-not-a-tag" not in tags  # ...but not as tags
    modes = dict(store.counts_by("mode"))
    assert {"reflection", "observation", "conversation", "agent", "feedback"} <= set(modes)
    speakers = dict(store.counts_by("speaker"))
    assert speakers["self"] > speakers["assistant"] > 0
    months = dict(store.counts_by("month"))
    assert list(months) == ["2026-06", "2026-07", "2026-08", "2026-09", "2026-10"]


def test_unchanged_rerun_reads_nothing_and_changes_no_row(sample_data, store, monkeypatch):
    ingest([sample_data], store, IngestSettings(), identity=sample_identity(), show_progress=False)
    before = memory_rows(store)
    reads = []
    original = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: reads.append(self) or original(self))
    summary = ingest(
        [sample_data], store, IngestSettings(), identity=sample_identity(), show_progress=False
    )
    assert reads == []
    assert summary.files_read == 0 and summary.files_unchanged > 200
    assert vars(summary.memories) == {
        "added": 0,
        "updated": 0,
        "unchanged": 0,
        "deleted": 0,
        "forgotten": 0,
    }
    assert memory_rows(store) == before


# -- incremental edits ----------------------------------------------------------------


def test_touched_file_with_same_content_changes_no_memory_row(tmp_path, store):
    note = write(tmp_path / "v" / "a.md", "Hello #x", mtime=1_780_000_000)
    ingest([tmp_path / "v"], store, IngestSettings(), show_progress=False)
    before = memory_rows(store)
    os.utime(note, (1_790_000_000, 1_790_000_000))
    summary = ingest([tmp_path / "v"], store, IngestSettings(), show_progress=False)
    assert summary.files_unchanged == 1 and memory_rows(store) == before
    # ...and the new mtime is remembered, so the third run does not even read it.
    assert store.file_state(str(note)).mtime_ns == 1_790_000_000 * 10**9


def test_edited_note_updates_only_its_changed_sections(tmp_path, store):
    settings = IngestSettings(split_chars=200)
    body = "# One\n" + "alpha " * 40 + "\n# Two\n" + "beta " * 40 + "\n"
    note = write(tmp_path / "v" / "long.md", body)
    ingest([tmp_path / "v"], store, settings, show_progress=False)
    first = {m.locator: m for m in store.memories()}
    write(note, body.replace("beta", "gamma") + "# Three\nnew section\n")
    summary = ingest([tmp_path / "v"], store, settings, show_progress=False)
    assert summary.files_changed == 1
    assert vars(summary.memories) == {
        "added": 1,
        "updated": 1,
        "unchanged": 1,
        "deleted": 0,
        "forgotten": 0,
    }
    after = {m.locator: m for m in store.memories()}
    one = next(locator for locator in first if locator.endswith("#One"))
    assert after[one].updated_at == first[one].updated_at


def test_removed_section_and_deleted_file_are_marked_deleted_not_lost(tmp_path, store):
    settings = IngestSettings(split_chars=200)
    write(tmp_path / "v" / "keep.md", "# A\n" + "a " * 120 + "\n# B\n" + "b " * 120)
    gone = write(tmp_path / "v" / "gone.md", "bye")
    ingest([tmp_path / "v"], store, settings, show_progress=False)
    write(tmp_path / "v" / "keep.md", "# A\n" + "a " * 120)
    gone.unlink()
    summary = ingest([tmp_path / "v"], store, settings, show_progress=False)
    assert summary.files_deleted == 1 and summary.memories.deleted == 2
    assert store.count() == 1 and store.count(include_deleted=True) == 3
    assert all(
        m.deleted_at
        for m in store.memories(include_deleted=True)
        if m.text in ("bye",) or "b b" in m.text
    )
    # Put it back: the same memory comes back to life instead of a duplicate.
    write(gone, "bye")
    summary = ingest([tmp_path / "v"], store, settings, show_progress=False)
    assert summary.memories.added == 1 and store.count(include_deleted=True) == 3


def test_ingesting_one_folder_does_not_delete_another(tmp_path, store):
    write(tmp_path / "a" / "x.md", "in a")
    write(tmp_path / "b" / "y.md", "in b")
    ingest([tmp_path / "a"], store, IngestSettings(), show_progress=False)
    ingest([tmp_path / "b"], store, IngestSettings(), show_progress=False)
    assert store.count() == 2


def test_a_file_that_becomes_unreadable_loses_its_memories(tmp_path, store):
    note = write(tmp_path / "v" / "n.md", "fine")
    ingest([tmp_path / "v"], store, IngestSettings(), show_progress=False)
    note.write_bytes(b"caf\xe9")
    summary = ingest([tmp_path / "v"], store, IngestSettings(), show_progress=False)
    assert summary.memories.deleted == 1 and store.count() == 0 and len(summary.skipped) == 1
    # Skipped again next run without a read, and still reported.
    again = ingest([tmp_path / "v"], store, IngestSettings(), show_progress=False)
    assert again.skipped and again.nothing_readable


# -- errors, interruption, crash --------------------------------------------------------


def test_missing_path_and_unknown_source_are_user_errors(tmp_path, store):
    with pytest.raises(UserError, match="no such file or folder"):
        ingest([tmp_path / "nope"], store, IngestSettings())
    with pytest.raises(UserError, match="unknown source 'obsidian'"):
        ingest([tmp_path], store, IngestSettings(), source="obsidian")


def test_forced_source_reads_only_its_extensions(tmp_path, store):
    write(tmp_path / "v" / "a.md", "note")
    write(tmp_path / "v" / "b.jsonl", '{"role": "user", "content": "hi"}')
    summary = ingest([tmp_path / "v"], store, IngestSettings(), source="vault", show_progress=False)
    assert dict(summary.files_by_source) == {"vault": 1} and len(summary.unrecognised) == 1


def test_interrupt_keeps_finished_files_and_a_rerun_completes(tmp_path, store, monkeypatch):
    for index in range(30):
        write(tmp_path / "v" / f"n{index:02d}.md", f"note {index}")
    real_parse = SOURCES["vault"].parse
    calls = []

    def flaky_parse(file, settings):
        calls.append(file.relative)
        if len(calls) == 12:
            raise KeyboardInterrupt
        return real_parse(file, settings)

    monkeypatch.setitem(
        SOURCES,
        "vault",
        SOURCES["vault"].__class__(**{**SOURCES["vault"].__dict__, "parse": flaky_parse}),
    )
    summary = ingest([tmp_path / "v"], store, IngestSettings(batch_files=5), show_progress=False)
    assert summary.interrupted and summary.files_new == 11
    assert (
        store.count() == 11 and store.db.execute("SELECT count(*) FROM files").fetchone()[0] == 11
    )
    assert store.last_run()["status"] == "interrupted"
    monkeypatch.undo()
    summary = ingest([tmp_path / "v"], store, IngestSettings(batch_files=5), show_progress=False)
    assert summary.files_new == 19 and summary.files_unchanged == 11 and store.count() == 30


def test_crash_mid_batch_rolls_back_to_a_consistent_store(tmp_path, store, monkeypatch):
    for index in range(10):
        write(tmp_path / "v" / f"n{index}.md", f"note {index}")
    original = ingest_module._Run._read_and_store
    seen = []

    def crash_on_seventh(self, candidate, source, state):
        seen.append(candidate)
        if len(seen) == 7:
            raise MemoryError("simulated crash")
        return original(self, candidate, source, state)

    monkeypatch.setattr(ingest_module._Run, "_read_and_store", crash_on_seventh)
    with pytest.raises(MemoryError):
        ingest([tmp_path / "v"], store, IngestSettings(batch_files=4), show_progress=False)
    # The first batch (4 files) committed; the crashed batch left nothing behind.
    files = store.db.execute("SELECT count(*) FROM files").fetchone()[0]
    assert files == 4 and store.count() == 4


def test_parser_bug_costs_one_file_not_the_run(tmp_path, store, monkeypatch):
    write(tmp_path / "v" / "a.md", "fine")
    write(tmp_path / "v" / "b.md", "boom")
    real_parse = SOURCES["vault"].parse

    def buggy(file, settings):
        if file.relative == "b.md":
            raise KeyError("oops")
        return real_parse(file, settings)

    monkeypatch.setitem(
        SOURCES,
        "vault",
        SOURCES["vault"].__class__(**{**SOURCES["vault"].__dict__, "parse": buggy}),
    )
    summary = ingest([tmp_path / "v"], store, IngestSettings(), show_progress=False)
    assert summary.files_new == 1 and "vault parser failed: KeyError" in summary.skipped[0][1]


# -- store ------------------------------------------------------------------------------


def test_migrations_are_named_applied_once_and_recorded(tmp_path):
    path = tmp_path / "m.db"
    with MemoryStore.open(path) as first:
        assert first.applied_migrations() == [name for name, _ in MIGRATIONS]
    with MemoryStore.open(path) as second:
        assert second.migrate() == []
    tables = {row[0] for row in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")}
    assert {"memories", "files", "memories_fts", "ingest_runs", "schema_migrations"} <= tables


def test_search_finds_words_phrases_and_survives_bad_syntax(sample_data, store):
    ingest([sample_data], store, IngestSettings(), identity=sample_identity(), show_progress=False)
    hits = store.search("sourdough starter", limit=5)
    assert hits and all("starter" in (m.text + m.title).lower() for m, _ in hits)
    phrase = store.search('"slack water"')
    assert phrase and all("slack water" in words_of(m) for m, _ in phrase)
    # A query FTS5 cannot parse is retried as its words ("tide", "AND"), both required.
    retried = store.search('tide" AND (')
    assert retried and all({"tide", "and"} <= set(words_of(m).split()) for m, _ in retried)
    assert [m.id for m, _ in retried] == [m.id for m, _ in store.search('"tide" "and"')]
    assert store.search("zzzqqq") == [] and store.search('" ( :') == []


def words_of(memory) -> str:
    """A memory's title and text as lower-case words, the way FTS5 tokenises them."""
    text = f"{memory.title} {memory.text}".lower()
    return " ".join("".join(c if c.isalnum() else " " for c in text).split())


def test_get_by_prefix(sample_data, store):
    ingest([sample_data], store, IngestSettings(), identity=sample_identity(), show_progress=False)
    memory = store.memories(limit=1)[0]
    assert store.get(memory.id[:8]).id == memory.id
    with pytest.raises(UserError, match="no memory"):
        store.get("ffffffffffff")


def test_glob_translation():
    skip = compile_globs(["**/.obsidian/**", "Templates/*.md", "*.tmp"])
    assert (
        skip.match(".obsidian/app.json")
        and skip.match("vault/.obsidian/")
        and skip.match("a/b/.obsidian/x/y")
    )
    assert skip.match("Templates/Daily.md") and not skip.match("Templates/sub/Daily.md")
    assert (
        skip.match("x.tmp") and not skip.match("dir/x.tmp") and not skip.match("notes/obsidian.md")
    )


def test_copy_of_sample_data_moves_with_stable_chat_ids(sample_data, tmp_path, store):
    """Chat memories are identified by conversation and message, so a moved export is not duplicated."""
    ingest([sample_data / "chats" / "chatgpt"], store, IngestSettings(), show_progress=False)
    first = store.count()
    moved = tmp_path / "moved"
    shutil.copytree(sample_data / "chats" / "chatgpt", moved)
    summary = ingest([moved], store, IngestSettings(), show_progress=False)
    assert summary.memories.added == 0 and store.count() == first


def test_deleting_the_old_export_keeps_memories_the_new_one_holds(sample_data, tmp_path, store):
    old = tmp_path / "old"
    shutil.copytree(sample_data / "chats" / "chatgpt", old)
    ingest([old], store, IngestSettings(), show_progress=False)
    count = store.count()
    new = tmp_path / "new"
    shutil.copytree(old, new)
    ingest([new], store, IngestSettings(), show_progress=False)
    shutil.rmtree(old)
    old.mkdir()
    summary = ingest([old], store, IngestSettings(), show_progress=False)
    assert summary.files_deleted == 1 and summary.memories.deleted == 0 and store.count() == count
