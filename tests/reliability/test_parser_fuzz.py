"""Parser fuzzing (issue 24, item 5; issue 35, item 4 for the messaging and mail formats): every
source parser on malformed, truncated, huge, deeply nested and non-UTF-8 input.

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
    "telegram": "result.json",
    "discord": "Direct Messages - anna [5].json",
    "messenger": "message_1.json",
    "signal": "Anna Berg/data.json",
    "whatsapp": "_chat.txt",
    "mail": "All mail.mbox",
}
# Text formats where any prefix of a file is a (shorter) file of the same kind: every
# message written in full before the cut is kept. (Notes: any prefix is a note.)
MESSAGE_TEXT = {"whatsapp", "mail"}
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
    "signal": lambda n, text: {  # signal-export's data.json: one message per line
        "date": f"2024-03-08T08:{n % 60:02d}:00",
        "sender": "Me" if n % 2 == 0 else "Anna Berg",
        "body": text + "  ",
        "quote": "",
        "deleted": False,
        "call": False,
    },
}
# Lines that are records of the wrong shape for each format: counted, not fatal.
WRONG_SHAPE = {
    "claude-code": {"type": "user", "sessionId": "s", "uuid": "broken"},  # no message
    "jsonl": {"role": "user"},  # no content
    "feedback": {"prompt": "only a prompt"},
    "signal": {"date": "2024-03-08T08:00:00", "sender": "Anna Berg"},  # no body
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
    """JSONL parsers (Claude Code, chat logs, corrections, Signal): each broken line counted, the rest kept."""
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
    elif source in MESSAGE_TEXT:  # every message written in full before the cut is kept
        whole = [n for n, end in enumerate(message_ends(source, document)) if end <= size]
        if parsed is None:  # an mbox cut before its first "From " line is no mbox
            assert source == "mail" and size < document.index(b"\n") + 1
        else:
            kept = "\n".join(m.text for m in parsed.memories)
            assert all(f"{record_text(seed)} {n}" in kept for n in whole), (whole, kept)
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
        "a cut JSON file skipped with a reason; every whole JSONL line, chat message and mail "
        "kept, the cut line counted"
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
    trials.held(
        "non-UTF-8 input: the file or the line is skipped with a reason, the rest read; "
        "a mail's bytes are its charset's to decode, so every mail the junk missed is read"
    )
    if source == "mail":
        assert parsed is not None
        ends = message_ends(source, document)
        starts = [0, *ends[:-1]]
        untouched = [
            n for n, (a, b) in enumerate(zip(starts, ends, strict=True)) if not a <= at <= b
        ]
        kept = "\n".join(m.text for m in parsed.memories)
        assert all(f"{record_text(seed)} {n}" in kept for n in untouched), (untouched, kept)
        return
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


def message_ends(source: str, document: bytes) -> list[int]:
    """Where each message of a WhatsApp chat or an mbox ends (the byte its last line ends at)."""
    starts = [
        index
        for index in range(len(document))
        if (index == 0 or document[index - 1 : index] == b"\n")
        and document[index:].startswith(b"[" if source == "whatsapp" else b"From ")
    ]
    return [*(start - 1 for start in starts[1:]), len(document)]


def _message_text_document(source: str, text: str) -> bytes:
    if source == "whatsapp":  # iOS, with a notice WhatsApp wrote and a two-line message
        lines = [
            "\u200e[08/03/2024, 08:00:00] Anna Berg: \u200eMessages and calls are end-to-end encrypted."
        ]
        for n in range(4):
            author = "Maren Holt" if n % 2 else "Anna Berg"
            lines.append(f"[08/03/2024, 08:0{n + 1}:00] {author}: {text} {n}")
            lines.append("and a second line")
        return ("\n".join(lines) + "\n").encode()
    mails = []
    for n in range(4):  # Gmail Takeout: labels, a thread id, quoted-printable UTF-8
        mails.append(
            f"From 17@xxx Fri Mar 08 08:0{n}:00 +0000 2024\n"
            f"X-GM-THRID: 17\nX-Gmail-Labels: {'Sent' if n % 2 else 'Inbox'}\n"
            f"Message-ID: <m{n}@x>\nDate: Fri, 8 Mar 2024 08:0{n}:00 +0000\n"
            f"From: {'Maren <maren@x.nl>' if n % 2 else 'Anna <anna@x.nl>'}\n"
            "Subject: =?UTF-8?Q?Caf=C3=A9?=\nContent-Type: text/plain; charset=UTF-8\n"
            f"Content-Transfer-Encoding: quoted-printable\n\n{text} {n} caf=C3=A9\n\n"
            "On Fri, 8 Mar 2024, Anna <anna@x.nl> wrote:\n> earlier\n\n"
        )
    return "".join(mails).encode()


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
    if source in MESSAGE_TEXT:
        return _message_text_document(source, text)
    return json.dumps(MESSAGING_DOCUMENTS[source](text), ensure_ascii=False).encode()


def _telegram(text: str) -> dict:
    message = {
        "id": 1,
        "type": "message",
        "date": "2024-03-08T09:00:00",
        "date_unixtime": "1709884800",
        "from": "Maren Holt",
        "from_id": "user5120394876",
        "text": [{"type": "bold", "text": "note: "}, text],
    }
    service = {"id": 2, "type": "service", "date": "2024-03-08T09:01:00", "action": "phone_call"}
    chat = {"name": "Anna", "type": "personal_chat", "id": 7, "messages": [message, service]}
    return {"personal_information": {"user_id": 5120394876}, "chats": {"list": [chat]}}


def _discord(text: str) -> dict:
    author = {"id": "1", "name": "maren_h", "nickname": "Maren", "isBot": False}
    return {
        "guild": {"id": "0", "name": "Direct Messages"},
        "channel": {"id": "5", "type": "DirectTextChat", "name": "anna"},
        "messages": [
            {
                "id": "9",
                "type": "Default",
                "timestamp": "2024-03-08T09:00:00+00:00",
                "content": text,
                "author": author,
            },
            {
                "id": "10",
                "type": "Call",
                "timestamp": "2024-03-08T09:01:00+00:00",
                "content": "",
                "author": author,
            },
        ],
    }


def _messenger(text: str) -> dict:
    def moj(value: str) -> str:
        return value.encode("utf-8").decode("latin-1")

    return {
        "participants": [{"name": "Anna Berg"}, {"name": moj("Søren")}],
        "messages": [
            {
                "sender_name": "Anna Berg",
                "timestamp_ms": 1709884860000,
                "content": "Liked a message",
            },
            {"sender_name": moj("Søren"), "timestamp_ms": 1709884800000, "content": text},
        ],
        "title": "Anna Berg",
        "thread_path": "inbox/annaberg_1",
    }


MESSAGING_DOCUMENTS = {"telegram": _telegram, "discord": _discord, "messenger": _messenger}


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


# -- messaging exports: bad records inside a good file, and deep structures ---------------------------

BAD_MESSAGING_RECORDS = {
    "telegram": (
        lambda doc, bad: doc["chats"]["list"][0]["messages"].extend(bad),
        st.sampled_from(["a string", 17, None, ["a", "list"]]),
    ),
    "discord": (
        lambda doc, bad: doc["messages"].extend(bad),
        st.sampled_from(
            ["a string", 17, {"id": "3", "content": "no author"}, {"author": "nobody"}]
        ),
    ),
    "messenger": (
        lambda doc, bad: doc["messages"].extend(bad),
        st.sampled_from(["a string", 17, None, ["a", "list"]]),
    ),
}


@pytest.mark.parametrize("source", sorted(BAD_MESSAGING_RECORDS))
@FUZZ
@given(count=st.integers(0, 5), data=st.data(), seed=st.integers(0, 99))
def test_messaging_exports_skip_and_count_bad_messages(source, count, data, seed, trials):
    """Telegram, Discord and Messenger exports: each message of the wrong shape counted, the rest read."""
    insert, bad_record = BAD_MESSAGING_RECORDS[source]
    document = json.loads(sample_document(source, seed))
    bad = [data.draw(bad_record) for _ in range(count)]
    insert(document, bad)
    parsed = run(source, json.dumps(document).encode())
    assert parsed is not None and len(parsed.bad) == count, parsed.bad
    assert record_text(seed) in "\n".join(m.text for m in parsed.memories)
    trials.add()
    trials.held("each malformed message counted with a reason; the good ones read")


def test_mail_nested_past_the_recursion_limit_costs_that_mail(trials):
    """An mbox whose first mail nests 5,000 MIME parts (past Python's recursion limit)."""
    deep = "From: a@b\nMIME-Version: 1.0\n" + "".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n' for i in range(5000)
    )
    deep += "Content-Type: text/plain\n\nhidden\n" + "".join(
        f"--b{i}--\n" for i in reversed(range(5000))
    )
    data = b"From x Fri Mar 08 08:00:00 2024\n" + deep.encode() + b"\n" + sample_document("mail", 3)
    parsed = run("mail", data)
    assert parsed is not None and parsed.bad == ["message at line 1: nested too deeply to read"]
    assert all(
        f"{record_text(3)} {n}" in "\n".join(m.text for m in parsed.memories) for n in range(4)
    )
    trials.add()
    trials.held("the deep mail counted as bad; the four after it read")


def test_html_mail_nested_100000_deep_is_read(trials):
    """An HTML-only mail whose text sits inside 100,000 nested <div>s."""
    html = "<div>" * 100_000 + "deep words" + "</div>" * 100_000
    mail = (
        "From x Fri Mar 08 08:00:00 2024\nFrom: Anna <a@x>\nMIME-Version: 1.0\n"
        "Content-Type: text/html; charset=UTF-8\n\n" + html + "\n"
    )
    parsed = run("mail", mail.encode())
    assert parsed is not None and [m.text for m in parsed.memories] == ["deep words"]
    trials.add()
    trials.held("read: the HTML is walked without recursion")


@FUZZ
@given(
    lines=st.lists(
        st.sampled_from(
            [
                "[08/03/2024, 08:01:00] Anna: ",
                "\u200e[08/03/2024, 08:01:00] Anna: \u200e",
                "8/3/24, 8:01 PM - ",
                "13/13/2024, 25:61 - Anna: ",
                "[",
                "]",
                ": ",
                "\u202f",
                "<This message was edited>",
                "<Media omitted>",
                "null",
                "POLL:\n",
                "\n",
            ]
        )
        | words,
        max_size=60,
    )
)
def test_whatsapp_header_soup_never_crashes(lines, trials):
    """WhatsApp chats made of broken headers, impossible dates, marks and notices in any order."""
    parsed = run("whatsapp", "".join(lines).encode())
    assert parsed is not None
    for memory in parsed.memories:
        assert memory.created_at[:4].isdigit() and "\u200e" not in memory.text[:1]
    trials.add()
    trials.held("read; impossible dates counted as bad records, never a crash")
