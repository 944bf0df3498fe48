"""Each source parser on crafted inputs, nasty cases included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from personaforge.config import IngestSettings
from personaforge.sources import SOURCES, SkipFile, SourceFile, detect
from personaforge.sources import vault as vault_source

SETTINGS = IngestSettings()


def source_file(name: str, content: str | bytes, mtime: float = 1_780_000_000.0) -> SourceFile:
    data = content.encode() if isinstance(content, str) else content
    return SourceFile(Path("/vault") / name, name, data, mtime)


def parse(source: str, name: str, content: str | bytes, **settings):
    return SOURCES[source].parse(source_file(name, content), IngestSettings(**settings))


# -- vault -----------------------------------------------------------------------


def test_tags_from_prose_not_from_code_urls_links_or_headings():
    text = (
        "# Heading #notheading-really\n"
        "Ran 10k #running/log and felt #good.\n"
        "See https://example.com/page#anchor and [[Note#Section]] and [x](page#frag).\n"
        "Inline `#not-code` here. Issue #42 is a number, &#35; is an entity.\n"
        "```python\n# comment #fenced\nx = 1  #also-fenced\n```\n"
        "~~~\n#tilde-fenced\n~~~\n"
        "(#paren) end #last"
    )
    assert vault_source.inline_tags(text) == [
        "notheading-really",
        "running/log",
        "good",
        "paren",
        "last",
    ]


def test_heading_hash_is_never_a_tag():
    assert vault_source.inline_tags("## Plans\n### Next week\n#real") == ["real"]


def test_frontmatter_tags_aliases_and_date():
    note = "---\ntags: [project, '#tidewatch']\naliases: [tide app]\ncreated: 2026-06-02\n---\nBody text #inline\n"
    (memory,) = parse("vault", "Projects/Tidewatch.md", note).memories
    assert memory.tags == ["project", "tidewatch", "inline"]
    assert memory.created_at == "2026-06-02T00:00:00"
    assert (
        memory.meta["aliases"] == ["tide app"] and memory.meta["date_from"] == "frontmatter:created"
    )
    assert memory.title == "Tidewatch" and memory.text == "Body text #inline"


@pytest.mark.parametrize(
    ("relative", "expected", "origin"),
    [
        ("Journal/2026/04/2026-04-15.md", "2026-04-15T00:00:00", "filename"),
        ("2026-04-15 standup.md", "2026-04-15T00:00:00", "filename"),
        ("Journal/2026/04/15.md", "2026-04-15T00:00:00", "folders"),
        ("Ideas/2026-13-45 nonsense.md", None, "mtime"),
    ],
)
def test_note_dates_from_path_then_mtime(relative, expected, origin):
    assert vault_source.note_date({}, relative) == (expected, origin)


def test_mtime_is_the_last_resort():
    (memory,) = parse("vault", "Ideas/loose.md", "A thought.").memories
    assert memory.created_at.startswith("2026-05-28T") and memory.meta["date_from"] == "mtime"


def test_wikilinks_and_embeds_become_readable():
    text, links = vault_source.readable_links(
        "Met [[Ingrid Holt|my sister]], read [[Deep Work#Rules]], see ![[diagram.png]] and ![[Recipe]] [[Page#^abc123]]"
    )
    assert (
        text
        == "Met my sister, read Deep Work > Rules, see (attachment: diagram.png) and (embedded note: Recipe) Page"
    )
    assert links == ["Ingrid Holt", "Deep Work", "diagram.png", "Recipe", "Page"]


def test_long_note_splits_at_headings_with_heading_path_in_locator():
    body = (
        "Intro line.\n\n# Work\n"
        + "Migration notes. " * 150
        + "\n## Risks\nTimeouts. #risk\n# Home\nBread.\n"
    )
    memories = parse("vault", "Big.md", body, split_chars=1000).memories
    locators = [m.locator.split("#", 1)[1] if "#" in m.locator else "" for m in memories]
    assert locators == ["", "Work", "Work > Risks", "Home"]
    assert memories[2].tags == ["risk"] and memories[2].title == "Big > Work > Risks"
    # The heading is the section's name (locator, title, meta), not part of its text (issue 14.7).
    assert memories[1].text.startswith("Migration notes.")
    assert memories[1].meta["heading_path"] == ["Work"]


def test_heading_inside_code_fence_does_not_split():
    body = "# Real\n" + "x " * 800 + "\n```bash\n# not a heading\necho hi\n```\nmore text\n"
    memories = parse("vault", "Code.md", body, split_chars=500).memories
    assert len(memories) == 1 and "# not a heading" in memories[0].text


def test_five_megabyte_note_is_cut_into_bounded_parts():
    paragraph = "A long paragraph about tides and bread. " * 20
    body = "# Archive\n" + "\n\n".join(paragraph for _ in range(6500))
    assert len(body) > 5_000_000
    memories = parse("vault", "Archive.md", body).memories
    assert len(memories) > 800
    assert all(len(m.text) <= SETTINGS.max_memory_chars for m in memories)
    assert len({m.locator for m in memories}) == len(memories)


def test_crlf_and_bom_are_normalised():
    note = "\ufeff---\r\ntags: [a]\r\n---\r\nLine one\r\nLine two #b\r\n".encode()
    (memory,) = parse("vault", "Win.md", note).memories
    assert memory.text == "Line one\nLine two #b" and memory.tags == ["a", "b"]


def test_broken_frontmatter_is_reported_not_fatal():
    parsed = parse("vault", "Broken.md", "---\ntags: [a, b\ntitle: : :\n---\nStill here.\n")
    assert [m.text for m in parsed.memories] == ["Still here."]
    assert "frontmatter is not valid YAML" in parsed.warnings[0]


def test_empty_note_holds_no_memory():
    assert parse("vault", "Empty.md", "").memories == []
    assert parse("vault", "OnlyMeta.md", "---\ntags: [x]\n---\n\n").memories == []


@pytest.mark.parametrize("note", ["[[]]", "[[ ]]\n", "[[|]]", "[[#]]"])
def test_a_note_of_only_an_empty_link_is_no_memory(note):
    assert parse("vault", "Empty link.md", note).memories == []


def test_not_utf8_is_skipped_with_a_reason():
    with pytest.raises(SkipFile, match="not UTF-8"):
        parse("vault", "Latin.md", "Café".encode("latin-1"))


def test_reflective_tags_and_journal_folders_set_the_mode():
    assert parse("vault", "Ideas/x.md", "Looking back. #insight").memories[0].mode == "reflection"
    assert parse("vault", "Journal/2026-01-01.md", "Cold.").memories[0].mode == "reflection"
    assert parse("vault", "Areas/Bread.md", "Flour, water.").memories[0].mode == "observation"


# -- ChatGPT ------------------------------------------------------------------------


def chatgpt_conversation():
    def node(node_id, parent, role, text, children, t):
        message = {
            "id": node_id,
            "author": {"role": role},
            "create_time": t,
            "content": {"content_type": "text", "parts": [text]},
            "metadata": {},
        }
        return {"id": node_id, "message": message, "parent": parent, "children": children}

    mapping = {
        "root": {"id": "root", "message": None, "parent": None, "children": ["sys"]},
        "sys": {**node("sys", "root", "system", "", ["u1"], None)},
        "u1": node("u1", "sys", "user", "Should I use Postgres?", ["a1"], 1780000000),
        "a1": node("a1", "u1", "assistant", "Depends.", ["u2-old", "u2"], 1780000010),
        "u2-old": node("u2-old", "a1", "user", "ABANDONED branch text", ["a2-old"], 1780000020),
        "a2-old": node("a2-old", "u2-old", "assistant", "old answer", [], 1780000030),
        "u2": node("u2", "a1", "user", "It is read-mostly and offline.", ["a2"], 1780000040),
        "a2": node("a2", "u2", "assistant", "Then SQLite.", [], 1780000050),
    }
    mapping["sys"]["message"]["metadata"] = {"is_visually_hidden_from_conversation": True}
    return {
        "title": "DB choice",
        "create_time": 1780000000,
        "mapping": mapping,
        "current_node": "a2",
        "conversation_id": "conv-1",
    }


def test_chatgpt_walks_the_current_branch_only():
    parsed = parse("chatgpt", "conversations.json", json.dumps([chatgpt_conversation()]))
    texts = [(m.speaker, m.text) for m in parsed.memories]
    assert texts == [
        ("self", "Should I use Postgres?"),
        ("assistant", "Depends."),
        ("self", "It is read-mostly and offline."),
        ("assistant", "Then SQLite."),
    ]
    assert [m.meta["turn"] for m in parsed.memories] == [0, 1, 2, 3]
    assert parsed.memories[0].locator == "conv-1/u1" and parsed.memories[0].mode == "conversation"
    assert parsed.memories[0].created_at == "2026-05-28T20:26:40+00:00"


def test_chatgpt_bad_conversation_is_counted_and_the_rest_kept():
    parsed = parse(
        "chatgpt", "conversations.json", json.dumps([{"title": "x"}, chatgpt_conversation()])
    )
    assert len(parsed.bad) == 1 and len(parsed.memories) == 4


def test_chatgpt_not_a_list_is_skipped():
    with pytest.raises(SkipFile, match="not a chatgpt export"):
        parse("chatgpt", "conversations.json", '"mapping"')
    with pytest.raises(SkipFile, match="not valid JSON"):
        parse("chatgpt", "conversations.json", '[{"mapping": ')


# -- Claude.ai -----------------------------------------------------------------------


def test_claude_export_messages_and_speakers():
    export = [
        {
            "uuid": "c1",
            "name": "Runbook",
            "created_at": "2026-09-08T20:00:00Z",
            "chat_messages": [
                {
                    "uuid": "m1",
                    "sender": "human",
                    "text": "Write a runbook.",
                    "content": [{"type": "text", "text": "Write a runbook."}],
                    "created_at": "2026-09-08T20:00:00Z",
                },
                {
                    "uuid": "m2",
                    "sender": "assistant",
                    "text": "",
                    "content": [{"type": "text", "text": "Here it is."}],
                    "created_at": "2026-09-08T20:00:05Z",
                },
            ],
        }
    ]
    parsed = parse("claude", "conversations.json", json.dumps(export))
    assert [(m.speaker, m.text) for m in parsed.memories] == [
        ("self", "Write a runbook."),
        ("assistant", "Here it is."),
    ]
    assert parsed.memories[0].title == "Runbook"


# -- Claude Code ----------------------------------------------------------------------


def claude_code_lines():
    base = {"sessionId": "s1", "cwd": "/home/me/proj", "isSidechain": False}
    return [
        {"type": "summary", "summary": "Fix the midnight bug"},
        {
            **base,
            "type": "user",
            "uuid": "u1",
            "timestamp": "2026-07-20T19:02:00Z",
            "message": {
                "role": "user",
                "content": "<system-reminder>\nopened a file\n</system-reminder>\nWrite a failing test first.",
            },
        },
        {
            **base,
            "type": "assistant",
            "uuid": "a1",
            "timestamp": "2026-07-20T19:02:40Z",
            "message": {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "SECRET THOUGHTS"},
                    {"type": "text", "text": "Starting with a test."},
                    {
                        "type": "tool_use",
                        "name": "Bash",
                        "input": {"command": "pytest -x tests/test_slack.py"},
                    },
                ],
            },
        },
        {
            **base,
            "type": "user",
            "uuid": "u2",
            "message": {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t", "content": "TOOL OUTPUT 1 failed"}
                ],
            },
        },
        {
            **base,
            "type": "assistant",
            "uuid": "a2",
            "message": {
                "role": "assistant",
                "content": [{"type": "text", "text": "The test fails as expected."}],
            },
        },
        {
            **base,
            "type": "user",
            "uuid": "sc",
            "isSidechain": True,
            "message": {"role": "user", "content": "SIDECHAIN"},
        },
        {
            **base,
            "type": "user",
            "uuid": "u3",
            "message": {"role": "user", "content": "Good, now fix it."},
        },
    ]


def test_claude_code_keeps_text_summarises_tools_drops_the_rest():
    content = (
        "\n".join(json.dumps(line) for line in claude_code_lines()) + '\n{"type": "user", "mess'
    )
    parsed = parse("claude-code", "s1.jsonl", content)
    texts = [(m.speaker, m.text) for m in parsed.memories]
    assert texts == [
        ("self", "Write a failing test first."),
        (
            "assistant",
            "Starting with a test.\n[tool Bash: pytest -x tests/test_slack.py]\n\nThe test fails as expected.",
        ),
        ("self", "Good, now fix it."),
    ]
    joined = " ".join(t for _, t in texts)
    assert "SECRET" not in joined and "TOOL OUTPUT" not in joined and "SIDECHAIN" not in joined
    assert "system-reminder" not in joined
    assert (
        parsed.memories[0].title == "Fix the midnight bug"
        and parsed.memories[0].meta["project"] == "/home/me/proj"
    )
    assert len(parsed.bad) == 1 and "not valid JSON" in parsed.bad[0]  # the truncated last line


# -- generic JSONL, episodic, feedback ------------------------------------------------


def test_generic_jsonl_both_shapes():
    content = "\n".join(
        [
            json.dumps({"role": "user", "content": "hi", "conversation_id": "a"}),
            json.dumps({"role": "assistant", "content": "hello", "conversation_id": "a"}),
            json.dumps(
                {
                    "messages": [
                        {"role": "system", "content": "be nice"},
                        {"role": "user", "content": "q"},
                        {"role": "assistant", "content": [{"type": "text", "text": "r"}]},
                    ],
                    "id": "b",
                }
            ),
            json.dumps({"role": "user"}),
        ]
    )
    parsed = parse("jsonl", "log.jsonl", content)
    assert sorted((m.meta["conversation_id"], m.speaker, m.text) for m in parsed.memories) == [
        ("a", "assistant", "hello"),
        ("a", "self", "hi"),
        ("b", "assistant", "r"),
        ("b", "self", "q"),
    ]
    assert len(parsed.bad) == 1


def test_episodic_mode_from_type_then_cognitive_mode():
    event = {
        "id": "e1",
        "timestamp": "2026-06-02T16:37:00.000Z",
        "content": "Wrote to Jonas.",
        "type": "inner_dialogue",
        "tags": ["daily"],
        "entities": ["Jonas"],
        "metadata": {"cognitiveMode": "dual"},
    }
    (memory,) = parse("episodic", "e1.json", json.dumps(event)).memories
    assert (memory.mode, memory.tags, memory.locator) == ("reflection", ["daily"], "e1")
    assert memory.created_at == "2026-06-02T16:37:00+00:00"
    other = {**event, "type": "something-new", "metadata": {"cognitiveMode": "agent"}}
    assert parse("episodic", "e2.json", json.dumps(other)).memories[0].mode == "agent"


def test_episodic_schema_violation_is_skipped_with_what_is_missing():
    with pytest.raises(SkipFile, match="missing content"):
        parse("episodic", "bad.json", json.dumps({"id": "x", "timestamp": "2026-07-01T08:00:00Z"}))


def test_feedback_pairs_and_ratings_and_a_bad_line():
    content = "\n".join(
        [
            json.dumps({"prompt": "Postgres?", "chosen": "No. SQLite.", "rejected": "It depends!"}),
            json.dumps({"prompt": "Week?", "response": "Fine.", "rating": 4}),
            json.dumps({"prompt": "Missing answers"}),
            "{not json",
        ]
    )
    parsed = parse("feedback", "corrections.jsonl", content)
    kinds = [(m.meta["kind"], m.text) for m in parsed.memories]
    assert kinds == [("preference", "No. SQLite."), ("rating", "Fine.")]
    assert (
        parsed.memories[0].meta["rejected"] == "It depends!"
        and parsed.memories[0].mode == "feedback"
    )
    assert len(parsed.bad) == 2


def test_feedback_locators_do_not_depend_on_where_the_folder_is():
    row = json.dumps({"prompt": "Postgres?", "chosen": "No. SQLite.", "rejected": "It depends!"})
    locators = [
        SOURCES["feedback"]
        .parse(
            SourceFile(Path(root) / "feedback/c.jsonl", "feedback/c.jsonl", row.encode(), 0.0),
            IngestSettings(),
        )
        .memories[0]
        .locator
        for root in ("/home/a/data", "/tmp/clone/data")
    ]
    assert locators[0] == locators[1] and locators[0].startswith("feedback/c.jsonl#")


# -- detection -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "head", "expected"),
    [
        ("note.md", b"", "vault"),
        ("conversations.json", b'[{"title": "x", "mapping": {', "chatgpt"),
        ("conversations.json", b'[{"uuid": "x", "chat_messages": [', "claude"),
        ("abc.jsonl", b'{"type": "user", "sessionId": "s"}', "claude-code"),
        ("c.jsonl", b'{"prompt": "p", "chosen": "c", "rejected": "r"}', "feedback"),
        ("evt.json", b'{"id": "e", "timestamp": "t", "content": "c"}', "episodic"),
        ("log.jsonl", b'{"role": "user", "content": "hi"}', "jsonl"),
        ("photo.png", b"\x89PNG", None),
        ("settings.json", b'{"theme": "dark"}', None),
    ],
)
def test_detect(name, head, expected):
    found = detect(name, head)
    assert (found.name if found else None) == expected
