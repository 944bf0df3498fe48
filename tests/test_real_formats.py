"""Issue 14: real exports, only the person's own words reach training, in the right order.

One regression test per defect class, named after it, on fixtures that reproduce
the real formats (tests/fixtures/real, described in its README), then the
whole mixed export end to end: ingest, `memories stats`, a dataset.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from personaforge.config import DatasetSettings, IngestSettings, Settings
from personaforge.dataset import DatasetRequest, MixPlan, build_dataset
from personaforge.dataset.curate import Curated, curate, drop_prompt_holds_target, normalise
from personaforge.dataset.examples import Example
from personaforge.dataset.extract import (
    ExtractContext,
    conversations_of,
    extract_dialogue,
    extract_reflection,
    extract_voice,
)
from personaforge.dataset.privacy import find_secrets, scrub
from personaforge.ingest import ingest
from personaforge.paths import Paths
from personaforge.sources import SOURCES
from personaforge.store import MemoryStore
from tests.real_format import (
    CHATGPT_EXPORT,
    CLAUDE_CODE_SESSION,
    REAL,
    VAULT,
    as_memories,
    markup_in,
    parse_file,
)
from tests.test_messaging import MAREN


def context(memories=()) -> ExtractContext:
    return ExtractContext(DatasetSettings(person_name="Maren"), conversations_of(list(memories)))


def claude_code() -> list:
    return parse_file("claude-code", CLAUDE_CODE_SESSION).memories


def texts(memories, speaker: str) -> list[str]:
    return [m.text for m in memories if m.speaker == speaker]


# -- Claude Code JSONL ----------------------------------------------------------------------


def test_claude_code_compaction_summary_not_stored_as_self():
    memories = claude_code()
    mine = texts(memories, "self")
    assert not any("This session is being continued" in text for text in mine)
    assert not any("Primary Request and Intent" in m.text for m in memories)
    # The path crosses the compaction to its logical parent: both sides are read, in order.
    first = "The interpolation between high and low water is linear."
    after = "Where were we? Right, the release notes."
    assert any(first in text for text in mine) and any(after in text for text in mine)
    order = [m.meta["turn"] for m in memories if first in m.text or after in m.text]
    assert order == sorted(order) and len(order) == 2


def test_claude_code_machine_records_not_stored_as_self():
    mine = texts(claude_code(), "self")
    for marker in (
        "[Request interrupted by user",
        "<bash-input>",
        "pytest -q tests/test_interp.py",
        "<bash-stdout>",
        "4 passed in 0.21s",
        "<command-name>",
        "/model",
        "<local-command-stdout>",
        "Set model to opus",
        "<task-notification>",
        "Read the output file",
        "Caveat: The messages below",
        "<system-reminder>",
        "opened the file",
    ):
        assert not any(marker in text for text in mine), marker
    # What she typed is kept whole, each message its own turn (no machine record in between).
    assert (
        "Good. Now the chart labels: round heights to one decimal, I never want to see 1.8000001 m again."
        in mine
    )
    assert "Ship it. Tag it v1.4.0 and keep the changelog as written." in mine


def test_claude_code_rewind_follows_latest_branch(tmp_path):
    memories = claude_code()
    joined = "\n".join(m.text for m in memories)
    assert "Use numpy.round everywhere" not in joined  # the message she rewound and edited
    assert "Switched every rounding call to numpy.round." not in joined  # the answer to it
    assert "Round in the formatter only" in joined
    assert "found two: the widget tooltip" not in joined  # the sub-agent's sidechain
    as_rows = as_memories("claude-code", memories)
    examples = extract_dialogue(as_rows, context(as_rows))
    edited = next(e for e in examples if e.target.startswith("Round in the formatter only"))
    prompt = " ".join(m["content"] for m in edited.messages[:-1])
    assert "numpy.round" not in prompt and "I'll round in the chart label." in prompt
    turns = [m.meta["turn"] for m in memories]
    assert turns == list(range(len(memories)))


def test_claude_code_api_error_not_stored_as_turn():
    memories = claude_code()
    assert not any("API Error" in m.text or "overloaded_error" in m.text for m in memories)
    # The request she repeated after the error is still hers, next to the one it repeats.
    assert any("Try again, same request." in text for text in texts(memories, "self"))


def test_claude_code_summary_of_another_session_is_not_the_title():
    memories = claude_code()
    assert {m.title for m in memories} == {"Cosine tide interpolation and rounded chart labels"}


def test_claude_code_compaction_without_logical_parent_continues_the_earlier_tree(tmp_path):
    """Older logs start a compaction as a bare root: the path goes on from the newest leaf before it."""
    base = {"sessionId": "s", "isSidechain": False}
    lines = [
        {
            **base,
            "type": "user",
            "uuid": "u1",
            "parentUuid": None,
            "message": {"role": "user", "content": "First question, before compaction."},
        },
        {
            **base,
            "type": "assistant",
            "uuid": "a1",
            "parentUuid": "u1",
            "message": {"role": "assistant", "content": "First answer."},
        },
        {
            **base,
            "type": "user",
            "uuid": "c1",
            "parentUuid": None,
            "isCompactSummary": True,
            "message": {
                "role": "user",
                "content": "This session is being continued from a previous conversation that ran out of context.",
            },
        },
        {
            **base,
            "type": "user",
            "uuid": "u2",
            "parentUuid": "c1",
            "message": {"role": "user", "content": "Second question, after it."},
        },
    ]
    path = tmp_path / "s.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines))
    memories = parse_file("claude-code", path).memories
    assert [m.text for m in memories] == [
        "First question, before compaction.",
        "First answer.",
        "Second question, after it.",
    ]


# -- ChatGPT export -------------------------------------------------------------------------


def chatgpt() -> list:
    return parse_file("chatgpt", CHATGPT_EXPORT).memories


def test_chatgpt_voice_turns_keep_the_persons_words():
    voice = [m for m in chatgpt() if m.title == "Sunday long run pacing"]
    assert [m.speaker for m in voice] == ["self", "assistant", "self", "assistant"]
    assert voice[0].text == (
        "I want to run the half marathon in under an hour fifty, what should my long runs on Sunday look like?"
    )
    assert voice[1].text.startswith("Keep most of the long run easy")
    assert not any(markup_in(m.text) for m in voice)  # no asset pointer leaks as text


def test_chatgpt_tool_calls_tool_output_and_citations_are_not_turns():
    memories = chatgpt()
    joined = "\n".join(m.text for m in memories)
    for leaked in (
        "import pandas",  # code the assistant sent to python
        "Timestamp('2026-09-27",  # python's output (a tool message)
        "search_query",  # a search sent to web.run
        'search("Den Helder',  # a search sent to browser
        "Rijkswaterstaat",  # what the browser tool returned
        "Strongly dislikes treadmills",  # a memory write sent to bio
        "Model set context updated",  # bio's answer
        "Searching tide tables",  # reasoning
        "I lead the routing team",  # custom instructions
    ):
        assert leaked not in joined, leaked
    reply = next(m.text for m in memories if m.text.startswith("High water at Den Helder"))
    assert reply == (
        "High water at Den Helder tomorrow is at 06:42, so the ebb runs from about 07:00 until "
        "early afternoon. Older tables agree."
    )
    assert not any(markup_in(m.text) for m in memories)
    treadmill = [m.text for m in memories if m.title == "Treadmills"]
    assert treadmill[1] == "Noted: Sunday runs, and no treadmills in any plan I suggest."


# -- Obsidian vault ---------------------------------------------------------------------------


def vault_memories(name: str, **settings) -> list:
    return parse_file("vault", next(VAULT.rglob(name)), root=VAULT, **settings).memories


def test_vault_section_heading_not_in_reply():
    memories = vault_memories("Kayak.md", split_chars=200)
    assert [m.meta["heading_path"] for m in memories] == [["Hull"], ["Outfitting"], ["Repairs"]]
    assert not any(m.text.lstrip().startswith("#") for m in memories)
    examples = extract_voice(as_memories("vault", memories), context())
    assert examples and not any(e.target.lstrip().startswith("#") for e in examples)
    assert all(e.primary.meta["heading_path"][0] in e.messages[1]["content"] for e in examples)
    # A memory stored with its heading (an unsplit note, an older store): the dataset moves it.
    (daily,) = as_memories("vault", vault_memories("2026-10-12.md", split_chars=50_000))
    assert daily.text.startswith("# Monday 12 October\n\n## Morning")
    (example,) = extract_voice([daily], context())
    assert example.target.startswith("Rain at six") and "Morning" in example.messages[1]["content"]


def test_vault_comments_callouts_block_ids_html_and_frontmatter_lists_do_not_leak():
    memories = [
        *vault_memories("Tidewatch charts.md"),
        *vault_memories("2026-10-12.md", split_chars=200),
        *vault_memories("Kayak.md", split_chars=200),
    ]
    for memory in memories:
        assert markup_in(memory.text) == [], (memory.locator, markup_in(memory.text))
        assert markup_in(memory.title) == [] and "['" not in json.dumps(memory.meta)
    joined = "\n".join(m.text for m in memories)
    assert "ask Priya whether the tooltip" not in joined and "moon phase" not in joined  # comments
    assert "knees?" not in joined and "Rain at six, ran anyway. Eight easy" in joined
    assert "Why a cosine\nHarbour tables assume" in joined  # a callout keeps title and body
    assert "Press N to switch to the night palette." in joined  # text inside tags stays
    kayak = vault_memories("Kayak.md", split_chars=200)[0]
    assert kayak.title == "Kayak, Gear > Hull" and kayak.meta["note"] == "Kayak, Gear"
    charts = vault_memories("Tidewatch charts.md")[0]
    assert charts.meta["frontmatter"]["reviewers"] == ["Ingrid", "Priya"]
    assert charts.meta["frontmatter"]["started"] == "2026-06-03"


def test_vault_code_never_rewritten_and_never_yields_tags():
    source = next(VAULT.rglob("Tidewatch charts.md")).read_text()
    (memory,) = vault_memories("Tidewatch charts.md")
    python_block = source[source.index("```python") : source.rindex("```") + 3]
    assert python_block in memory.text  # byte for byte, links, %%, ^ids and html included
    css_lines = [
        line[2:]
        for line in source.splitlines()
        if line.startswith("> .") or line.startswith("> ```")
    ]
    assert "\n".join(css_lines[:4]) in memory.text  # code inside a callout: only the `> ` goes
    assert "`[[not a link]]`, `#not-a-tag`, `%% not a comment %%`, `<b>not bold</b>`" in memory.text
    assert memory.tags == ["project", "tidewatch", "design"]  # not fff, 0a3d62, ffd166, c0392b
    assert memory.meta["links"] == ["Tidewatch"]  # not "Design system" (in code) nor "not a link"


def test_undated_note_section_keeps_first_seen_date(tmp_path):
    settings = IngestSettings(split_chars=200)
    vault = tmp_path / "vault"
    vault.mkdir()
    note = vault / "Boat list.md"
    first = (
        "# Hull\n"
        + "Scratches filled, gelcoat sanded and polished. " * 6
        + "\n# Deck\n"
        + "Lines replaced, bungees fine. " * 6
    )
    note.write_text(first)
    os.utime(note, (1_767_000_000, 1_767_000_000))  # 2025-12-29
    with MemoryStore.open(tmp_path / "m.db") as store:
        ingest([vault], store, settings, show_progress=False)
        note.write_text(first.replace("bungees fine", "bungees replaced"))
        os.utime(note, (1_772_000_000, 1_772_000_000))  # 2026-02-25
        summary = ingest([vault], store, settings, show_progress=False)
        dates = {m.meta["heading_path"][0]: m.created_at[:10] for m in store.memories()}
    assert dates == {"Hull": "2025-12-29", "Deck": "2026-02-25"}
    assert vars(summary.memories) == {
        "added": 0,
        "updated": 1,
        "unchanged": 1,
        "deleted": 0,
        "forgotten": 0,
    }


# -- across sources -----------------------------------------------------------------------------


def test_reflections_only_from_own_writing_and_no_prompt_holds_its_target():
    said = "I think we should move the cutover to Tuesday, because the Monday team is thin."
    chat = as_memories("chatgpt", parse_file("chatgpt", CHATGPT_EXPORT).memories)
    chat_turn = next(m for m in chat if m.speaker == "self")
    chat_turn.text = said
    note = as_memories("vault", vault_memories("Kayak.md", split_chars=200))[0]
    note.text = said
    reflections = extract_reflection([chat_turn, note], context([chat_turn]))
    assert [e.primary.source for e in reflections] == ["vault"]  # never from a chat turn
    # A prompt that already holds its target (a title cut from the reply) is dropped.
    title = "I think we should move the cutover to Tuesday, because…"
    echo = Example("knowledge", context().chat(f"What is your view on {title}?", said), [note])
    fine = Example("knowledge", context().chat("What is your view on cutovers?", said), [note])
    result = Curated(kept=[])
    assert drop_prompt_holds_target([echo, fine], result) == [fine]
    assert result.dropped["prompt holds target"] == 1
    curated = curate([echo, fine], DatasetSettings(), {}, max_tokens=4096)
    assert [e.messages[1]["content"] for e in curated.kept] == ["What is your view on cutovers?"]


def test_privacy_prose_mentions_and_numeric_ids_are_not_secrets():
    prose = [
        "I changed my password yesterday and forgot it by lunch.",
        "My password was weak, so I made a longer one.",
        "We talked about password hygiene at lunch.",
        "Order 4532 0151 1283 0366 shipped on Tuesday.",  # passes Luhn, but it is an order number
        "Tracking number 4916338506082832, arrives Friday.",  # passes Luhn too
        "The server is at 192.168.100.200 on the cabin network.",
        "icon@2x.png and icon@3x.png are the retina assets.",
    ]
    for text in prose:
        assert find_secrets(text) == [], text
        assert not scrub(text, {"password": "drop", "card": "drop"}).drop
    for text, kind in (
        ("the wifi password is hunter2!", "password"),
        ("Cabin router admin password: Fjord-Lantern-42.", "password"),
        ("The race site declined my card 4111 1111 1111 1111 twice.", "card"),
        ("credit card: 4916338506082832", "card"),
    ):
        assert [f.kind for f in find_secrets(text)] == [kind], text


# -- the mixed export, end to end ----------------------------------------------------------------


def test_mixed_real_format_export_end_to_end(tmp_path):
    export = tmp_path / "export"
    shutil.copytree(REAL, export, ignore=shutil.ignore_patterns("README.md"))
    paths = Paths(tmp_path / "home")
    with MemoryStore.open(tmp_path / "memories.db") as store:
        summary = ingest(
            [export], store, IngestSettings(split_chars=200), identity=MAREN, show_progress=False
        )
        assert summary.skipped == [] and summary.bad_records == []
        assert set(summary.files_by_source) == set(SOURCES) - {
            "claude",
            "episodic",
            "jsonl",
            "feedback",
        }
        stats = store.stats()
        # 12 from the compacted session, 6 from the resumed one (stored once, not 10)
        assert stats["by_source"]["claude-code"] == 18 and stats["by_source"]["chatgpt"] == 20
        for memory in store.memories():
            assert markup_in(memory.text) == [], (memory.locator, markup_in(memory.text))
        result = build_dataset(store, Settings(), paths, DatasetRequest(MixPlan("foundation")))
    records = [
        json.loads(line)
        for name in ("train.jsonl", "eval.jsonl")
        for line in (result.folder / name).read_text().splitlines()
    ]
    assert records
    for record in records:
        for message in record["messages"]:
            assert markup_in(message["content"]) == [], (record["meta"]["locator"], message)
        assert record["meta"]["kind"] != "reflection" or record["meta"]["source"] == "vault"
    dialogue = [
        r
        for r in records
        if r["meta"]["kind"] == "dialogue" and r["meta"]["source"] == "claude-code"
    ]
    assert dialogue and not any("numpy.round" in json.dumps(r) for r in dialogue)
    for record in records:  # no example's prompt holds its target
        prompt = normalise(" ".join(m["content"] for m in record["messages"][1:-1]))
        assert normalise(record["messages"][-1]["content"]) not in prompt


def test_vault_ids_survive_moving_the_vault(tmp_path):
    """Memory ids key on the vault-relative path, so moving the vault keeps ids and the eval split."""
    first = tmp_path / "a" / "Notes"
    shutil.copytree(VAULT, first)
    moved = tmp_path / "b" / "deeper" / "Notes"
    with MemoryStore.open(tmp_path / "m.db") as store:
        ingest([first], store, IngestSettings(split_chars=200), show_progress=False)
        before = {m.id: (m.locator, m.text) for m in store.memories()}
        moved.parent.mkdir(parents=True)
        shutil.move(str(first), moved)
        summary = ingest([moved], store, IngestSettings(split_chars=200), show_progress=False)
        after = {m.id: (m.locator, m.text) for m in store.memories()}
        # Naming a folder inside the vault finds the vault root (.obsidian) and gives the same ids.
        ingest([moved / "Gear"], store, IngestSettings(split_chars=200), show_progress=False)
        inner = {m.id for m in store.memories() if m.file_path.startswith(str(moved / "Gear"))}
    assert before and after == before
    assert summary.memories.added == 0 and summary.memories.updated == 0
    assert all(locator.startswith("Notes/") for locator, _ in after.values())
    assert inner and inner <= set(before)


def test_real_fixtures_are_what_the_readme_says(tmp_path):
    readme = (REAL / "README.md").read_text()
    for path in REAL.rglob("*"):
        if path.is_file() and path.name not in ("README.md", "app.json"):
            assert path.name in readme or path.parent.name in readme, path
    assert Path(CLAUDE_CODE_SESSION).exists() and CHATGPT_EXPORT.exists()
