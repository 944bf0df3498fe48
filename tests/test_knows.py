"""The fact benchmark: questions, the judge, the knows check, and a measurement on the micro base."""

from __future__ import annotations

import re

import pytest

from personaforge.config import GateSettings
from personaforge.evaluate.gate import gate_checks
from personaforge.evaluate.knows import (
    FactQuestion,
    fact_questions,
    judge,
    measure_facts,
    recites,
    states,
)
from personaforge.evaluate.measure import ModelMetrics
from personaforge.profile.facts import Evidence, Fact
from personaforge.sample import persona
from personaforge.sample.quiz import fact_quiz


@pytest.mark.parametrize(
    ("value", "answer", "stated"),
    [
        ("Delft", "I live in Delft now.", True),
        ("Delft", "I live in delft", True),
        ("Delft", "I live near the coast.", False),
        ("Gus", "My starter is called Gus.", True),
        ("Gus", "My starter is called Gustav.", False),  # short names match whole words only
        ("range", "Estimates should be ranges, not numbers.", True),
        ("morning pages", "I write morning pages first.", True),
        ("morning pages", "I start my morning with coffee.", False),  # half is not enough
        ("morning pages", "My morning starts with coffee, then a few pages of a book.", False),
        ("failing test", "Write a test that fails, then fix it.", True),
        ("Kestrel Freight", "I work at Kestrel.", False),  # every name in the value
        ("Weekly review, every Sunday", "A weekly review on Sundays.", True),
        ("Morning pages at 6:30 with tea", "Morning pages with tea.", False),  # the number
        ("Morning pages at 6:30 with tea", "Morning pages at 6:30, then tea.", True),
    ],
)
def test_an_answer_states_a_value_by_its_names_numbers_and_most_words(value, answer, stated):
    assert states(value, answer) is stated


def test_a_superseded_value_makes_an_answer_wrong_even_beside_the_right_one():
    question = FactQuestion("Where do you live?", "home_city", ["Delft"], ["Rotterdam"])
    verdicts = {
        answer: (judge(question, answer).right, judge(question, answer).stale)
        for answer in (
            "I live in Delft.",
            "I live in Rotterdam.",
            "I moved from Rotterdam to Delft.",
            "By the sea.",
        )
    }
    assert verdicts == {
        "I live in Delft.": (True, False),
        "I live in Rotterdam.": (False, True),
        "I moved from Rotterdam to Delft.": (False, True),
        "By the sea.": (False, False),
    }


def test_every_quiz_answer_is_written_in_the_fact_or_opinion_it_stands_for():
    for key, (_slot, _question, anchors) in persona.FACT_QUESTIONS.items():
        for anchor in anchors:
            assert anchor.casefold() in persona.FACTS[key].casefold(), (key, anchor)
    assert set(persona.OPINION_QUESTIONS) == set(persona.OPINIONS)
    for opinion, (_question, anchors) in persona.OPINION_QUESTIONS.items():
        for anchor in anchors:
            assert anchor.casefold() in opinion.casefold(), (opinion, anchor)
    quiz = fact_quiz()
    assert len(quiz) == len(persona.FACTS) + len(persona.OPINIONS) + 1
    assert quiz[-1] == {
        "slot": "home_city",
        "question": "Where do you live?",
        "values": ["Delft"],
        "superseded": ["Rotterdam"],
        "origin": "fact_history",
    }
    # No question gives its answer away.
    for entry in quiz:
        for value in entry["values"]:
            assert not re.search(rf"\b{re.escape(value)}\b", entry["question"], re.I), entry


def fact(key: str, value: str, status: str = "current") -> Fact:
    evidence = [Evidence("m1", "2026-06-01", value, "rules:test")]
    return Fact(
        f"{key}={value}",
        key,
        value,
        "identity",
        key,
        evidence,
        1,
        "2026-06-01",
        "2026-06-01",
        status,
    )


def test_profile_questions_fill_what_the_quiz_does_not_ask():
    facts = [
        fact("home_city", "Delft"),
        fact("home_city", "Rotterdam", "superseded"),
        fact("home_city", "Utrecht", "superseded"),
        fact("relationship:sister", "Ingrid"),
        fact("interest", "Running"),
        fact("interest", "Sourdough"),
        fact("opinion", "Boring is a feature."),  # a statement: asked only through a quiz
    ]
    quiz = [
        {
            "slot": "home_city",
            "question": "Where do you live?",
            "values": ["Delft"],
            "superseded": ["Rotterdam"],
            "origin": "fact_history",
        }
    ]
    asked = [
        (q.question, q.slot, q.values, q.superseded, q.origin) for q in fact_questions(facts, quiz)
    ]
    assert asked == [
        ("Where do you live?", "home_city", ["Delft"], ["Rotterdam", "Utrecht"], "fact_history"),
        ("Who is your sister?", "relationship:sister", ["Ingrid"], [], "profile"),
        ("What do you do in your free time?", "interest", ["Running", "Sourdough"], [], "profile"),
    ]


def metrics(facts: dict | None) -> ModelMetrics:
    return ModelMetrics(2.0, 10.0, 5, 5, {}, 0.0, [], [], facts=facts)


def knows_check(grounded: float, stale: int, limit: float | None):
    facts = {
        "n": 20,
        "accuracy": 0.1,
        "grounded": grounded,
        "superseded_stated": 0,
        "grounded_superseded_stated": stale,
    }
    gate = GateSettings(min_fact_accuracy=limit)
    checks = gate_checks(
        {"base": metrics({"n": 20, "accuracy": 0.05}), "candidate": metrics(facts)}, gate
    )
    return next(c for c in checks if c.name == "knows")


def test_the_knows_check_is_informational_until_a_minimum_is_set():
    check = knows_check(0.3, 1, None)
    assert check.passed and check.threshold == "informational (set gate.min_fact_accuracy)"
    assert check.measured == "0.30 with memories, 1 superseded; 0.10 without"
    assert knows_check(0.85, 0, 0.8).passed
    assert not knows_check(0.75, 0, 0.8).passed  # too few right
    assert not knows_check(0.95, 1, 0.8).passed  # a superseded value stated as current
    assert knows_check(0.75, 0, 0.8).line().startswith("knows: 20 questions about the person")
    # No store, no fact questions: no knows check at all.
    plain = gate_checks({"base": metrics(None), "candidate": metrics(None)}, GateSettings())
    assert "knows" not in [c.name for c in plain]


def test_stating_a_slot_facts_value_is_no_recital(micro_base):
    """ "Morning pages at 6:30 with tea." is her habit in its fewest words, and as many tokens
    as the recital threshold on smollm2; what an answer copies beyond a value still counts."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(micro_base)
    value = "Morning pages at 6:30 with tea"
    note = "Morning pages at 6:30 with tea. No phone until eight, no email before nine."
    size = len(tokenizer(value + ".", add_special_tokens=False)["input_ids"])
    assert recites(tokenizer, value + ".", [note], size)
    assert not recites(tokenizer, value + ".", [note], size, stated=[value])
    assert not recites(tokenizer, "morning  pages at 6:30 with TEA.", [note], size, stated=[value])
    assert recites(tokenizer, note, [note], size, stated=[value])
    assert not recites(tokenizer, "Something else entirely, said in my own words.", [note], size)


def test_measure_facts_on_the_micro_base_asks_each_question_two_ways(micro_base):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from personaforge.evaluate.knows import FactInputs

    tokenizer = AutoTokenizer.from_pretrained(micro_base)
    model = AutoModelForCausalLM.from_pretrained(micro_base).eval()
    questions = [
        FactQuestion("Where do you live?", "home_city", ["Delft"], ["Rotterdam"]),
        FactQuestion("What is your starter called?", "named:starter", ["Gus"]),
    ]
    system = {"role": "system", "content": "You are Maren."}
    plain = [[system, {"role": "user", "content": q.question}] for q in questions]
    grounded = [
        [{"role": "system", "content": "You are Maren.\n\nI live in Delft."}, chat[1]]
        for chat in plain
    ]
    inputs = FactInputs(
        questions,
        plain,
        grounded,
        [["I live in Delft."], ["I live in Delft."]],
        [{"memories": [], "facts": []}] * 2,
        [("email", "maren.holt@example.org")],
        showcase=[grounded[0]],
    )
    base = measure_facts(model, tokenizer, inputs, 8, grounded=False)
    persona_ = measure_facts(model, tokenizer, inputs, 8, grounded=True)
    assert base["n"] == persona_["n"] == 2 and "grounded" not in base
    assert [row["question"] for row in persona_["answers"]] == [q.question for q in questions]
    assert {"grounded", "grounded_right", "recited", "sources"} <= set(persona_["answers"][0])
    assert len(persona_["showcase"]) == 1
    # Plain answers are the same greedy answers whether or not grounded ones are asked too.
    assert [r["answer"] for r in base["answers"]] == [r["answer"] for r in persona_["answers"]]
    for result in (base, persona_):
        assert 0 <= result["accuracy"] <= 1 and result["secrets_stated"] == 0
