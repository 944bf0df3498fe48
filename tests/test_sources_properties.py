"""Property tests: no parser raises anything but SkipFile on arbitrary text or JSON, and what
they return holds: no empty memory, notes cut to size, a reason for every bad record."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personaforge.config import IngestSettings
from personaforge.sources import SOURCES, Parsed, SkipFile
from personaforge.sources import vault as vault_source
from tests.test_sources import source_file

FILE_NAMES = {
    "vault": "note.md",
    "chatgpt": "conversations.json",
    "claude": "conversations.json",
    "claude-code": "session.jsonl",
    "episodic": "event.json",
    "jsonl": "log.jsonl",
    "feedback": "corrections.jsonl",
    "telegram": "result.json",
    "discord": "Direct Messages - anna [1].json",
    "messenger": "message_1.json",
    "signal": "data.json",
    "whatsapp": "_chat.txt",
    "mail": "All mail.mbox",
}
SETTINGS = IngestSettings(split_chars=200, max_memory_chars=500)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "mapping",
                    "current_node",
                    "parent",
                    "children",
                    "message",
                    "content",
                    "parts",
                    "author",
                    "role",
                    "type",
                    "text",
                    "chat_messages",
                    "sender",
                    "timestamp",
                    "prompt",
                    "chosen",
                    "rejected",
                    "rating",
                    "response",
                    "messages",
                    "metadata",
                    "cognitiveMode",
                    "tags",
                    "uuid",
                    "sessionId",
                    "create_time",
                    "summary",
                    "input",
                    "name",
                    # messaging and mail exports
                    "messages",
                    "from",
                    "from_id",
                    "date_unixtime",
                    "personal_information",
                    "user_id",
                    "chats",
                    "list",
                    "forwarded_from",
                    "sender_name",
                    "timestamp_ms",
                    "participants",
                    "guild",
                    "channel",
                    "isBot",
                    "sender",
                    "body",
                    "quote",
                ]
            )
            | st.text(max_size=8),
            children,
            max_size=6,
        )
    ),
    max_leaves=30,
)


def parse_quietly(source: str, data: bytes) -> Parsed | None:
    try:
        parsed = SOURCES[source].parse(source_file(FILE_NAMES[source], data), SETTINGS)
    except SkipFile:
        return None
    assert isinstance(parsed, Parsed)
    for memory in parsed.memories:
        assert isinstance(memory.created_at, str) and memory.locator
        assert isinstance(memory.text, str)
        assert memory.text.strip(), memory  # no empty memory is stored, from any source
        if source == "vault":  # notes are cut into parts of at most ingest.max_memory_chars
            assert len(memory.text) <= SETTINGS.max_memory_chars
    assert all(isinstance(reason, str) and reason for reason in parsed.bad)
    return parsed


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=st.sampled_from(sorted(SOURCES)), text=st.text(max_size=600))
def test_no_parser_raises_on_arbitrary_text(source, text):
    parse_quietly(source, text.encode("utf-8", "surrogatepass"))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=st.sampled_from(sorted(SOURCES)), value=json_values)
def test_no_parser_raises_on_arbitrary_json(source, value):
    document = json.dumps(value)
    parse_quietly(source, document.encode())
    lines = "\n".join(json.dumps(item) for item in (value if isinstance(value, list) else [value]))
    parse_quietly(source, lines.encode())


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=300))
def test_no_parser_raises_on_arbitrary_bytes(data):
    for source in SOURCES:
        parse_quietly(source, data)


markdown_pieces = st.sampled_from(
    [
        "# H1\n",
        "## H2\n",
        "```\n",
        "~~~\n",
        "`",
        "#tag ",
        "#a/b ",
        "[[",
        "]]",
        "|",
        "![[x.png]]",
        "---\n",
        "tags: [a, b]\n",
        "http://x.y/#z ",
        "%%",
        "<!--",
        "-->",
        "\n\n",
        "word ",
        "a long line of prose " * 15,  # 315 characters: a few make a part too long to keep whole
        "#",
        "\r\n",
        "\ufeff",
    ]
)


@settings(max_examples=200, deadline=None)
@given(pieces=st.lists(markdown_pieces | st.text(max_size=10), max_size=60))
def test_markdown_machinery_never_raises_and_tags_are_clean(pieces):
    text = "".join(pieces)
    for tag in vault_source.inline_tags(text):
        assert tag and " " not in tag and "#" not in tag and not tag.replace("/", "").isdigit()
    readable, links = vault_source.readable_links(text)
    assert all(link and link in text for link in links) and len(links) == len(set(links))
    if "[[" not in text:  # nothing to rewrite: the text comes back as it was
        assert (readable, links) == (text, [])
    parse_quietly("vault", text.encode("utf-8", "surrogatepass"))
