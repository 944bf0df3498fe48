"""Grounded rows: her own answer about herself, with the context `serve` gives the question.

`serve` answers with the person's facts and memories in the system message
(serve/retrieval.py). An adapter trained only on plain prompts learns to answer from its
weights and to pass over that context: on the smollm2-135m demo, v1 with retrieval stated
4 of 23 of her facts (bench/RESULTS.md, "persona on the demo") while the right fact was in
its context for most of them ("What is your sister's name?" with "Sister: Ingrid" given,
it answered "Gus", her sourdough starter, from the line below).

These rows show it the same context while it learns her answer, so the context becomes
something her answers use:

- one row per current profile fact that she stated in a sentence of her own (the fact's
  evidence quote: "Moved to Delft today.", "I use Neovim for everything"), never a line
  the extractor composed (a note's title, a tag);
- the question is asked two ways, in words of its own (TRAIN_QUESTIONS), not in the words of the
  `knows` check (evaluate/knows.py PROFILE_QUESTIONS), so the check still asks something
  the adapter never saw verbatim;
- the context is what the serve-time retriever returns for that question (same format,
  same budget, same privacy scrubbing); a row is kept only when the fact is in it;
- only in the training file, and never from a memory held out for evaluation.

Rows carry meta.from = "grounded"; the manifest counts them (`counts.grounded`). The
dataset layer knows nothing of profiles or serving: the callers that build a dataset (the
pipeline's dataset stage, `dataset build`) hand it `grounded_rows(paths, settings)` as the
request's `extra_rows`.
"""

from __future__ import annotations

import re
from functools import partial

from personaforge.config import Settings
from personaforge.dataset.build import ExtraRows
from personaforge.dataset.curate import TokenCounter
from personaforge.dataset.examples import Example
from personaforge.dataset.privacy import scrub
from personaforge.paths import Paths
from personaforge.profile import build_profile
from personaforge.serve.retrieval import open_retriever
from personaforge.store import Memory

# One question per slot, phrased apart from the knows check's (a test keeps them apart),
# each holding a word serve/retrieval.py's SLOT_CUES or the slot's label, so the retriever
# finds the fact as it does for a person's own question.
TRAIN_QUESTIONS: dict[str, tuple[str, ...]] = {
    "home_city": ("Which city are you living in these days?", "Where is home for you now?"),
    "hometown": ("Where were you born?", "Which town did you grow up in, originally?"),
    "employer": ("Which company are you with?", "Who is your employer?"),
    "role": ("What is your role on the team?", "What is your job title?"),
    "editor": ("What do you write your code in?", "Which editor is open on your screen?"),
    "tool": ("Which software do you rely on?", "What tools do you reach for?"),
    "project": ("What are you building in your spare time?", "Which project keeps you busy?"),
    "decision": ("What was the last big choice you made?", "What have you decided lately?"),
    "event": ("Any plans coming up?", "What is the next date in your calendar?"),
    "learning": ("Are you studying anything right now?", "Which course are you taking?"),
    "interest": ("What are your hobbies?", "How do you spend a free weekend?"),
    "habit": ("Any routines you stick to?", "What is your habit in the morning?"),
    "named": ("What name did you give your {sub}?", "What do you call your {sub}?"),
    "favourite": ("Which {sub} do you like best?", "Your favourite {sub}?"),
    "relationship": ("Tell me about your {sub}.", "Who is your {sub}, again?"),
}
# Quotes the profile's extractors compose rather than copy: `note “Title”: first line`,
# `tagged #work/x`. They are not a sentence she wrote as an answer.
COMPOSED = re.compile(r"^(?:note “|tagged\s)")
MIN_ANSWER_WORDS = 3


def training_questions(key: str) -> list[str]:
    base, _, sub = key.partition(":")
    return [template.format(sub=sub) for template in TRAIN_QUESTIONS.get(base, ())]


def her_answer(fact, memories: dict[str, Memory], held_out: set[str]) -> tuple[str, Memory] | None:
    """The first evidence quote that is her own sentence naming the fact's value, and its memory."""
    value = fact.value.casefold()
    for evidence in fact.evidence:
        memory = memories.get(evidence.memory_id)
        quote = evidence.quote.strip()
        if memory is None or memory.id in held_out or memory.speaker != "self":
            continue
        if COMPOSED.match(quote) or len(quote.split()) < MIN_ANSWER_WORDS:
            continue
        if value in quote.casefold() and quote in memory.text:
            return quote, memory
    return None


def grounded_examples(
    paths: Paths,
    settings: Settings,
    memories: list[Memory],
    held_out: set[str],
    system_prompt: str,
    count_tokens: TokenCounter,
) -> list[Example]:
    """The grounded rows for `memories` (the dataset's selection); [] when serve retrieves nothing.

    count_tokens: the build's counter of whole conversations; a row longer than
    train.max_seq_length is left out (truncation would cut her answer, which comes last)."""
    if not settings.dataset.grounded or not paths.memory_store.is_file():
        return []  # (a store built elsewhere than the home has no profile or retriever here)
    facts = build_profile(paths, settings, probe=False).facts
    retriever = open_retriever(paths, settings, facts=facts)
    if retriever is None:
        return []
    by_id = {m.id: m for m in memories}
    policy = settings.privacy.model_dump()
    rows: list[Example] = []
    seen: set[tuple[str, str]] = set()
    max_length = settings.train.max_seq_length
    try:
        for fact in facts:
            found = her_answer(fact, by_id, held_out)
            if fact.status != "current" or fact.statement or not found:
                continue
            quote, memory = found
            scrubbed = scrub(quote, policy)
            if scrubbed.drop or (fact.key, scrubbed.text) in seen:
                continue
            seen.add((fact.key, scrubbed.text))
            for question in training_questions(fact.key):
                row = _grounded_row(retriever, fact, question, scrubbed.text, memory, system_prompt)
                if row is not None and count_tokens([row.messages])[0] <= max_length:
                    rows.append(row)
    finally:
        retriever.close()
    return rows


def _grounded_row(retriever, fact, question: str, answer: str, memory: Memory, system_prompt: str):
    """One row, or None when the retriever does not give the fact for this question."""
    asked = [{"role": "system", "content": system_prompt}, {"role": "user", "content": question}]
    grounded = retriever.ground(asked, system_prompt)
    if not any(known.id == fact.id for known in grounded.context.facts):
        return None  # the answer would not come from the context: nothing to learn here
    messages = [*grounded.messages, {"role": "assistant", "content": answer}]
    return Example("knowledge", messages, [memory], extra={"from": "grounded", "slot": fact.key})


def grounded_rows(paths: Paths, settings: Settings) -> ExtraRows:
    """What a dataset request's `extra_rows` takes: this home's grounded rows."""
    return partial(grounded_examples, paths, settings)
