"""Parser fuzzing (issue 24, item 5): every source parser on malformed, truncated, huge and non-UTF-8 input.

What must hold for each: the parser returns (or skips the whole file with a
`SkipFile` reason), never raises anything else; every bad record inside a good
file is skipped and counted with a reason, and the good records around it are
kept. Valid records are generated in each format, then broken in the ways real
files break: a session killed mid-write, a stray binary line, a record of the
wrong shape, nesting deeper than any real export, one 2 MB record.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personaforge.config import IngestSettings
from personaforge.sources import SOURCES, Parsed, SkipFile, SourceFile

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SETTINGS = IngestSettings(split_chars=300, max_memory_chars=500)
NAMES = {
    "vault": "note.md",
    "chatgpt": "conversations.json",
    "claude": "conversations.json",
    "claude-code": "session.jsonl",
    "episodic": "event.json",
    "jsonl": "log.jsonl",
    "feedback": "corrections.jsonl",
}
words = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=40
).filter(str.strip)  # a record of blanks is a bad record, not a good one


def run(source: str, data: bytes) -> Parsed | None:
    """Parse; None when the whole file was skipped. Anything but SkipFile fails the test."""
    file = SourceFile(Path("/fuzz") / NAMES[source], NAMES[source], data, 1_780_000_000.0)
    try:
        parsed = SOURCES[source].parse(file, SETTINGS)
    except SkipFile as exc:
        assert str(exc), "a skipped file needs a reason"
        return None
    assert isinstance(parsed, Parsed)
    for memory in parsed.memories:
        assert isinstance(memory.text, str) and memory.text.strip() and memory.locator
        assert isinstance(memory.created_at, str)
    assert all(isinstance(reason, str) and reason for reason in parsed.bad)
    return parsed


# -- valid records per format ----------------------------------------------------------------

GOOD_LINE = {
    "claude-code": lambda n, text: {
        "type": "user" if n % 2 == 0 else "assistant",
        "sessionId": "s",
        "uuid": f"u{n}",
        "parentUuid": f"u{n - 1}" if n else None,
        "message": {"role": "user" if n % 2 == 0 else "assistant", "content": text},
    },
    "jsonl": lambda n, text: {"role": "user" if n % 2 == 0 else "assistant", "content": text},
    "feedback": lambda n, text: {"prompt": f"q{n}", "chosen": text, "rejected": "no"},
}
# Lines that are records of the wrong shape for each format: counted, not fatal.
WRONG_SHAPE = {
    "claude-code": {"type": "user", "sessionId": "s", "uuid": "broken"},  # no message
    "jsonl": {"role": "user"},  # no content
    "feedback": {"prompt": "only a prompt"},
}
# Lines that are not records at all, as real files break.
BROKEN_LINES = {
    "truncated": lambda good: json.dumps(good).encode()[: len(json.dumps(good)) // 2],
    "not utf-8": lambda good: json.dumps(good).encode().replace(b'"', b'"\xff\xfe', 1),
    "not an object": lambda good: b"[1, 2, 3]",
    "a bare string": lambda good: b'"just text"',
    "nul bytes": lambda good: b'{"role": "user", "content": "a\x00b"}',
    "nested too deeply": lambda good: b"[" * 50_000 + b"]" * 50_000,
}


@pytest.mark.parametrize("source", sorted(GOOD_LINE))
@FUZZ
@given(
    texts=st.lists(words, min_size=2, max_size=8),
    broken=st.lists(st.sampled_from(sorted(BROKEN_LINES)), min_size=1, max_size=4),
    wrong=st.integers(0, 2),
    data=st.data(),
)
def test_jsonl_sources_skip_and_count_each_bad_line(source, texts, broken, wrong, data, trials):
    """JSONL parsers (Claude Code, chat logs, corrections): each broken line counted, the rest kept."""
    lines = [json.dumps(GOOD_LINE[source](n, t)).encode() for n, t in enumerate(texts)]
    bad = [BROKEN_LINES[kind](GOOD_LINE[source](0, "x")) for kind in broken]
    bad += [json.dumps(WRONG_SHAPE[source]).encode()] * wrong
    for line in bad:
        lines.insert(data.draw(st.integers(0, len(lines))), line)
    parsed = run(source, b"\n".join(lines))
    assert parsed is not None, "good lines were there: the file is not skipped whole"
    assert len(parsed.bad) == len(bad), parsed.bad
    kept = "\n".join(m.text for m in parsed.memories)
    assert all(text.strip() in kept for text in texts if text.strip())
    trials.add()
    trials.held("each broken line skipped with a reason; the good lines around it kept")


@pytest.mark.parametrize("source", sorted(NAMES))
@FUZZ
@given(cut=st.floats(0, 1), seed=st.integers(0, 2**16))
def test_truncated_files_never_crash(source, cut, seed, trials):
    """Every parser on a real-looking file cut off at a random byte (a session killed mid-write)."""
    document = sample_document(source, seed)
    size = int(len(document) * cut)
    parsed = run(source, document[:size])
    if source == "vault":  # any prefix of a note is a (shorter) note
        assert parsed is not None
    elif source not in GOOD_LINE:  # a JSON document cut short is not JSON: skipped whole
        assert (parsed is None) == (size < len(document)), size
    else:  # JSONL: every line written in full is kept; only the cut one is counted bad
        spans = line_spans(document)
        whole = [n for n, (_, end) in enumerate(spans) if end <= size]
        cut_line = any(start < size < end for start, end in spans)
        if not whole:
            assert parsed is None if cut_line else not parsed.memories
        else:
            assert len(parsed.bad) == int(cut_line), parsed.bad
            kept = "\n".join(m.text for m in parsed.memories)
            assert all(f"{record_text(seed)} {n}" in kept for n in whole), (whole, kept)
    trials.add()
    trials.held(
        "a cut JSON file skipped with a reason; every whole JSONL line kept, the cut one counted"
    )


@pytest.mark.parametrize("source", sorted(NAMES))
@FUZZ
@given(seed=st.integers(0, 2**16), position=st.floats(0, 1), junk=st.binary(min_size=1, max_size=8))
def test_non_utf8_bytes_anywhere_never_crash(source, seed, position, junk, trials):
    """Every parser with invalid UTF-8 spliced in at a random place."""
    document = sample_document(source, seed)
    at = int(len(document) * position)
    parsed = run(source, document[:at] + b"\xff" + junk + document[at:])
    trials.add()
    trials.held("non-UTF-8 input: the file or the line is skipped with a reason, the rest read")
    if source not in GOOD_LINE:  # one document: it is UTF-8 or it is skipped whole
        assert parsed is None
        return
    # Line by line: the damaged line is counted as not UTF-8, the lines it did not touch read.
    assert parsed is not None and any("not UTF-8" in reason for reason in parsed.bad), parsed.bad
    untouched = [n for n, (start, end) in enumerate(line_spans(document)) if not start <= at <= end]
    if source == "claude-code":  # a turn whose parent is lost starts a new branch: the
        untouched = [n for n in untouched if n == 3]  # newest one is kept, earlier may not be
    kept = "\n".join(m.text for m in parsed.memories)
    assert all(f"{record_text(seed)} {n}" in kept for n in untouched), (untouched, kept)


def line_spans(document: bytes) -> list[tuple[int, int]]:
    """(start, end) byte offsets of each line; end is where its newline (or the file) ends it."""
    spans, start = [], 0
    for line in document.split(b"\n"):
        spans.append((start, start + len(line)))
        start += len(line) + 1
    return spans


def record_text(seed: int) -> str:
    return f"record {seed} with some words"


def sample_document(source: str, seed: int) -> bytes:
    """A small valid file of each format (the content varies with the seed)."""
    text = record_text(seed)
    if source in GOOD_LINE:
        return "\n".join(json.dumps(GOOD_LINE[source](n, f"{text} {n}")) for n in range(4)).encode()
    if source == "vault":
        return (
            f"---\ntags: [a, b]\n---\n# Title {seed}\n\n> [!note] Callout\n> ```\n> code [[x]]\n> ```\n\n"
            f"%% hidden %% {text} ^block1\n\n<div>{text}</div>\n"
        ).encode()
    if source == "chatgpt":
        mapping = {
            "r": {"id": "r", "message": None, "parent": None, "children": ["u"]},
            "u": {
                "id": "u",
                "parent": "r",
                "children": [],
                "message": {
                    "id": "u",
                    "author": {"role": "user"},
                    "content": {"content_type": "text", "parts": [text]},
                },
            },
        }
        return json.dumps([{"id": "c", "mapping": mapping, "current_node": "u"}]).encode()
    if source == "claude":
        message = {
            "uuid": "m",
            "sender": "human",
            "text": text,
            "created_at": "2026-01-01T00:00:00Z",
        }
        return json.dumps([{"uuid": "c", "name": "n", "chat_messages": [message]}]).encode()
    if source == "episodic":
        return json.dumps(
            {"id": f"e{seed}", "timestamp": "2026-06-02T10:00:00Z", "content": text}
        ).encode()
    raise AssertionError(source)


# -- whole-document formats: bad records inside a list ---------------------------------------

BAD_CONVERSATIONS = st.sampled_from(
    [
        "a number",
        {"title": "no mapping"},
        {"mapping": ["not", "a", "dict"]},
        {"chat_messages": "not a list"},
        {
            "mapping": {
                "x": {"id": "x", "parent": ["odd"], "children": 5, "message": {"author": "me"}}
            }
        },
        {
            "mapping": {"x": None, "y": {"message": {"content": {"parts": [{"content_type": 7}]}}}},
            "current_node": ["y"],
        },
        {"chat_messages": [{"uuid": ["a"], "sender": ["human"], "parent_message_uuid": {}}]},
    ]
)


@pytest.mark.parametrize("source", ["chatgpt", "claude"])
@FUZZ
@given(bad=st.lists(BAD_CONVERSATIONS, max_size=5), good=st.integers(1, 3), seed=st.integers(0, 99))
def test_chat_exports_skip_and_count_bad_conversations(source, bad, good, seed, trials):
    """ChatGPT and Claude.ai exports: a conversation of the wrong shape costs that conversation."""
    valid = json.loads(sample_document(source, seed))
    conversations = [*valid * good, *bad]
    parsed = run(source, json.dumps(conversations).encode())
    assert parsed is not None
    key = "mapping" if source == "chatgpt" else "chat_messages"
    wrong_type = dict if source == "chatgpt" else list
    unreadable = [
        c for c in bad if not isinstance(c, dict) or not isinstance(c.get(key), wrong_type)
    ]
    assert len(parsed.bad) >= len(unreadable)
    assert sum(m.speaker == "self" for m in parsed.memories) >= 1
    trials.add()
    trials.held("malformed conversations counted, the well-formed ones read")


@FUZZ
@given(
    events=st.lists(
        st.one_of(
            st.builds(
                lambda t: {"id": "e", "timestamp": "2026-06-02T10:00:00Z", "content": t}, words
            ),
            st.sampled_from(
                [
                    {"id": "e", "timestamp": "not a date", "content": "x"},
                    {"id": "e", "timestamp": "2026-06-02T10:00:00Z"},
                    {"id": "e", "timestamp": "2026-06-02T10:00:00Z", "content": ["not", "text"]},
                    "not an object",
                    17,
                ]
            ),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_episodic_lists_skip_and_count_bad_events(events, trials):
    """Episodic memory files holding a list: each bad event counted with what is wrong."""
    parsed = run("episodic", json.dumps(events).encode())
    good = [
        e
        for e in events
        if isinstance(e, dict)
        and isinstance(e.get("content"), str)
        and e["timestamp"] != "not a date"
    ]
    assert parsed is not None and len(parsed.memories) == len(good)
    assert len(parsed.bad) == len(events) - len(good)
    trials.add()
    trials.held("each bad event skipped with a reason")


# -- huge and deep input -----------------------------------------------------------------------


@pytest.mark.parametrize("source", sorted(set(NAMES) - {"vault"}))  # to a note, braces are text
def test_deeply_nested_json_is_a_reason_not_a_crash(source, trials):
    """JSON nested 100,000 deep (past Python's recursion limit) in every JSON format."""
    deep = b'{"a": ' * 100_000 + b"1" + b"}" * 100_000
    parsed = run(source, deep)
    assert parsed is None or not parsed.memories
    trials.add()
    trials.held("skipped with a reason (nested too deeply / not UTF-8 / wrong shape)")


@pytest.mark.parametrize("source", sorted(NAMES))
def test_a_two_megabyte_record_is_read(source, trials):
    """One record of 2 MB of text in every format: read whole (cut into parts for notes)."""
    text = " ".join(f"word{i % 977}" for i in range(300_000))
    if source in GOOD_LINE:
        data = json.dumps(GOOD_LINE[source](0, text)).encode()
    elif source == "vault":
        data = text.encode()
    else:
        data = sample_document(source, 1).replace(b"record 1 with some words", text.encode())
    parsed = run(source, data)
    assert parsed is not None and parsed.memories
    assert sum(len(m.text) for m in parsed.memories) >= len(text) * 0.99
    trials.add()
    trials.held("read, nothing lost")


@FUZZ
@given(
    pieces=st.lists(
        st.sampled_from(
            [
                "%%",
                "<!--",
                "```",
                "~~~",
                "> ",
                "> [!note] ",
                "[[",
                "]]",
                "^id ",
                "<div>",
                "#tag ",
                "\n",
                "\n\n",
                "`",
                "---\n",
                "# H\n",
            ]
        )
        | words,
        max_size=80,
    ),
    depth=st.integers(0, 40),
)
def test_vault_markup_soup_never_crashes(pieces, depth, trials):
    """Notes made of unbalanced markup: unclosed comments, fences, links, callouts nested 40 deep."""
    text = "".join(pieces)
    nested = "\n".join(("> " * level) + "[!note] x" for level in range(1, depth + 1))
    parsed = run("vault", (text + "\n" + nested).encode())
    assert parsed is not None
    for memory in parsed.memories:
        assert len(memory.text) <= SETTINGS.max_memory_chars
    trials.add()
    trials.held("read, every part within ingest.max_memory_chars")
