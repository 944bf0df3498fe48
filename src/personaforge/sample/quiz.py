"""The sample person's quiz: questions with the words a right answer holds, for the fact benchmark.

`fact_quiz()` is written into the manifest as `quiz` (evaluate/knows.py reads it there, so
the benchmark never imports the generator). One entry per persona.FACTS key, per opinion and
per changing fact (life_events.FACT_HISTORY):

    {"slot": "home_city", "question": "Where do you live?", "values": ["Delft"],
     "superseded": ["Rotterdam"], "origin": "fact_history"}

An answer is right when it states one of `values` and none of `superseded`.
"""

from __future__ import annotations

from typing import Any

from personaforge.sample import persona
from personaforge.sample.life_events import FACT_HISTORY


def fact_quiz() -> list[dict[str, Any]]:
    quiz: list[dict[str, Any]] = []
    for key, (slot, question, anchors) in persona.FACT_QUESTIONS.items():
        quiz.append(_entry(slot, question, anchors, [], f"facts:{key}"))
    for opinion in persona.OPINIONS:
        question, anchors = persona.OPINION_QUESTIONS[opinion]
        quiz.append(_entry("opinion", question, anchors, [], "opinions"))
    for slot, question in persona.HISTORY_QUESTIONS.items():
        held = [e for e in FACT_HISTORY if e["key"] == slot]
        now = [str(e["value"]) for e in held if e["until"] is None]
        before = [str(e["value"]) for e in held if e["until"] is not None]
        quiz.append(_entry(slot, question, now, before, "fact_history"))
    return quiz


def _entry(
    slot: str, question: str, values: list[str], superseded: list[str], origin: str
) -> dict[str, Any]:
    return {
        "slot": slot,
        "question": question,
        "values": list(values),
        "superseded": list(superseded),
        "origin": origin,
    }
