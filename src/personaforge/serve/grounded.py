"""Grounded rows: her own answer about herself, with the context `serve` gives the question.

`serve` answers with the person's facts and memories in the system message
(serve/retrieval.py). An adapter trained only on plain prompts learns to answer from its
weights and to pass over that context: on the smollm2-135m demo, v1 with retrieval stated
4 of 23 of her facts (bench/RESULTS.md, "persona on the demo") while the right fact was in
its context for most of them ("What is your sister's name?" with "Sister: Ingrid" given,
it answered "Gus", her sourdough starter, from the line below).

These rows show it the same context while it learns her answer, so the context becomes
something her answers use. The unit is a *lookup*: a question about one fact, her answer,
and the context the retriever gives that question:

- one lookup per question about a current profile fact that she stated in a sentence of
  her own (the fact's evidence quote: "Moved to Delft today.", "I use Neovim for
  everything"), never a line the extractor composed (a note's title, a tag);
- the question is asked four ways, in words of its own (TRAIN_QUESTIONS), not in the words of the
  `knows` check (evaluate/knows.py PROFILE_QUESTIONS), so the check still asks something
  the adapter never saw verbatim;
- the context is what the serve-time retriever returns for that question (same format,
  same budget, same privacy scrubbing); a lookup is kept only when the fact is in it.

Lookups are asked in conversations of up to four (SESSION_TURNS), about different slots,
under one context: the four contexts merged, their facts in a drawn order, placed where
serve places a context (before the first question). Every answer then has to pick its line
among other facts of hers, and the demo's v1 had answered from the wrong one ("Gus", her
starter, for her sister's name). Conversations make `dataset.grounded_share` of the
training file, each lookup in at most MAX_REPEATS of them with other companions each
time. One question per row, as before, gave the smollm2 demo's 24 steps about 13 lookups
in all; with the rows as conversations they see about 50. They are only in the training
file, and never from a memory held out for evaluation.

Rows carry meta.from = "grounded"; the manifest counts them (`counts.grounded`). The
dataset layer knows nothing of profiles or serving: the callers that build a dataset (the
pipeline's dataset stage, `dataset build`) hand it `grounded_rows(paths, settings)` as the
request's `extra_rows`.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, replace
from functools import partial

from personaforge.config import Settings
from personaforge.dataset.build import ExtraRows
from personaforge.dataset.curate import TokenCounter
from personaforge.dataset.examples import Example
from personaforge.dataset.privacy import scrub
from personaforge.paths import Paths
from personaforge.profile import build_profile
from personaforge.profile.facts import Fact
from personaforge.serve.context import FORMATS, Context, fact_line, passage_line
from personaforge.serve.retrieval import open_retriever
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
        "Where do you go to work?",
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
TRAILING_YEAR = re.compile(r" (?:19|20)\d\d$")
MENTION = "rules:mention"  # profile/rules.py: a sentence that names a known fact's value
# Clause breaks inside a sentence: a comma, semicolon, colon or dash and the space after it.
CLAUSE = re.compile(r"(?<=[,;:])\s+|\s+[—–-]\s+")
LEADING_JOINER = re.compile(r"^(?:and|but|so|because)\s+", re.IGNORECASE)
# Questions per grounded conversation. One context then serves four lookups, so a row of
# about 300 tokens teaches four picks of the right line where a one-question row of about
# 120 teaches one: on the smollm2 demo (24 steps of 4 rows) the one-question rows gave the
# adapter about 13 lookups in all, and it used its context no better than the base did.
SESSION_TURNS = 4
# A lookup is in at most this many rows (each with other companions), so a person with few
# facts gets no training file made of the same four answers.
MAX_REPEATS = 8


def training_questions(key: str) -> list[str]:
    base, _, sub = key.partition(":")
    return [template.format(sub=sub) for template in TRAIN_QUESTIONS.get(base, ())]


def her_answer(fact, memories: dict[str, Memory], held_out: set[str]) -> tuple[str, Memory] | None:
    """Her own words that say the fact, and their memory: the clause of an evidence quote that
    names the value, from a sentence that states the fact ahead of one that only mentions it.

    "Fed Gus at half past six." mentions her starter and never says Gus is one, so the
    sentence the extractor read the fact from ("Gus is my starter") comes first. Of
    "Introduced myself: I work at Kestrel Freight, I'm from Bergen, and I'm learning
    Dutch ..." the answer about where she is from is "I'm from Bergen": the rest answers
    other questions, and a long answer spends the row's loss on words that say nothing of
    the fact asked."""
    forms = said_forms(fact.value)
    stating = sorted(fact.evidence, key=lambda e: e.extractor == MENTION)
    for evidence in stating:
        memory = memories.get(evidence.memory_id)
        quote = evidence.quote.strip()
        answered = evidence.answered()
        if answered:  # "question — her answer.": only the answer is hers
            quote = answered[1]
        if memory is None or memory.id in held_out or memory.speaker != "self":
            continue
        if COMPOSED.match(quote) or len(quote.split()) < MIN_ANSWER_WORDS:
            continue
        value = next((form for form in forms if form in quote.casefold()), None)
        if value is not None and quote in memory.text:
            return clause_naming(quote, value), memory
    return None


def said_forms(value: str) -> list[str]:
    """The fact's value as her sentences may say it, casefolded. An event's value carries the
    year its note was written in ("Maas half marathon on 18 October 2026", profile/rules.py)
    and her sentences do not ("Registered for the Maas half marathon on 18 October."): the
    demo's two events had no grounded row, and the race was the one fact every version missed."""
    value = value.casefold()
    undated = TRAILING_YEAR.sub("", value)
    return [value] if undated == value else [value, undated]


def clause_naming(sentence: str, value: str) -> str:
    """The clause of `sentence` that holds `value` (casefolded), when it has words enough to
    be an answer; else the whole sentence. Always a span of her text, as she wrote it."""
    for clause in CLAUSE.split(sentence):
        clause = LEADING_JOINER.sub("", clause.strip()).rstrip(",;:")
        if value in clause.casefold() and len(clause.split()) >= MIN_ANSWER_WORDS:
            return clause
    return sentence


@dataclass(frozen=True)
class Lookup:
    """One thing the rows teach: a question about a fact, her answer, and what serve gives it."""

    fact: Fact
    question: str
    answer: str  # her sentence, scrubbed
    memory: Memory  # where she wrote it
    context: Context  # what the serve-time retriever returns for the question


def grounded_examples(
    paths: Paths,
    settings: Settings,
    memories: list[Memory],
    held_out: set[str],
    system_prompt: str,
    count_tokens: TokenCounter,
    train_rows: int = 0,
) -> list[Example]:
    """The grounded rows for `memories` (the dataset's selection); [] when serve retrieves nothing.

    count_tokens: the build's counter of whole conversations; a row is cut to the turns that
    fit train.max_seq_length (truncation would cut her last answer). train_rows: the training
    file's other rows, which dataset.grounded_share is a share of."""
    if not settings.dataset.grounded or not paths.memory_store.is_file():
        return []  # (a store built elsewhere than the home has no profile or retriever here)
    facts = build_profile(paths, settings, probe=False).facts
    retriever = open_retriever(paths, settings, facts=facts)
    if retriever is None:
        return []
    try:
        found = lookups(retriever, facts, {m.id: m for m in memories}, held_out, settings)
        wanted = session_count(len(found), train_rows, settings.dataset.grounded_share)
        return sessions(
            found, wanted, retriever, system_prompt, count_tokens, settings.train.max_seq_length
        )
    finally:
        retriever.close()


def lookups(retriever, facts, memories: dict[str, Memory], held_out: set[str], settings):
    """Every (fact, question) the retriever answers with the fact, with her sentence for it."""
    policy = settings.privacy.model_dump()
    found: list[Lookup] = []
    seen: set[tuple[str, str]] = set()
    for fact in facts:
        quoted = her_answer(fact, memories, held_out)
        if fact.status != "current" or fact.statement or not quoted:
            continue
        quote, memory = quoted
        scrubbed = scrub(quote, policy)
        if scrubbed.drop or (fact.key, scrubbed.text) in seen:
            continue
        seen.add((fact.key, scrubbed.text))
        for question in training_questions(fact.key):
            context = retriever.retrieve(question, notes_with_facts=True)
            # A row whose fact is not in its context would teach answering from the weights.
            if any(known.id == fact.id for known in context.facts):
                found.append(Lookup(fact, question, scrubbed.text, memory, context))
    return found


def session_count(lookup_count: int, train_rows: int, share: float) -> int:
    """Rows that make `share` of the training file, each lookup in at most MAX_REPEATS of them."""
    if not lookup_count or share <= 0:
        return 0
    for_share = round(share / (1 - share) * train_rows)
    most = -(-lookup_count * MAX_REPEATS // SESSION_TURNS)
    least = -(-lookup_count // SESSION_TURNS)  # every lookup at least once
    return max(least, min(for_share, most))


def sessions(
    found: list[Lookup],
    wanted: int,
    retriever,
    system_prompt: str,
    count_tokens: TokenCounter,
    max_length: int,
) -> list[Example]:
    """`wanted` conversations of up to SESSION_TURNS questions about different slots.

    Lookups are dealt in shuffled rounds (the same every build: the draw is seeded by the
    lookups themselves), so each is used about equally often and meets other companions
    each round. The context of a conversation is its questions' contexts merged, facts in
    a drawn order, and put where serve puts a context: before the first question."""
    seed = hashlib.sha256("\n".join(f"{x.fact.id} {x.question}" for x in found).encode())
    draw = random.Random(seed.hexdigest())
    deck: list[Lookup] = []
    rows: list[Example] = []
    misses = 0  # deals in a row that fit no conversation; a deck's worth means none ever will
    while len(rows) < wanted and misses < len(found):
        if len(deck) < SESSION_TURNS:
            fresh = list(found)
            draw.shuffle(fresh)
            deck += fresh
        turns = _deal(deck, SESSION_TURNS)
        row = _session_row(turns, retriever, system_prompt, count_tokens, max_length, draw)
        if row is None:
            misses += 1
        else:
            rows.append(row)
            misses = 0
    return rows


def _deal(deck: list[Lookup], size: int) -> list[Lookup]:
    """Up to `size` lookups off the deck, no two of one slot (two answers to "where do you
    live" in one conversation would contradict or repeat each other)."""
    turns: list[Lookup] = []
    for lookup in list(deck):
        if len(turns) == size:
            break
        if all(lookup.fact.key != t.fact.key for t in turns):
            turns.append(lookup)
            deck.remove(lookup)
    return turns


def _session_row(turns, retriever, system_prompt, count_tokens, max_length, draw):
    """One conversation over `turns`, cut to fit max_length: first its passages go, then its
    last turns; None when not even one turn fits."""
    while turns:
        context = merged_context(turns, retriever, draw)
        for given in (context, replace(context, passages=[])):
            messages = _conversation(turns, given, retriever.format, system_prompt)
            if count_tokens([messages])[0] <= max_length:
                return Example(
                    "knowledge",
                    messages,
                    list({t.memory.id: t.memory for t in turns}.values()),
                    extra={"from": "grounded", "slots": [t.fact.key for t in turns]},
                )
        turns = turns[:-1]
    return None


def _conversation(turns: list[Lookup], context: Context, format: str, system_prompt: str):
    """The context where serve puts it for the first question, then every question and answer."""
    asked = [
        {"role": "system", "content": system_prompt},
        {"role": "user", "content": turns[0].question},
    ]
    messages = FORMATS[format](asked, system_prompt, context)
    messages.append({"role": "assistant", "content": turns[0].answer})
    for turn in turns[1:]:
        messages += [
            {"role": "user", "content": turn.question},
            {"role": "assistant", "content": turn.answer},
        ]
    return messages


def merged_context(turns: list[Lookup], retriever, draw: random.Random) -> Context:
    """Every turn's own facts, in a drawn order, then the turns' passages while the
    retriever's token budget (stretched to hold every turn's fact) allows."""
    facts: list = []
    for turn in turns:
        for fact in turn.context.facts:
            if all(fact.id != known.id for known in facts):
                facts.insert(draw.randint(0, len(facts)), fact)
    tokens = sum(retriever.count_tokens(fact_line(f)) for f in facts)
    budget = max(retriever.max_tokens, tokens)
    passages = []
    for passage in (p for t in turns for p in t.context.passages):
        cost = retriever.count_tokens(passage_line(passage))
        if len(passages) >= retriever.max_passages:
            break
        if tokens + cost <= budget and all(p.memory_id != passage.memory_id for p in passages):
            passages.append(passage)
            tokens += cost
    return Context(" / ".join(t.question for t in turns), facts, passages, tokens)


def grounded_rows(paths: Paths, settings: Settings) -> ExtraRows:
    """What a dataset request's `extra_rows` takes: this home's grounded rows."""
    return partial(grounded_examples, paths, settings)
