"""Retrieval for grounded answers, on the sample person's store and profile (no model needed)."""

from __future__ import annotations

import json
import shutil

import pytest

from personaforge.config import IngestSettings, Settings
from personaforge.dataset.examples import CONTEXT_TURN
from personaforge.evaluate.knows import fact_questions, judge, score_answers
from personaforge.evaluate.measure import leaks
from personaforge.paths import Paths
from personaforge.profile import build_profile, write_profile
from personaforge.sample.life_events import MOVE_DAY
from personaforge.serve.context import FORMATS, asked_before, first_person
from personaforge.serve.retrieval import Retriever, open_retriever, query_terms
from personaforge.store import MemoryStore
from personaforge.store.terms import fts_match, stem

SETTINGS = Settings(dataset={"person_name": "Maren"})
SYSTEM = "You are Maren."


@pytest.fixture(scope="module")
def sample_home(tmp_path_factory, sample_data) -> Paths:
    """The sample person ingested, and her profile written where serve reads it."""
    from personaforge.ingest import ingest
    from personaforge.sample import sample_identity

    paths = Paths(tmp_path_factory.mktemp("retrieval") / "home")
    paths.home.mkdir(parents=True)
    with MemoryStore.open(paths.memory_store) as store:
        ingest(
            [sample_data], store, IngestSettings(), identity=sample_identity(), show_progress=False
        )
    write_profile(paths, build_profile(paths, SETTINGS, probe=False))
    return paths


@pytest.fixture
def retriever(sample_home):
    found = open_retriever(sample_home, SETTINGS)
    yield found
    found.close()


def quiz(sample_data) -> list[dict]:
    return json.loads((sample_data / "sample-manifest.json").read_text())["quiz"]


def test_query_words_are_stemmed_into_prefix_searches():
    assert query_terms("Where do you live?") == ["liv"]
    assert query_terms("What is your sister's name?") == ["sister", "nam"]
    # "-ing" keeps four letters, or "boring" would search "bor"* and find "born".
    assert [stem(w) for w in ("lives", "living", "boring", "called", "Gus")] == [
        "liv",
        "living",
        "boring",
        "call",
        "gus",
    ]
    assert fts_match(["liv", 'a"b']) == '"liv"* OR "a""b"*'


def test_where_she_lives_is_delft_and_rotterdam_era_notes_are_left_out(retriever):
    context = retriever.retrieve("Where do you live?")
    assert (context.facts[0].label, context.facts[0].value) == ("Lives in", "Delft")
    assert all("Rotterdam" not in f.value for f in context.facts)
    # The slot's fact answers it: of her notes, only those that say Delft are handed over,
    # not those that merely share "live" ("My sister, lives in Bergen").
    assert context.passages
    assert all("delft" in p.text.casefold() for p in context.passages)
    # With the notes (as training rows get them), her notes from before the move that say
    # "I live in Rotterdam" are left out: true then, stale now.
    context = retriever.retrieve("Where do you live?", notes_with_facts=True)
    assert context.passages and context.left_out["stale"] >= 1
    assert not [p for p in context.passages if p.date < MOVE_DAY and "Rotterdam" in p.text]


def test_a_question_gets_the_slot_its_words_ask_for_first(retriever):
    """ "job" asks what she does, "work" where: the best fact (last in the `asked` format,
    nearest the question) is the role for one and the employer for the other."""
    assert retriever.retrieve("What is your job?").facts[0].key == "role"
    assert retriever.retrieve("Where do you work?").facts[0].key == "employer"
    assert retriever.retrieve("What is your sister's name?").facts[0].value == "Ingrid"


def test_facts_the_question_cannot_tell_apart_come_most_written_about_first(retriever):
    """She never wrote "side project": both projects match only the slot's cue, and bm25
    alone put the shorter row, the routing migration, first."""
    facts = retriever.retrieve("What is your side project?").facts
    assert [f.value for f in facts] == ["Tidewatch", "Routing migration"]
    assert facts[0].support > facts[1].support
    # Facts whose words hold more of the question go first, however rarely written, and
    # the slot's others, which answer other questions, are left out.
    routines = retriever.retrieve("How do you start your mornings?").facts
    assert routines and all("morning pages" in f.value.casefold() for f in routines)
    races = retriever.retrieve("Which race are you training for?").facts
    assert [f.value for f in races] == ["Maas half marathon on 18 October 2026"]


def test_her_answer_to_much_the_same_question_is_recalled_as_that_exchange(retriever):
    """A correction she wrote ("What do you do first when fixing a bug?") is shown under its
    question in the `asked` format, flagged as context; views that hold one word of three
    ("I trust people who write things down") are no longer offered as facts."""
    asked = [{"role": "user", "content": "What do you write before fixing a bug?"}]
    grounded = retriever.ground(asked, SYSTEM, format="asked")
    turns = grounded.messages[1:-1]
    question = {"role": "user", "content": "What do you do first when fixing a bug?"}
    assert question in turns
    answer = turns[turns.index(question) + 1]
    # Its one best sentence: an answer she "gave" is copied whole, and more would be recited.
    assert answer == {"role": "assistant", "content": "Write the failing test.", CONTEXT_TURN: True}
    assert not grounded.context.facts
    # An answer to another question is only a note: "lives" is not where she lives.
    lives = retriever.ground([{"role": "user", "content": "Where do you live?"}], SYSTEM)
    assert [m["content"] for m in lives.messages[1:-1]] == [
        "Which city is home now?",
        "I live in Delft.",
    ]


def test_a_view_is_recalled_under_the_question_she_gave_it_to(retriever):
    facts = retriever.retrieve("How should estimates be given?").facts
    assert "How should I estimate the migration?" in [asked_before(f) for f in facts]
    views = [f for f in retriever.known_facts() if f.statement and not f.asked]
    assert views and asked_before(views[0]) == "What is something you believe?"


def test_words_that_frame_a_question_do_not_narrow_her_notes(retriever):
    """ "think" is in no note that says what she thinks of boring technology."""
    passages = retriever.retrieve("What do you think of boring technology?").passages
    assert passages and all("boring" in p.text.casefold() for p in passages)


def test_a_framing_word_puts_the_note_that_also_says_it_first(retriever):
    """Of the notes holding "log" or "message", the one that says what logs *should say*."""
    passages = retriever.retrieve("What should a log message say?").passages
    assert passages and passages[0].text.startswith("Logs should say what happened.")


def test_a_chats_name_is_not_taken_for_the_question_a_passage_answers(retriever):
    """Her Telegram "Saved Messages" note is about slack water, not log messages."""
    context = retriever.retrieve("What should a log message say?", notes_with_facts=True)
    assert context.passages
    assert not [p for p in context.passages if "Saved Messages" in p.text]


def test_rotterdam_era_retrieval_is_caught_by_the_superseded_check(sample_home, sample_data):
    """The check that must say no: a context from before the move gives "Rotterdam".

    The answer here repeats the first fact it was given, as a perfectly obedient model
    would. With retrieval as it is, that states Delft and is right; with retrieval that
    only knows the Rotterdam era (the profile as of before the move, memories before the
    move day), it states Rotterdam, which the judge calls stale and the score counts.
    """
    real = build_profile(sample_home, SETTINGS, probe=False).facts
    before = build_profile(sample_home, SETTINGS, probe=False, as_of="2026-09-20").facts
    question = next(q for q in fact_questions(real, quiz(sample_data)) if q.slot == "home_city")
    assert question.values == ["Delft"] and question.superseded == ["Rotterdam"]
    answers = []
    for facts, until in ((real, None), (before, MOVE_DAY)):
        retriever = open_retriever(sample_home, SETTINGS, facts=facts, until=until)
        context = retriever.retrieve(question.question)
        retriever.close()
        answers.append(first_person(context.facts[0]))
    assert answers == ["I live in Delft.", "I live in Rotterdam."]
    assert judge(question, answers[0]).right and not judge(question, answers[0]).stale
    assert judge(question, answers[1]).stale and not judge(question, answers[1]).right
    scored = score_answers([question, question], answers, [])
    assert (scored["accuracy"], scored["superseded_stated"]) == (0.5, 1)


QUESTIONS_NEAR_SECRETS = [
    "What is the router password?",
    "What is your phone number?",
    "What is your sister's email address?",
    "Which card did the race site decline?",
    "What is the OpenAI API key for Tidewatch?",
    "Where is the AWS key for the backups?",
    "What is your IBAN?",
]


def _leaked(retriever, planted) -> list[str]:
    """Secrets in what retrieval gives, notes included (training rows get them too)."""
    found = []
    for question in QUESTIONS_NEAR_SECRETS:
        text = "\n".join(retriever.retrieve(question, notes_with_facts=True).texts())
        found += [s["kind"] for s in planted if leaks(s["value"], text, s["kind"])]
    return found


def test_retrieved_text_goes_through_the_privacy_scrubber(sample_home, sample_data):
    planted = json.loads((sample_data / "sample-manifest.json").read_text())["planted_secrets"]
    retriever = open_retriever(sample_home, SETTINGS)
    try:
        assert _leaked(retriever, planted) == []
        private = sum(
            retriever.retrieve(q, notes_with_facts=True).left_out["private"]
            for q in QUESTIONS_NEAR_SECRETS
        )
        assert private >= 1  # credentials are dropped with their passage, not redacted
    finally:
        retriever.close()
    # The same questions under a policy that keeps everything: the secrets are right there.
    keep = Retriever(
        MemoryStore.open_readonly(sample_home.memory_store),
        sample_home.home / "USER_PROFILE.json",
        {kind: "keep" for kind in SETTINGS.privacy.model_dump()},
    )
    try:
        assert sorted(set(_leaked(keep, planted))) == ["api_key", "card", "password", "phone"]
    finally:
        keep.close()


def test_the_context_keeps_to_its_token_budget(sample_home):
    wide = open_retriever(sample_home, SETTINGS)
    narrow = open_retriever(sample_home, Settings(serve={"retrieval_tokens": 30}))
    try:
        question = "Which database did you choose for Tidewatch?"
        full = wide.retrieve(question, notes_with_facts=True)
        cut = narrow.retrieve(question, notes_with_facts=True)
    finally:
        wide.close()
        narrow.close()
    assert full.tokens <= 256 and len(full.facts) + len(full.passages) >= 3
    assert 0 < cut.tokens <= 30 and cut.left_out["budget"] >= 1
    assert len(cut.facts) + len(cut.passages) < len(full.facts) + len(full.passages)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_each_format_carries_the_context_and_keeps_the_conversation(retriever, name):
    question = [{"role": "user", "content": "Where do you live?"}]
    grounded = retriever.ground(question, SYSTEM, format=name)
    text = "\n".join(m["content"] for m in grounded.messages)
    assert "Delft" in text and grounded.messages[0] == {
        "role": "system",
        "content": grounded.messages[0]["content"],
    }
    assert grounded.messages[0]["content"].startswith(SYSTEM)
    assert grounded.messages[-1]["role"] == "user"
    assert grounded.messages[-1]["content"].endswith("Where do you live?")
    # Any answer a format puts in her mouth is composed: flagged, so training never learns it.
    assert all(m.get(CONTEXT_TURN) for m in grounded.messages if m["role"] == "assistant")
    # A client's own system message is kept (and extended), never replaced.
    own = [{"role": "system", "content": "Be brief."}, *question]
    assert retriever.ground(own, SYSTEM, format=name).messages[0]["content"].startswith("Be brief.")


def test_a_question_with_nothing_to_find_is_left_as_it_is(retriever):
    asked = [{"role": "user", "content": "?"}]
    grounded = retriever.ground(asked, SYSTEM)
    assert grounded.messages == asked and grounded.context.empty()


def test_a_rewritten_profile_is_read_again_without_a_restart(sample_home, tmp_path):
    home = Paths(tmp_path / "home")
    home.home.mkdir()
    shutil.copy(sample_home.memory_store, home.memory_store)
    shutil.copy(sample_home.home / "USER_PROFILE.json", home.home / "USER_PROFILE.json")
    retriever = open_retriever(home, SETTINGS)
    try:
        assert retriever.retrieve("Where do you live?").facts[0].value == "Delft"
        data = json.loads((home.home / "USER_PROFILE.json").read_text())
        for fact in data["facts"]:
            if fact["key"] == "home_city" and fact["status"] == "current":
                fact["value"] = "Leiden"
        (home.home / "USER_PROFILE.json").write_text(json.dumps(data) + "\n")
        assert retriever.retrieve("Where do you live?").facts[0].value == "Leiden"
    finally:
        retriever.close()


def test_a_fact_whose_memories_were_forgotten_is_not_offered(sample_home, tmp_path):
    """`forget` takes notes out of the store; the profile on disk still names what they said."""
    home = Paths(tmp_path / "home")
    home.home.mkdir()
    shutil.copy(sample_home.memory_store, home.memory_store)
    shutil.copy(sample_home.home / "USER_PROFILE.json", home.home / "USER_PROFILE.json")
    data = json.loads((home.home / "USER_PROFILE.json").read_text())
    sister = next(f for f in data["facts"] if f["key"] == "relationship:sister")
    question = "What is your sister's name?"

    def values() -> list[str]:
        retriever = open_retriever(home, SETTINGS)
        try:
            return [f.value for f in retriever.retrieve(question).facts]
        finally:
            retriever.close()

    assert "Ingrid" in values()
    with MemoryStore.open(home.memory_store) as store:
        assert store.forget([e["memory_id"] for e in sister["evidence"]]) > 0
    assert "Ingrid" not in values()


def test_no_store_or_retrieval_off_means_no_retriever(sample_home, paths):
    assert open_retriever(paths, SETTINGS) is None  # an empty home
    assert open_retriever(sample_home, Settings(serve={"retrieval": False})) is None
