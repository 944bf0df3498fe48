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
- the question is asked four ways, in words of its own (TRAIN_QUESTIONS), not in the words of the
  `knows` check (evaluate/knows.py PROFILE_QUESTIONS), so the check still asks something
  the adapter never saw verbatim;
- the context is what the serve-time retriever returns for that question (same format,
  same budget, same privacy scrubbing); a row is kept only when the fact is in it;
- for every other question of a slot, the context also holds other facts of hers, up to
  `serve.retrieval_facts`, with the right one at a varying place. A slot's own question
  retrieves that slot alone, but a question that names two slots ("where do you *work*"
  is also "*working* on") gets both, and the v1 of the demo then answered from the wrong
  line ("Gus", her starter, for her sister's name): the rows teach picking the line the
  question asks for, not copying the only one;
- only in the training file, and never from a memory held out for evaluation.

Rows carry meta.from = "grounded"; the manifest counts them (`counts.grounded`). The
dataset layer knows nothing of profiles or serving: the callers that build a dataset (the
pipeline's dataset stage, `dataset build`) hand it `grounded_rows(paths, settings)` as the
request's `extra_rows`.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import replace
from functools import partial

from personaforge.config import Settings
from personaforge.dataset.build import ExtraRows
from personaforge.dataset.curate import TokenCounter
from personaforge.dataset.examples import Example
from personaforge.dataset.privacy import scrub
from personaforge.paths import Paths
from personaforge.profile import build_profile
from personaforge.serve.retrieval import FORMATS, Context, fact_line, open_retriever
from personaforge.store import Memory

# Four questions per slot, phrased apart from the knows check's (a test keeps them apart),
# each holding a word serve/retrieval.py's SLOT_CUES or the slot's label, so the retriever
# finds the fact as it does for a person's own question.
TRAIN_QUESTIONS: dict[str, tuple[str, ...]] = {
    "home_city": (
        "Which city are you living in these days?",
        "Where is home for you now?",
        "Which town do you live in?",
        "Where did you move to?",
    ),
    "hometown": (
        "Where were you born?",
        "Which town did you grow up in, originally?",
        "Which place are you from?",
        "Where is your hometown?",
    ),
    "employer": (
        "Which company are you with?",
        "Who is your employer?",
        "Which company do you work for?",
        "Where is your job?",
    ),
    "role": (
        "What is your role on the team?",
        "What is your job title?",
        "What position do you hold?",
        "What is your title at work?",
    ),
    "editor": (
        "What do you write your code in?",
        "Which editor is open on your screen?",
        "Which text editor do you code in?",
        "What is your editor of choice?",
    ),
    "tool": (
        "Which software do you rely on?",
        "What tools do you reach for?",
        "Which tools do you use the most?",
        "What software do you use for your work?",
    ),
    "project": (
        "What are you building in your spare time?",
        "Which project keeps you busy?",
        "What project are you working on these days?",
        "Tell me about the side project you are building.",
    ),
    "decision": (
        "What was the last big choice you made?",
        "What have you decided lately?",
        "Which decision did you make this month?",
        "What did you choose in the end?",
    ),
    "event": (
        "Any plans coming up?",
        "What is the next date in your calendar?",
        "What is your next big date?",
        "Which plans do you have coming?",
    ),
    "learning": (
        "Are you studying anything right now?",
        "Which course are you taking?",
        "What subject are you studying?",
        "What are you learning these days?",
    ),
    "interest": (
        "What are your hobbies?",
        "How do you spend a free weekend?",
        "What do you do for fun in your free time?",
        "Which hobbies keep you busy?",
    ),
    "habit": (
        "Any routines you stick to?",
        "What is your habit in the morning?",
        "What do you do first thing each day?",
        "What is your daily routine?",
    ),
    "named": (
        "What name did you give your {sub}?",
        "What do you call your {sub}?",
        "Your {sub}: what is it called?",
        "What is the name of your {sub}?",
    ),
    "favourite": (
        "Which {sub} do you like best?",
        "Your favourite {sub}?",
        "What is the {sub} you like best?",
        "Which {sub} is your favourite?",
    ),
    "relationship": (
        "Tell me about your {sub}.",
        "Who is your {sub}, again?",
        "Which person is your {sub}?",
        "What is the name of your {sub}?",
    ),
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
            for number, question in enumerate(training_questions(fact.key)):
                row = _grounded_row(
                    retriever, fact, question, scrubbed.text, memory, system_prompt, number % 2
                )
                if row is not None and count_tokens([row.messages])[0] <= max_length:
                    rows.append(row)
    finally:
        retriever.close()
    return rows


def _grounded_row(
    retriever,
    fact,
    question: str,
    answer: str,
    memory: Memory,
    system_prompt: str,
    with_others: bool,
):
    """One row, or None when the retriever does not give the fact for this question."""
    asked = [{"role": "system", "content": system_prompt}, {"role": "user", "content": question}]
    grounded = retriever.ground(asked, system_prompt)
    if not any(known.id == fact.id for known in grounded.context.facts):
        return None  # the answer would not come from the context: nothing to learn here
    prompt = grounded.messages
    if with_others:
        context = with_other_facts(grounded.context, retriever)
        prompt = FORMATS[retriever.format](asked, system_prompt, context)
    messages = [*prompt, {"role": "assistant", "content": answer}]
    return Example("knowledge", messages, [memory], extra={"from": "grounded", "slot": fact.key})


def with_other_facts(context: Context, retriever) -> Context:
    """`context` with other facts of hers added up to the retriever's fact count and token
    budget, at places drawn from the question (the same dataset every build)."""
    given = {f.id for f in context.facts}
    slots = {f.key for f in context.facts}
    others = [f for f in retriever.known_facts() if f.id not in given and f.key not in slots]
    draw = random.Random(hashlib.sha256(context.query.encode()).hexdigest())
    wanted = max(0, retriever.max_facts - len(context.facts))
    facts, tokens = list(context.facts), context.tokens
    for other in draw.sample(others, min(len(others), wanted)):
        cost = retriever.count_tokens(fact_line(other))
        if tokens + cost > retriever.max_tokens:
            break
        facts.insert(draw.randint(0, len(facts)), other)
        tokens += cost
    return replace(context, facts=facts, tokens=tokens)


def grounded_rows(paths: Paths, settings: Settings) -> ExtraRows:
    """What a dataset request's `extra_rows` takes: this home's grounded rows."""
    return partial(grounded_examples, paths, settings)
