"""The dataset stage on the sample person and on crafted memories."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from personaforge.config import DatasetSettings, IngestSettings, Settings
from personaforge.dataset import DatasetRequest, MixPlan, build_dataset
from personaforge.dataset.build import FILES, apply_review, load_manifest
from personaforge.dataset.curate import Curated, drop_near_duplicates, tokenizer_counter
from personaforge.dataset.examples import Example
from personaforge.dataset.extract import (
    ExtractContext,
    conversations_of,
    extract_dialogue,
    extract_knowledge,
    extract_preference,
    extract_reflection,
    extract_voice,
)
from personaforge.dataset.mix import is_eval, select
from personaforge.ingest import ingest
from personaforge.paths import Paths
from personaforge.sample import sample_identity
from personaforge.store import Memory, MemoryStore


def memory(
    text: str,
    *,
    id: str = "m1",
    source: str = "vault",
    mode: str = "observation",
    speaker: str = "self",
    title: str = "Note",
    tags=None,
    meta=None,
    created_at: str = "2026-06-02T00:00:00",
) -> Memory:
    return Memory(
        id=id,
        source=source,
        locator=f"/v/{id}.md",
        file_path=f"/v/{id}.md",
        created_at=created_at,
        title=title,
        text=text,
        tags=tags or [],
        mode=mode,
        speaker=speaker,
        meta=meta or {},
        content_hash="h",
        added_at="t",
        updated_at="t",
        deleted_at=None,
    )


def context(memories=()) -> ExtractContext:
    return ExtractContext(DatasetSettings(person_name="Maren"), conversations_of(list(memories)))


@pytest.fixture(scope="module")
def sample_store(sample_data, tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "memories.db"
    with MemoryStore.open(path) as store:
        ingest(
            [sample_data], store, IngestSettings(), identity=sample_identity(), show_progress=False
        )
    return path


@pytest.fixture
def store(sample_store):
    with MemoryStore.open(sample_store) as opened:
        yield opened


def build(store, paths, plan=None, **settings_update) -> dict:
    settings = Settings(**settings_update)
    result = build_dataset(store, settings, paths, DatasetRequest(plan or MixPlan("foundation")))
    return result


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- extractors on crafted memories -------------------------------------------------------


def test_voice_prompts_fit_the_context():
    daily = memory(
        "# Tuesday\n## Morning\nRain at six.", title="2026-06-02", meta={"date_from": "filename"}
    )
    decision = memory(
        "We go with SQLite.", id="m2", title="SQLite", tags=["decision"], meta={"note": "SQLite"}
    )
    episode = memory("Wrote to Jonas.", id="m3", source="episodic", title="observation")
    chat = memory("hi", id="m4", source="chatgpt")
    examples = extract_voice([daily, decision, episode, chat], context())
    prompts = {e.primary.id: e.messages[1]["content"] for e in examples}
    assert set(prompts) == {"m1", "m2", "m3"}  # chat turns are dialogue, not voice
    assert "Tuesday 2 June 2026" in prompts["m1"]
    assert "SQLite" in prompts["m2"] and ("decide" in prompts["m2"] or "decision" in prompts["m2"])
    assert "2 June 2026" in prompts["m3"]
    assert examples[0].messages[0]["content"].startswith("You are Maren.")
    # Headings name the text: they go to the prompt, not into her reply (issue 14.7).
    assert examples[0].target == "Rain at six." and "Morning" in prompts["m1"]


def test_reflection_by_tag_and_phrase_with_reasons():
    text = (
        "Groceries, laundry, nothing else to report today at all.\n\n"
        "## Evening\nLooking back, I think the plan written the night before made the day. #insight\n\n"
        "I realize the short runs are the ones I enjoy most these weeks."
    )
    examples = extract_reflection([memory(text)], context())
    reasons = [e.extra["reasons"] for e in examples]
    assert reasons == [
        ["tag:insight", "phrase:I think", "phrase:Looking back"],
        ["phrase:I realize"],
    ]
    assert examples[0].target.startswith("Looking back")  # heading line removed


def test_dialogue_flips_roles_and_keeps_context():
    turns = [
        memory(
            "Should I use Postgres?",
            id="t0",
            source="chatgpt",
            speaker="self",
            meta={"conversation_id": "c", "turn": 0},
        ),
        memory(
            "It depends on your load.",
            id="t1",
            source="chatgpt",
            speaker="assistant",
            meta={"conversation_id": "c", "turn": 1},
        ),
        memory(
            "Read-mostly, offline. So SQLite.",
            id="t2",
            source="chatgpt",
            speaker="self",
            meta={"conversation_id": "c", "turn": 2},
        ),
    ]
    (example,) = extract_dialogue(turns, context(turns))
    roles = [(m["role"], m["content"]) for m in example.messages[1:]]
    # Her opening message has no turn before it to play the user, so the exchange starts at the reply.
    assert roles == [
        ("user", "It depends on your load."),
        ("assistant", "Read-mostly, offline. So SQLite."),
    ]
    assert [m.id for m in example.memories] == ["t2", "t0", "t1"]


def test_knowledge_templates_from_first_person_sentences():
    text = (
        "I prefer long runs on Sundays. The weather was fine. I think estimates should be ranges."
    )
    examples = extract_knowledge([memory(text, title="Habits", meta={"note": "Habits"})], context())
    categories = {e.extra["category"]: e for e in examples}
    assert set(categories) == {"preference", "opinion"}
    assert categories["preference"].target == "I prefer long runs on Sundays."
    assert "Habits" in categories["opinion"].messages[1]["content"]


def test_preference_pairs_from_corrections():
    feedback = memory(
        "No. SQLite.",
        mode="feedback",
        source="feedback",
        meta={
            "kind": "preference",
            "prompt": "Postgres?",
            "chosen": "No. SQLite.",
            "rejected": "It depends!",
        },
    )
    (example,) = extract_preference([feedback], context())
    record = example.to_record()
    assert record["prompt"][-1] == {"role": "user", "content": "Postgres?"}
    assert (record["chosen"], record["rejected"], record["meta"]["kind"]) == (
        "No. SQLite.",
        "It depends!",
        "preference",
    )


# -- curation -------------------------------------------------------------------------------


def test_near_duplicates_go_distinct_texts_stay():
    base = (
        "The cutover went well: shadow traffic matched for two days, we flipped ten percent, "
        "watched latency and errors for fifteen minutes, then went to half and then to all of it."
    )
    near = base.replace("two days", "two full days")
    distinct = (
        "Sourdough this weekend: seventy eight percent hydration and a five hour bulk, open crumb."
    )
    examples = [
        Example("voice", context().chat("q", text), [memory(text, id=str(i))])
        for i, text in enumerate([base, near, distinct])
    ]
    result = Curated(kept=[])
    kept = drop_near_duplicates(examples, DatasetSettings(), result)
    assert [e.target for e in kept] == [base, distinct] and result.dropped["near duplicate"] == 1


@pytest.mark.parametrize("template", ["the micro base's own", "smollm2's"])
def test_token_counter_matches_the_rendered_template(micro_base, template):
    """Lengths as the chat template renders them, with and without a system message. smollm2's
    template adds a system message of its own when there is none; the counter once charged
    that to every message (26 tokens each instead of 5), and grounded rows fit for training
    were cut as over-length."""
    from transformers import AutoTokenizer

    from personaforge.bases.smollm2 import GENERATION_TEMPLATE

    tokenizer = AutoTokenizer.from_pretrained(micro_base)
    if template == "smollm2's":
        tokenizer.chat_template = GENERATION_TEMPLATE
    system = {
        "role": "system",
        "content": "You are Maren.\n\nWhat is true about you now:\n- Editor: Neovim",
    }
    turns = [
        {"role": "user", "content": "Which editor do you use?"},
        {"role": "assistant", "content": "I use Neovim for everything, this journal included."},
        {"role": "user", "content": "And at work?"},
        {"role": "assistant", "content": "Same. Kestrel Freight gave up on converting me."},
    ]
    conversations = [[system, *turns], turns, [system, *turns[:2]], turns[:2]]
    rendered = [
        len(tokenizer.apply_chat_template(c, tokenize=True, return_dict=False))
        for c in conversations
    ]
    assert tokenizer_counter(tokenizer)(conversations) == rendered


def test_over_length_replies_are_split_and_dialogues_trimmed(store, tmp_path, micro_base):
    from transformers import AutoTokenizer

    counter = tokenizer_counter(AutoTokenizer.from_pretrained(micro_base))
    settings = Settings(train={"max_seq_length": 160})
    result = build_dataset(
        store, settings, Paths(tmp_path), DatasetRequest(MixPlan("foundation")), counter, "micro"
    )
    counts = result.manifest["counts"]
    assert counts["split_over_length"] > 0
    assert (
        result.manifest["metrics"]["tokens"]["max"] <= 160
        and result.manifest["metrics"]["tokens"]["exact"]
    )


# -- the sample person ------------------------------------------------------------------------


def test_sample_dataset_files_manifest_and_no_planted_secret(store, tmp_path, sample_data):
    result = build(store, Paths(tmp_path))
    folder = result.folder
    assert sorted(p.name for p in folder.iterdir()) == sorted([*FILES, "manifest.json"])
    manifest = result.manifest
    kinds = manifest["metrics"]["by_kind"]
    assert {"voice", "reflection", "dialogue", "knowledge", "preference"} <= set(kinds)
    assert manifest["counts"]["train"] >= 200 and manifest["counts"]["eval"] > 0
    assert manifest["counts"]["dropped"]["exact duplicate"] > 0  # the copied note, at least
    written = "".join((folder / name).read_text() for name in FILES) + json.dumps(manifest)
    planted = json.loads((sample_data / "sample-manifest.json").read_text())["planted_secrets"]
    assert len(planted) >= 11
    for secret in planted:
        for line in secret["value"].splitlines():
            assert line not in written, (
                f"{secret['kind']} from {secret['where']} reached the dataset"
            )
    found = {
        (f["kind"], Path(f["file"]).relative_to(sample_data).as_posix())
        for f in manifest["privacy"]["list"]
    }
    for secret in planted:
        assert (secret["kind"], secret["where"]) in found, secret
    record = read_jsonl(folder / "train.jsonl")[0]
    assert set(record) == {"messages", "meta"} and {
        "id",
        "memory_ids",
        "source",
        "date",
        "tags",
        "mode",
        "kind",
    } <= set(record["meta"])


def test_keep_policy_lets_a_kind_through(store, tmp_path):
    manifest = build(store, Paths(tmp_path), privacy={"email": "keep"}).manifest
    folder = Path(tmp_path) / "datasets" / manifest["id"]
    # Which split holds the email depends on the memory ids (absolute paths), so read both.
    written = "".join((folder / name).read_text() for name in FILES)
    assert "@example." in written and "[EMAIL]" not in written


def test_rebuild_is_identical_and_eval_split_is_stable(store, tmp_path):
    first = build(store, Paths(tmp_path))
    second = build(store, Paths(tmp_path))
    assert second.id == first.id and second.reused
    smaller = build(store, Paths(tmp_path / "other"), MixPlan("foundation", mode="reflection"))
    eval_ids = {r["meta"]["memory_ids"][0] for r in read_jsonl(first.folder / "eval.jsonl")}
    smaller_eval = {r["meta"]["memory_ids"][0] for r in read_jsonl(smaller.folder / "eval.jsonl")}
    smaller_train = {r["meta"]["memory_ids"][0] for r in read_jsonl(smaller.folder / "train.jsonl")}
    assert smaller_eval and smaller_train  # both sides hold memories, so the checks bite
    assert smaller_eval <= eval_ids and not (smaller_train & eval_ids)


def test_monthly_mix_counts_and_determinism(store):
    memories = store.memories()
    plan = MixPlan("monthly", days_recent=30, old_samples=25, as_of="2026-10-31", seed=3)
    selection = select(memories, plan)
    recent = [m for m in memories if m.created_at[:10] >= "2026-10-01"]
    assert selection.recent == len(recent) and selection.old_sampled == 25
    assert len(selection.memories) == len(recent) + 25
    assert [m.id for m in select(memories, plan).memories] == [m.id for m in selection.memories]
    other_seed = select(
        memories, MixPlan("monthly", days_recent=30, old_samples=25, as_of="2026-10-31", seed=4)
    )
    assert {m.id for m in other_seed.memories} != {m.id for m in selection.memories}
    capped = select(
        memories,
        MixPlan("monthly", days_recent=30, old_samples=25, as_of="2026-10-31", max_memories=20),
    )
    assert len(capped.memories) == 20 and capped.old_sampled == 0  # recent memories come first


def test_monthly_replay_takes_every_earlier_month_evenly(store):
    memories = store.memories()
    plan = MixPlan("monthly", days_recent=30, old_samples=40, as_of="2026-10-31", seed=3)
    replayed = [m for m in select(memories, plan).memories if m.created_at[:10] < "2026-10-01"]
    per_month: dict[str, int] = {}
    for memory in replayed:
        per_month[memory.created_at[:7]] = per_month.get(memory.created_at[:7], 0) + 1
    # June to September: 40 replayed memories, 10 from each month, however many each wrote.
    assert per_month == {"2026-06": 10, "2026-07": 10, "2026-08": 10, "2026-09": 10}


def test_new_memories_are_those_written_after_the_watermark_not_the_clock(store):
    memories = store.memories()
    watermark = max(m.updated_at for m in memories)
    later = sorted(memories, key=lambda m: m.id)[:7]
    bumped = [
        Memory(**{**vars(m), "updated_at": "9999-01-01T00:00:00+00:00"}) if m in later else m
        for m in memories
    ]
    # Dated in June, written after the version learned the store: new all the same.
    plan = MixPlan("monthly", old_samples=5, since=watermark, since_version="v1")
    selection = select(bumped, plan)
    assert selection.recent == 7 and selection.new == frozenset(m.id for m in later)
    assert selection.old_sampled == 5 and len(selection.memories) == 12
    # A foundation rebuild keeps every memory and still says which are new.
    everything = select(bumped, MixPlan("foundation", since=watermark))
    assert len(everything.memories) == len(memories) and everything.new == selection.new


def test_eval_fraction_is_about_right():
    held = sum(is_eval(f"memory-{i}", 0.05) for i in range(20_000))
    assert 900 < held < 1100


def test_review_apply_keeps_only_ticked_examples(store, tmp_path):
    paths = Paths(tmp_path)
    result = build_dataset(
        store, Settings(), paths, DatasetRequest(MixPlan("foundation"), review=True)
    )
    review = result.folder / "review.md"
    lines = review.read_text().splitlines()
    entries = [i for i, line in enumerate(lines) if line.startswith("## [x] ")]
    for index in entries[:5]:
        lines[index] = lines[index].replace("## [x] ", "## [ ] ", 1)
    review.write_text("\n".join(lines))
    reviewed = apply_review(paths, review)
    assert reviewed.manifest["parent"] == result.id and reviewed.manifest["review"]["rejected"] == 5
    before = sum(result.manifest["files"][name]["examples"] for name in FILES)
    after = sum(reviewed.manifest["files"][name]["examples"] for name in FILES)
    assert after == before - 5
    assert load_manifest(paths)["id"] == reviewed.id  # the reviewed one is now the latest


# -- teacher -------------------------------------------------------------------------------------


def test_dead_teacher_is_reported_and_templates_take_over(store, tmp_path):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(dataset={"teacher_retries": 1, "teacher_timeout_s": 2})
    request = DatasetRequest(
        MixPlan("foundation"), kinds=["knowledge"], teacher=f"http://127.0.0.1:{port}/v1"
    )
    result = build_dataset(store, settings, Paths(tmp_path), request)
    teacher = result.manifest["teacher"]
    assert (
        teacher["pairs"] == 0
        and teacher["failed"] >= 1
        and "unreachable" in " ".join(teacher["problems"])
    )
    assert result.manifest["metrics"]["by_kind"].get("knowledge", 0) > 0  # template pairs


class FakeTeacher(BaseHTTPRequestHandler):
    """A real HTTP endpoint speaking the OpenAI chat-completions shape, answering from the prompt."""

    garbage = False
    calls = 0

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeTeacher.calls += 1
        notes = body["messages"][1]["content"].count("Note ")
        if FakeTeacher.garbage:
            content = "Sure! Here are some great questions about this person."
        else:
            content = json.dumps(
                [
                    {
                        "note": i,
                        "question": f"What matters to you in note {i}?",
                        "answer": f"Note {i} says what I care about, in my words.",
                    }
                    for i in range(1, notes + 1)
                ]
            )
        reply = json.dumps(
            {"choices": [{"message": {"role": "assistant", "content": content}}]}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


@pytest.fixture
def teacher_url():
    server = HTTPServer(("127.0.0.1", 0), FakeTeacher)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()


def test_teacher_pairs_are_used_and_cached(store, tmp_path, teacher_url):
    FakeTeacher.garbage, FakeTeacher.calls = False, 0
    request = DatasetRequest(MixPlan("foundation"), kinds=["knowledge"], teacher=teacher_url)
    first = build_dataset(store, Settings(), Paths(tmp_path), request)
    assert first.manifest["teacher"]["pairs"] > 20 and FakeTeacher.calls > 0
    calls = FakeTeacher.calls
    second = build_dataset(store, Settings(), Paths(tmp_path), request)
    assert FakeTeacher.calls == calls and second.id == first.id  # nothing asked twice, same dataset
    records = read_jsonl(first.folder / "train.jsonl") + read_jsonl(first.folder / "eval.jsonl")
    assert any(r["meta"].get("from") == "teacher" for r in records)


def test_garbage_teacher_is_reported_not_fatal(store, tmp_path, teacher_url):
    FakeTeacher.garbage = True
    request = DatasetRequest(MixPlan("foundation"), kinds=["knowledge"], teacher=teacher_url)
    result = build_dataset(store, Settings(), Paths(tmp_path), request)
    FakeTeacher.garbage = False
    assert result.manifest["teacher"]["pairs"] == 0
    assert any("not the JSON asked for" in p for p in result.manifest["teacher"]["problems"])
    assert result.manifest["metrics"]["by_kind"]["knowledge"] > 0


# -- grounded rows -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_home(sample_data, tmp_path_factory):
    """A home whose own store holds the sample person (the profile and retriever read it)."""
    paths = Paths(tmp_path_factory.mktemp("home"))
    paths.memory_store.parent.mkdir(parents=True, exist_ok=True)
    with MemoryStore.open(paths.memory_store) as opened:
        ingest(
            [sample_data], opened, IngestSettings(), identity=sample_identity(), show_progress=False
        )
    return paths


def build_grounded(store, paths, **settings_update):
    from personaforge.serve.grounded import grounded_rows

    settings = Settings(**settings_update)
    request = DatasetRequest(MixPlan("foundation"), extra_rows=grounded_rows(paths, settings))
    return build_dataset(store, settings, paths, request)


@pytest.mark.parametrize("format", ["notes", "asked"])
def test_grounded_rows_teach_her_answers_with_the_context_serve_gives(sample_home, format):
    from personaforge.dataset.examples import CONTEXT_TURN
    from personaforge.evaluate.knows import PROFILE_QUESTIONS
    from personaforge.profile import build_profile
    from personaforge.sample.persona import FACT_QUESTIONS, HISTORY_QUESTIONS, OPINION_QUESTIONS
    from personaforge.serve.context import ASKED_BEFORE
    from personaforge.serve.grounded import TRAIN_QUESTIONS, said_forms, training_questions

    # The knows check asks in other words than the rows teach or the context recalls.
    asked = (
        set(PROFILE_QUESTIONS.values())
        | {q for _, q, _ in FACT_QUESTIONS.values()}
        | set(HISTORY_QUESTIONS.values())
        | {q for q, _ in OPINION_QUESTIONS.values()}
    )
    assert not asked & {q for each in TRAIN_QUESTIONS.values() for q in each}
    assert not asked & set(ASKED_BEFORE.values())

    with MemoryStore.open(sample_home.memory_store) as opened:
        result = build_grounded(opened, sample_home, serve={"retrieval_format": format})
        texts = {m.id: m.text for m in opened.memories()}
    train = read_jsonl(result.folder / "train.jsonl")
    held_out = {
        i for row in read_jsonl(result.folder / "eval.jsonl") for i in row["meta"]["memory_ids"]
    }
    grounded = [r for r in train if r["meta"].get("from") == "grounded"]
    assert len(grounded) >= 8 and result.manifest["counts"]["grounded"] == len(grounded)
    # dataset.grounded_share (0.2) of the training file, unless each lookup's repeats cap it.
    assert 0.1 <= len(grounded) / len(train) <= 0.25

    def given(row) -> list[str]:
        """The context's items in order: fact lines (notes) or recalled answers (asked)."""
        if format == "asked":
            return [m["content"] for m in row["messages"] if m.get(CONTEXT_TURN)]
        block = row["messages"][0]["content"].split("What is true about you now:\n")[1]
        return block.split("\n\n")[0].splitlines()

    facts = build_profile(sample_home, Settings(), probe=False).facts
    values = {f.value.casefold() for f in facts}
    asked_slots: dict[str, str] = {}  # slot -> the context of rows that ask it
    places = set()
    for row in grounded:
        turns = row["messages"][1:]
        assert row["messages"][0]["role"] == "system"
        assert [m["role"] for m in turns] == ["user", "assistant"] * (len(turns) // 2)
        # The exchanges she is trained on (an `asked` context's recalled ones are flagged).
        trained = [
            m
            for question, answer in zip(turns[::2], turns[1::2], strict=True)
            if not answer.get(CONTEXT_TURN)
            for m in (question, answer)
        ]
        context = given(row)
        assert context and "Rotterdam" not in str(row["messages"])
        owned = " ".join(texts[i] for i in row["meta"]["memory_ids"])
        assert not held_out & set(row["meta"]["memory_ids"])
        slots = row["meta"]["slots"]
        assert 1 <= len(slots) == len(trained) // 2 == len(set(slots)) <= 4
        for slot, question, answer in zip(slots, trained[::2], trained[1::2], strict=True):
            assert question["content"] in training_questions(slot)
            assert answer["content"] in owned  # her words, as she wrote them
            # The fact it answers is one item of the context, among her other facts.
            said = {f for v in values for f in said_forms(v) if f in answer["content"].casefold()}
            found = [i for i, item in enumerate(context) if any(v in item.casefold() for v in said)]
            assert found
            places.add(found[0])
            asked_slots[slot] = asked_slots.get(slot, "") + " ".join(context)
    # An event's value has its year and her sentence does not ("... on 18 October").
    assert {"home_city", "editor", "relationship:sister", "event"} <= set(asked_slots)
    # Her answer to a question she was asked ("What is your favourite database?"): only the
    # answer is hers, and it is taught too.
    assert "favourite:database" in asked_slots
    assert "Delft" in asked_slots["home_city"] and "Ingrid" in asked_slots["relationship:sister"]
    assert len(places) >= 2  # the right fact is not always in the same place


def test_grounded_rows_that_never_fit_the_length_end_the_build_without_them(sample_home):
    """A max_seq_length no grounded conversation fits in (not even one question with its
    recalled facts) gives none, and the build finishes; it once dealt forever."""
    import threading

    outcome = {}

    def build():
        with MemoryStore.open(sample_home.memory_store) as opened:
            outcome["result"] = build_grounded(opened, sample_home, train={"max_seq_length": 48})

    worker = threading.Thread(target=build, daemon=True)
    worker.start()
    worker.join(timeout=120)
    assert not worker.is_alive(), "the grounded rows never stopped dealing"
    assert "grounded" not in outcome["result"].manifest["counts"]


def test_no_grounded_rows_when_serve_does_not_retrieve_or_they_are_off(sample_home):
    with MemoryStore.open(sample_home.memory_store) as opened:
        off = build_grounded(opened, sample_home, serve={"retrieval": False})
        also_off = build_grounded(opened, sample_home, dataset={"grounded": False})
        on = build_grounded(opened, sample_home)
    for result in (off, also_off):
        rows = read_jsonl(result.folder / "train.jsonl")
        assert not [r for r in rows if r["meta"].get("from") == "grounded"]
        assert "grounded" not in result.manifest["counts"]
    assert on.manifest["counts"]["grounded"] > 0
