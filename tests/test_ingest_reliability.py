"""Issue 24 items found in ingest: a killed run left `running`, and the quadratic long-line cutter."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from itertools import pairwise

from personaforge.config import IngestSettings
from personaforge.sources import SOURCES
from personaforge.sources.vault import cut_spans
from personaforge.store import STALE_AFTER_S, MemoryStore
from tests.test_sources import source_file

# -- a killed ingest is not `running` forever --------------------------------------------------


def test_killed_ingest_is_marked_interrupted_when_the_store_next_opens(tmp_path):
    db = tmp_path / "memories.db"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from pathlib import Path
                from personaforge.store import MemoryStore
                store = MemoryStore.open(Path({str(db)!r}))
                store.start_run(["/vault"])
                print("started", flush=True)
                time.sleep(120)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "started"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    with MemoryStore.open(db) as store:
        run = store.last_run()
    assert run["status"] == "interrupted" and run["finished_at"]
    assert f"pid {child.pid}" in run["summary"]["stale"]


def test_a_live_run_stays_running_and_a_silent_one_does_not(tmp_path):
    with MemoryStore.open(tmp_path / "memories.db") as store:
        live = store.start_run(["/vault"])  # this process: alive, heartbeat now
        silent = store.start_run(["/other"])
        long_ago = (datetime.now(timezone.utc) - timedelta(seconds=STALE_AFTER_S + 60)).isoformat(
            timespec="seconds"
        )
        store.db.execute(  # a run on another machine that stopped writing heartbeats
            "UPDATE ingest_runs SET host = 'elsewhere', heartbeat_at = ? WHERE id = ?",
            (long_ago, silent),
        )
        assert store.close_stale_runs() == 1
        statuses = dict(store.db.execute("SELECT id, status FROM ingest_runs").fetchall())
        summary = json.loads(
            store.db.execute("SELECT summary FROM ingest_runs WHERE id = ?", (silent,)).fetchone()[
                0
            ]
        )
    assert statuses == {live: "running", silent: "interrupted"}
    assert "no sign of life since" in summary["stale"]


def test_a_finished_ingest_writes_heartbeats_and_finishes(tmp_path):
    from personaforge.ingest import ingest

    (tmp_path / "v").mkdir()
    for index in range(7):
        (tmp_path / "v" / f"n{index}.md").write_text(f"note {index}")
    with MemoryStore.open(tmp_path / "memories.db") as store:
        ingest([tmp_path / "v"], store, IngestSettings(batch_files=2), show_progress=False)
        row = store.db.execute(
            "SELECT status, pid, host, heartbeat_at FROM ingest_runs ORDER BY id DESC"
        ).fetchone()
    assert row["status"] == "finished" and row["pid"] == os.getpid() and row["heartbeat_at"]


# -- the long-paragraph cutter is one pass ------------------------------------------------------


def test_five_megabyte_single_line_note_is_cut_in_one_pass():
    """A one-line note with no paragraph break, cut into 500-character parts.

    The old cutter re-sliced the rest of the line at every cut: 10,000 cuts of a
    5 MB line copied about 50 GB (quadratic; 49.5 MB took 216 s at 6,000-character
    parts). The spans below tile the line: each character is looked at a bounded
    number of times.
    """
    words = " ".join(f"w{i % 9973}" for i in range(900_000))
    assert len(words) > 5_000_000
    spans = cut_spans(words, 500)
    assert all(0 < end - start <= 500 for start, end in spans)
    assert all(a_end == b_start for (_, a_end), (b_start, _) in pairwise(spans))
    assert spans[0][0] == 0 and spans[-1][1] == len(words)
    assert len(spans) < len(words) / 250  # cuts land on spaces in the second half of a part
    memories = (
        SOURCES["vault"]
        .parse(source_file("One line.md", words), IngestSettings(max_memory_chars=500))
        .memories
    )
    assert len(memories) == len(spans)
    assert " ".join(m.text for m in memories) == words


def test_cut_spans_keeps_paragraphs_whole_while_they_fit():
    text = "alpha beta\n\ngamma\n\n" + "x" * 1200 + "\n\ndelta"
    parts = [text[s:e].strip() for s, e in cut_spans(text, 500)]
    assert parts[0] == "alpha beta\n\ngamma"
    assert all(len(part) <= 500 for part in parts) and parts[-1].endswith("delta")
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")


# -- Ctrl-C while a file is being written ------------------------------------------------------


def test_ctrl_c_in_the_middle_of_a_file_write_commits_it_whole_and_stops(
    tmp_path, monkeypatch, request
):
    """SIGINT arrives after a file's memories are written and before its files row is: the file
    is finished, the batch commits it with the ones before, and nothing after it is read."""
    from personaforge.ingest import ingest
    from personaforge.store.write import WritePath

    vault = tmp_path / "v"
    vault.mkdir()
    for index in range(10):
        (vault / f"n{index}.md").write_text(f"note {index}\n\n## part\n\nmore of note {index}")
    real_upsert = WritePath._upsert_file
    calls = []

    def upsert_after_ctrl_c(self, *args, **kwargs):
        calls.append(args[0])
        if len(calls) == 7:
            os.kill(os.getpid(), signal.SIGINT)  # Python runs the handler before the next line
        return real_upsert(self, *args, **kwargs)

    monkeypatch.setattr(WritePath, "_upsert_file", upsert_after_ctrl_c)
    # Python's own Ctrl-C handler, as under the CLI: pytest run as a background job starts
    # with SIGINT ignored. (A training that raised once left its handler installed, which
    # swallowed this signal; tests/test_train.py now guards that.)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, before))
    with MemoryStore.open(tmp_path / "memories.db") as store:
        summary = ingest([vault], store, IngestSettings(batch_files=4), show_progress=False)
        assert summary.interrupted and summary.files_new == 7 and len(calls) == 7
        files = {row[0] for row in store.db.execute("SELECT path FROM files")}
        with_memories = {row[0] for row in store.db.execute("SELECT file_path FROM memories")}
        assert files == with_memories and len(files) == 7 and store.count() == 7
        assert store.last_run()["status"] == "interrupted"
        monkeypatch.undo()
        summary = ingest([vault], store, IngestSettings(batch_files=4), show_progress=False)
        assert summary.files_new == 3 and summary.files_unchanged == 7 and store.count() == 10
