"""The eval split is honest: whole notes, conversations and days; no near-copies; DPO always held out."""

from __future__ import annotations

import json
from collections import defaultdict

from personaforge.config import DatasetSettings, IngestSettings, Settings
from personaforge.dataset import DatasetRequest, MixPlan, build_dataset
from personaforge.dataset.build import split_examples
from personaforge.dataset.examples import Example
from personaforge.dataset.mix import split_group
from personaforge.ingest import ingest
from personaforge.paths import Paths
from personaforge.sample import sample_identity
from personaforge.store import Memory, MemoryStore


def _rows(folder, name):
    return [json.loads(line) for line in (folder / name).read_text().splitlines()]


def test_no_note_conversation_or_day_straddles_train_and_eval(tmp_path, sample_data):
    paths = Paths(tmp_path / "home")
    with MemoryStore.open(paths.memory_store) as store:
        ingest(
            [sample_data], store, IngestSettings(), identity=sample_identity(), show_progress=False
        )
        memories = {m.id: m for m in store.memories()}
        result = build_dataset(
            store, Settings(), paths, DatasetRequest(MixPlan("foundation", seed=7))
        )
    sides: dict[str, set[str]] = defaultdict(set)
    for name in ("train.jsonl", "eval.jsonl"):
        for row in _rows(result.folder, name):
            sides[split_group(memories[row["meta"]["memory_ids"][0]])].add(name)
    held = [group for group, names in sides.items() if "eval.jsonl" in names]
    assert held, "the sample person should have held-out groups at 10%"
    assert not [group for group in held if len(sides[group]) > 1]
    assert result.manifest["counts"]["preference_eval"] >= 4


def memory(index: int, source: str = "vault", **meta) -> Memory:
    return Memory(
        id=f"m{index}",
        source=source,
        locator=f"notes/n{index}.md",
        file_path=f"notes/n{index}.md",
        created_at="2026-06-01T00:00:00",
        title="",
        text="",
        tags=[],
        mode="reflection",
        speaker="self",
        meta=meta,
        content_hash="",
        added_at="2026-06-01T00:00:00",
        updated_at="2026-06-01T00:00:00",
        deleted_at=None,
    )


def test_groups_are_notes_conversations_and_days():
    section = memory(1)
    section.locator = "Journal/2026/06/2026-06-02.md#Work > Migration"
    other_section = memory(2)
    other_section.locator = "Journal/2026/06/2026-06-02.md#Evening"
    assert (
        split_group(section)
        == split_group(other_section)
        == ("vault:Journal/2026/06/2026-06-02.md")
    )
    turn_a, turn_b = (
        memory(3, "chatgpt", conversation_id="c1"),
        memory(4, "chatgpt", conversation_id="c1"),
    )
    assert split_group(turn_a) == split_group(turn_b) == "chatgpt:conversation:c1"
    morning, evening = memory(5, "episodic"), memory(6, "episodic")
    evening.created_at = "2026-06-01T21:00:00"
    assert split_group(morning) == split_group(evening) == "episodic:2026-06-01"
    assert split_group(memory(7, "feedback")) == "feedback:memory:m7"


def sft(index: int, reply: str, source: str = "vault") -> Example:
    return Example(
        "voice",
        [{"role": "user", "content": f"q{index}"}, {"role": "assistant", "content": reply}],
        [memory(index, source)],
    )


# Ten replies that share no run of words with each other or with the repeated one.
DISTINCT = [
    "kayak hull scratched near the bow, filled with gelcoat on Saturday.",
    "sourdough starter smells of apples after the third feed this week.",
    "Ingrid called about ferry times to Texel for the spring trip.",
    "ran intervals at the track, six by eight hundred, legs heavy.",
    "chart labels now round heights to one decimal place.",
    "bought a bike chain and cleaned the cassette on the balcony.",
    "the library book on canals is due back next Thursday.",
    "Priya suggested moving standup to half past nine.",
    "planted basil, thyme and mint in the window box.",
    "watched a film about glaciers; the ice sounded like thunder.",
]


def test_a_held_out_near_copy_of_a_training_reply_leaves_eval_and_is_not_trained():
    settings = DatasetSettings(eval_fraction=0.3)
    text = "Up at six. Tea, then pages about the migration and the cutover plan for Friday."
    examples = [sft(i, f"{text} Note {i}.") for i in range(40)] + [
        sft(100 + i, f"Entirely different: {other}") for i, other in enumerate(DISTINCT)
    ]
    files, counts = split_examples(examples, settings)
    train, held = files["train.jsonl"], files["eval.jsonl"]
    dropped = [e for e in examples if e not in train and e not in held]
    # The count is what left, and what left is the near-copies of training replies.
    assert counts["eval_repeats_dropped"] == len(dropped) > 0
    assert all(e.target.startswith("Up at six") for e in dropped)
    assert not any(e.target.startswith("Up at six") for e in held)
    assert any(e.target.startswith("Entirely different") for e in held)  # the new text stays
    # Dropped from eval is not moved to train: its group is held out of every file.
    train_groups = {split_group(e.primary) for e in train}
    assert not {split_group(e.primary) for e in dropped} & train_groups
    assert len(train) + len(held) + len(dropped) == 50


def test_preference_pairs_are_always_held_out_when_there_are_enough():
    settings = DatasetSettings(eval_fraction=0.0, preference_eval_min=4)
    pairs = [
        Example(
            "preference",
            [{"role": "user", "content": f"prompt {i}"}],
            [memory(i, "feedback")],
            chosen=f"good {i}",
            rejected=f"bad {i}",
        )
        for i in range(16)
    ]
    files, counts = split_examples(pairs, settings)
    assert len(files["preference_eval.jsonl"]) == 4 and len(files["preference.jsonl"]) == 12
    assert counts["preference_pairs_moved_to_eval"] == 4
    few, _ = split_examples(pairs[:6], settings)  # fewer than twice the minimum: all train
    assert len(few["preference_eval.jsonl"]) == 0
