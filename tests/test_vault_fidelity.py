"""Issue 33, item 4: on real vaults only her own words become targets.

tests/fixtures/real/vault-quoting (README) holds notes that quote (`> `, nested,
in a list, with attribution), headings in the middle of notes (ATX and setext),
an indented code block holding `>` and `#`, and highlight notes exported by
Readwise, the Kindle plugin and Hypothesis. Then Claude Code: a resumed session
stores its turns once.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from personaforge.config import DatasetSettings, IngestSettings, Settings
from personaforge.dataset import DatasetRequest, MixPlan, build_dataset
from personaforge.dataset.extract import ExtractContext, conversations_of, extract
from personaforge.dataset.targets import own_text, quotes
from personaforge.ingest import ingest
from personaforge.paths import Paths
from personaforge.sources.vault import inline_tags, strip_markup
from personaforge.store import MemoryStore
from tests.real_format import REAL, as_memories, parse_file

QUOTING = REAL / "vault-quoting"
RESUMED = REAL / "claude-code-resumed"
# Written apart from dataset/targets.py on purpose: a check must not share the code it checks.
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_MARKUP_LINES = {
    "quote": re.compile(r"^ {0,3}(?:[-*+] +)?>"),
    "heading": re.compile(r"^ {0,3}#{1,6}(?: |$)"),
    "setext underline": re.compile(r"^ {0,3}={3,}\s*$"),
}


def markup_lines(text: str) -> list[str]:
    """Quote and heading lines outside fenced and indented code."""
    found, fenced = [], False
    for line in text.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if fenced or line.startswith(("    ", "\t")):
            continue
        found += [name for name, pattern in _MARKUP_LINES.items() if pattern.match(line)]
    return found


def quoting_memories():
    memories = []
    for path in sorted(QUOTING.rglob("*.md")):
        memories += as_memories("vault", parse_file("vault", path, QUOTING).memories)
    return memories


def targets_of(memories, kinds=("voice", "reflection", "knowledge")):
    context = ExtractContext(DatasetSettings(person_name="Maren"), conversations_of(memories))
    return extract(memories, list(kinds), context)


def test_no_target_holds_a_quote_or_heading_markup():
    memories = quoting_memories()
    examples = targets_of(memories)
    assert len(examples) == 5  # a voice example per note with words of hers
    assert [e for e in examples if markup_lines(e.target)] == []
    # The same notes as they are stored hold plenty: the check above can say no.
    stored = [line for m in memories if m.speaker == "self" for line in markup_lines(m.text)]
    assert stored.count("quote") == 7 and stored.count("heading") == 7
    assert stored.count("setext underline") == 1


def test_a_quote_goes_to_the_prompt_and_her_comment_is_the_target():
    slack = next(e for e in targets_of(quoting_memories()) if "On slack water" in e.primary.title)
    prompt = slack.messages[1]["content"]
    assert "The note quotes:\n> Slack water is the short period" in prompt
    assert "> — Admiralty Tidal Handbook" in prompt and "> Times are predictions" in prompt
    assert "unstressed, and there is no movement" not in slack.target
    assert slack.target.startswith("Notes from the pilot guide")
    assert "Completely unstressed is too strong." in slack.target
    assert "\nWhy it matters\n" in slack.target  # the heading's words, not its markup
    assert "Setext is still a heading\n\nThe band" in slack.target


def test_highlight_exports_are_someone_elses_words_and_her_notes_are_hers():
    memories = quoting_memories()
    by_note = {}
    for memory in memories:
        if memory.meta.get("highlights_from"):
            by_note.setdefault(memory.meta["highlights_from"], {})[memory.speaker] = memory.text
    assert by_note["readwise"]["self"] == (
        "This is the tide model in one line: constituents are not the tide.\n\n"
        "Same shape as the harbour basin. I should draw it for the app docs.\n"
        "Two lines of note, the second one indented."
    )
    assert by_note["readwise"]["other"].startswith(
        "A system is more than the sum of its parts.\n\n"
    )
    assert (
        "Location" not in by_note["readwise"]["other"]
        and "readwise.io" not in by_note["readwise"]["other"]
    )
    assert by_note["kindle"] == {
        "self": "Good line for the app's about page. Honestly better than anything I wrote.",
        "other": "The tides are the response of the mobile waters of the ocean to the pull of the "
        "moon and the more distant sun.\n\nIn every country the moon keeps its own time.\n\n"
        "The sea has always challenged the minds and imaginations of men.",
    }
    assert by_note["hypothesis"] == {
        "self": "Kelvin. Worth a footnote in the docs, nothing more.",
        "other": "Harmonic analysis of tides was pioneered by William Thomson.\n\n"
        "The machine summed ten constituents with pulleys and a wire.",
    }
    everything = "\n".join(m.text for m in memories)
    assert "Donella H. Meadows" not in everything and "B00AXKKMSG" not in everything  # metadata
    targets = "\n".join(e.target for e in targets_of(memories))
    for passage in ("sum of its parts", "moon keeps its own time", "pulleys and a wire"):
        assert passage not in targets


def test_indented_code_is_code():
    journal = next(m for m in quoting_memories() if m.title == "2026-11-02")
    assert journal.tags == ["reading"]  # "#notatag" sits in the indented block
    target = next(e.target for e in targets_of([journal]))
    assert "    > slack 09:40 #notatag\n    # this is a comment, not a heading" in target
    assert "The wind was not a visitor" not in target
    assert "%% hidden %%" in strip_markup("text\n\n    %% hidden %%\n")  # code is never rewritten
    assert inline_tags("- item\n\n    #listtag continues the item\n") == [
        "listtag"
    ]  # a list's text


def test_quoting_vault_end_to_end_dataset_has_no_markup_in_targets(tmp_path):
    vault = tmp_path / "vault-quoting"
    shutil.copytree(QUOTING, vault)
    with MemoryStore.open(tmp_path / "m.db") as store:
        ingest([vault], store, IngestSettings(), show_progress=False)
        assert dict(store.counts_by("speaker")) == {"other": 3, "self": 5}
        result = build_dataset(
            store, Settings(), Paths(tmp_path / "home"), DatasetRequest(MixPlan("foundation"))
        )
    records = [
        json.loads(line)
        for name in ("train.jsonl", "eval.jsonl")
        for line in (result.folder / name).read_text().splitlines()
    ]
    assert records and all(not markup_lines(r["messages"][-1]["content"]) for r in records)


own_line = st.text(alphabet="abcdefghij klmno", min_size=1, max_size=30).filter(str.strip)
block = st.one_of(
    st.builds(lambda t: ("own", t), own_line),
    st.builds(lambda t: ("quote", "> Zq " + t), own_line),
    st.builds(lambda t: ("quote", "> > Zq " + t), own_line),
    st.builds(lambda t: ("quote", "- > Zq " + t), own_line),
    st.builds(lambda t: ("heading", "## " + t), own_line),
    st.builds(lambda t: ("code", "```\n> kept " + t + "\n# kept\n```"), own_line),
    st.builds(lambda t: ("code", "    > kept " + t), own_line),
)


@settings(max_examples=200, deadline=None)
@given(blocks=st.lists(block, min_size=1, max_size=12))
def test_own_text_keeps_her_words_and_code_and_drops_quotes_and_heading_markup(blocks):
    note = "\n\n".join(text for _, text in blocks)
    target = own_text(note)
    assert markup_lines(target) == []
    assert "Zq" not in target  # no quoted word survives
    for kind, text in blocks:
        if kind == "own":
            assert text.strip() in target
        elif kind == "heading":
            assert text[3:].strip() in target
        elif kind == "code":
            assert text in target  # code kept byte for byte
        else:  # the quote goes to the prompt, its markers off
            assert ("Zq " + text.rsplit("Zq ", 1)[1]).strip() in "\n".join(quotes(note))


# -- Claude Code: a resumed session ------------------------------------------------------------


def _session_files() -> list[Path]:
    return sorted(RESUMED.rglob("*.jsonl"))


def test_a_resumed_claude_code_session_stores_each_turn_once(tmp_path):
    for order in (_session_files(), _session_files()[::-1]):
        folder = tmp_path / f"run-{len(list(tmp_path.iterdir()))}"
        with MemoryStore.open(folder / "m.db") as store:
            for path in order:  # the earlier session first, then the resumed one (and back)
                ingest([path], store, IngestSettings(), show_progress=False)
            memories = store.memories()
        texts = [m.text for m in memories]
        assert len(texts) == len(set(texts)) == 6, texts
        assert {m.meta["conversation_id"] for m in memories} == {
            "1f0c2d4e-6a7b-4c8d-9e0f-112233445566"
        }
        assert [m.meta["turn"] for m in sorted(memories, key=lambda m: m.meta["turn"])] == list(
            range(6)
        )
    drafts = parse_file("claude-code", _session_files()[1]).memories
    assert drafts[-2].text == "Back again. Now write the test for the slack water line."
