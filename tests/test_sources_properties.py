"""Property tests: no parser raises anything but SkipFile on arbitrary text or JSON."""

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
        assert (
            isinstance(memory.text, str) and isinstance(memory.created_at, str) and memory.locator
        )
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
    vault_source.readable_links(text)
    parse_quietly("vault", text.encode("utf-8", "surrogatepass"))
