"""The sample person's data: deterministic and holding everything later stages must handle."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest

from personaforge.errors import UserError
from personaforge.sample import MANIFEST, write_sample_data


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
