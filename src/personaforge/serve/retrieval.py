"""Grounded answers: the person's own memories and current profile facts, put before the question.

    retriever = open_retriever(paths, settings)          # None: no store, or serve.retrieval off
    grounded = retriever.ground(messages, persona_prompt)
    grounded.messages                                    # what the model is asked
    grounded.context.sources()                           # which memories and facts it was given

What is retrieved for the last user message:

- facts: the profile's *current* facts (USER_PROFILE.json in the home, which every `run`
  rewrites), ranked by BM25 over an in-memory FTS5 index of each fact's label, value, the
  words that ask for its slot (SLOT_CUES: "live", "from", "sister") and the sentences that
  state it. A superseded value (she lived in Rotterdam, she lives in Delft) is never offered;
- passages: the person's own memories (speaker self, live rows), ranked by BM25 in the
  store's FTS5 index, each cut to its sentence that holds most of the question's words. A
  passage written before a fact changed that names the old value is left out: it was true
  when she wrote it, not now.

Every fact and passage goes through the privacy scrubber that training data goes through
(dataset/privacy.py) under the home's `privacy` policy: a finding whose policy is `drop`
drops the passage, `redact` replaces the secret by its placeholder. The context keeps to
`serve.retrieval_tokens`: facts first, then passages, best first, while they fit.

How the context reaches the model is a format (serve/context.py FORMATS).
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from personaforge.dataset.privacy import scrub
from personaforge.errors import UserError
from personaforge.paths import Paths
from personaforge.profile.build import DATA as PROFILE_FILE
from personaforge.profile.build import load_profile
from personaforge.profile.facts import Evidence, Fact, slot_of
from personaforge.profile.rules import own_sentences
from personaforge.profile.words import EVENT_NOUNS, STOPWORDS
from personaforge.serve.context import (
    FORMATS,
    Context,
    Grounded,
    KnownFact,
    Passage,
    fact_line,
    passage_line,
)
from personaforge.store import Memory, MemoryStore
from personaforge.store.terms import fts_match, stem, words

__all__ = [
    "FORMATS",
    "Context",
    "Grounded",
    "Passage",
    "Retriever",
    "open_retriever",
    "query_terms",
]

# Words that ask for a slot. A question names what it wants ("Where do you live?", "Where
# are you from?") more often than the fact's own words, and several of these are stop
# words elsewhere ("from"), so they are matched against facts only, never against memories.
SLOT_CUES: dict[str, str] = {
    "home_city": "live living home city town moved address",
    "hometown": "from originally grew born hometown",
    # "job" is the role's cue alone: "What is your job?" asks what she does, and with it here
    # too the employer ranked first and the demo's persona answered "I work at Kestrel Freight".
    "employer": "work company employer office",
    "role": "job role title position",
    "editor": "editor code",
    "tool": "tools use software",
    "project": "working project building side",
    "decision": "decided decision chose choice picked",
    "event": "coming calendar upcoming plans date " + EVENT_NOUNS.replace("|", " "),
    "learning": "learning studying course language",
    "interest": "free time hobby hobbies interests weekend",
    "habit": "routine habit morning day start evening",
    "named": "name called",
    "favourite": "favourite favorite best",
    "relationship": "who closest family friend",
    "opinion": "think believe opinion view",
    "preference": "prefer like want",
    "habit_statement": "routine habit always",
    "decision_statement": "decided decision",
}
CUE_WORDS = frozenset(" ".join(SLOT_CUES.values()).split())
# Words that frame a question rather than name its subject ("What do you *think* of boring
# technology?"): left out of the memories' query, where a third term the answer never
# holds cut "Boring is a feature." (1 of 3 terms) from the demo's context.
FRAMING_TERMS = frozenset(stem(w) for w in (*SLOT_CUES["opinion"].split(), "feel", "say"))
# Column weights of the facts index (cues, label, value, quotes): a question that names a
# slot's cue or label is about that slot; the quotes only break ties between facts.
FACT_WEIGHTS = (4.0, 4.0, 2.0, 1.0)
# A fact scoring less than this share of the best fact's bm25 is left out: on the sample
# person the asked-for fact scores 1.5 to 4 times the next one ("Where are you from?":
# Bergen 9.7, a routine 2.8), and every unrelated fact in the context is one more name a
# 135M model may answer with ("My sister's name is Gus").
FACT_MIN_SHARE = 0.5
MAX_TERMS = 12  # a long message is searched by its first 12 content words
CANDIDATES = 12  # memories ranked per question; passages are cut from these
SHORT_SENTENCE_WORDS = 8  # a best sentence shorter than this takes the next one along

log = logging.getLogger("personaforge.serve")


# -- query terms ----------------------------------------------------------------------------------


def query_terms(text: str, keep: frozenset[str] = frozenset()) -> list[str]:
    """Stems of the content words of `text`, in order, once each; `keep` saves stop words."""
    terms: list[str] = []
    for word in words(text):
        low = word.casefold()
        if low not in keep and (low in STOPWORDS or (len(low) < 3 and not low.isdigit())):
            continue
        term = stem(low)
        if term and term not in terms:
            terms.append(term)
    return terms[:MAX_TERMS]


def _holds(said: set[str], term: str) -> bool:
    return any(word.startswith(term) for word in said)


def term_hits(text: str, terms: list[str]) -> int:
    """How many of the query's terms `text` holds (a word of it starting with the term)."""
    said = {w.casefold() for w in words(text)}
    return sum(_holds(said, term) for term in terms)


def holds_half(hits: int, terms: list[str]) -> bool:
    """Do `hits` of the query's terms make at least half of them (and one)?"""
    return hits > 0 and hits * 2 >= len(terms)


def answered_by(fact: Fact) -> str:
    """The question a fact was her answer to (profile/rules.py quotes those "question — answer")."""
    return next((pair[0] for pair in map(Evidence.answered, fact.evidence) if pair), "")


def answered_question(memory: Memory) -> str:
    """The question this memory answers in her words: a correction's prompt; else ""."""
    prompt = memory.meta.get("prompt") if memory.mode == "feedback" else None
    return " ".join(prompt.split()) if isinstance(prompt, str) else ""


def within_slots(
    found: list[tuple[KnownFact, float, str]], terms: list[str]
) -> list[tuple[KnownFact, float, str]]:
    """(fact, bm25, its value and quotes) in their slots' bm25 order; within a slot, the
    facts whose words hold more of the question first, then the ones she wrote about most.

    Facts of one slot score alike on the cues that found them, and bm25 then favours the
    shortest row: "What is your side project?" (she never wrote "side project") ranked the
    routing migration (22 memories) over Tidewatch (106), 10.7 to 9.7; "Which race are you
    training for?" ranked the Dutch exam with the half marathon ("race the Maas half").
    """
    slot_best: dict[str, float] = {}
    for fact, score, _ in found:
        slot_best.setdefault(fact.key, score)

    hits = [term_hits(said, terms) for _, _, said in found]
    most: dict[str, int] = {}
    for (fact, _, _), held in zip(found, hits, strict=True):
        most[fact.key] = max(most.get(fact.key, 0), held)
    # A fact its slot's best holds more of the question than is another answer to another
    # question ("Which race ...?": the Dutch exam beside the half marathon).
    kept = [
        (item, held) for item, held in zip(found, hits, strict=True) if held == most[item[0].key]
    ]
    ordered = sorted(
        kept,
        key=lambda pair: (slot_best[pair[0][0].key], -pair[1], -pair[0][0].support, pair[0][1]),
    )
    return [item for item, _ in ordered]


# -- the retriever --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stale:
    """A value that is no longer true, and the day it stopped being true."""

    value: str
    until: str  # YYYY-MM-DD
    pattern: re.Pattern[str]


def approximate_tokens(text: str) -> int:
    """About four characters a token (English BPE); used when no tokenizer is given."""
    return len(text) // 4 + 1


class Retriever:
    """Reads the store (read-only) and the home's profile; safe to share between threads."""

    def __init__(
        self,
        store: MemoryStore,
        profile: Path | list[Fact] | None,
        policy: dict[str, str],
        *,
        max_facts: int = 4,
        max_passages: int = 3,
        max_tokens: int = 256,
        format: str = "notes",
        count_tokens: Callable[[str], int] = approximate_tokens,
        until: str | None = None,
    ):
        if format not in FORMATS:
            raise ValueError(f"unknown context format {format!r}; one of {', '.join(FORMATS)}")
        self.store = store
        # A profile file is read again whenever it changes; a list of facts is used as given.
        self.profile_path = profile if isinstance(profile, Path) else None
        self.policy = policy
        self.max_facts = max_facts
        self.max_passages = max_passages
        self.max_tokens = max_tokens
        self.format = format
        self.count_tokens = count_tokens
        self.until = until  # only memories dated before this day (what was known then)
        self._lock = threading.Lock()
        self._profile_stamp: tuple[int, int] | None = None
        self._facts: list[KnownFact] = []
        self._stale: list[Stale] = []
        self._index = sqlite3.connect(":memory:", check_same_thread=False)
        if isinstance(profile, list):
            self._index_facts(profile)
            self._profile_stamp = (-1, -1)  # given, never read from a file

    def close(self) -> None:
        with self._lock:
            self.store.close()
            self._index.close()

    # -- the profile's facts --------------------------------------------------------------------

    def _load_facts(self) -> None:
        """(Re)read the profile when its file changed: `run` rewrites it after every cycle."""
        path = self.profile_path
        if self._profile_stamp == (-1, -1):
            return
        stamp = None
        if path is not None and path.is_file():
            stat = path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._profile_stamp:
            return
        self._profile_stamp = stamp
        facts: list[Fact] = []
        if stamp and path is not None:
            try:
                facts = load_profile(Paths(path.parent), None).facts
            except UserError as exc:  # an unreadable profile: answer from the memories alone
                log.warning("retrieval without profile facts: %s", exc)
        self._index_facts(facts)

    def _index_facts(self, facts: list[Fact]) -> None:
        current = {f.id: f for f in facts if f.status == "current"}
        known, stale = [], []
        for fact in current.values():
            value = scrub(fact.value, self.policy)
            if value.drop:
                continue
            known.append(
                KnownFact(
                    fact.id,
                    fact.key,
                    fact.label,
                    value.text,
                    fact.statement,
                    tuple(fact.memory_ids),
                    fact.support,
                    answered_by(fact) if fact.statement else "",
                )
            )
        for fact in facts:
            if fact.status == "current" or not slot_of(fact.key).single:
                continue
            replaced_by = current.get(fact.superseded_by or "")
            until = fact.changed_on or (replaced_by.first_seen if replaced_by else fact.last_seen)
            words = re.escape(fact.value).replace(r"\ ", r"\s+")
            stale.append(Stale(fact.value, until, re.compile(rf"(?<!\w){words}(?!\w)", re.I)))
        by_id = {f.id: f for f in facts}
        db = self._index
        db.execute("DROP TABLE IF EXISTS facts")
        db.execute(
            "CREATE VIRTUAL TABLE facts USING fts5(cues, label, value, quotes, "
            "tokenize='unicode61 remove_diacritics 2')"
        )
        for rowid, fact in enumerate(known):
            quotes = " ".join(e.quote for e in by_id[fact.id].evidence[:3])
            cues = SLOT_CUES.get(fact.key.split(":")[0], "") + " " + fact.key.replace(":", " ")
            db.execute(
                "INSERT INTO facts(rowid, cues, label, value, quotes) VALUES (?, ?, ?, ?, ?)",
                (rowid, cues, fact.label, fact.value, quotes),
            )
        self._facts, self._stale = known, stale

    def _ranked_facts(self, text: str) -> tuple[list[KnownFact], bool]:
        """Facts for the question, best first, and whether the question named their slot.

        A question that names a slot ("where do you *live*") gets only facts of the slots it
        names (matched in their cues or label), so an opinion that merely holds the word ("the
        anxiety *lives* in the things I haven't written") stays out; a question that names no
        slot ("how should estimates be given?") is matched against every fact's words.
        """
        terms = query_terms(text, keep=CUE_WORDS)
        if not terms or not self._facts:
            return [], False
        anything = fts_match(terms)
        ranked = (
            f"SELECT rowid, bm25(facts, {', '.join(map(str, FACT_WEIGHTS))}) AS score, "
            "value || ' ' || quotes FROM facts WHERE facts MATCH ? {} ORDER BY score LIMIT ?"
        )
        # Ranked on every column either way: a column filter would also narrow bm25 to it.
        named = ranked.format("AND rowid IN (SELECT rowid FROM facts WHERE facts MATCH ?)")
        limit = self.max_facts * 2
        rows = self._index.execute(
            named, (anything, f"{{cues label}} : ({anything})", limit)
        ).fetchall()
        slot_named = bool(rows)
        if not slot_named:
            # Found by words alone, a fact must hold half the question, as a passage must:
            # "What do you write before fixing a bug?" had drawn four views on writing.
            rows = [
                row
                for row in self._index.execute(ranked.format(""), (anything, limit))
                if holds_half(term_hits(row[2], terms), terms)
            ]
        # A fact whose every memory was forgotten or deleted since the profile was written
        # is gone with them: `forget` removes the notes, and the profile is only rebuilt later.
        found = [(self._facts[rowid], score, said) for rowid, score, said in rows]
        live = self.store.live_ids([m for fact, _, _ in found for m in fact.evidence])
        found = [item for item in found if live & set(item[0].evidence)]
        if not found:
            return [], False
        best = found[0][1]  # bm25 is negative: lower is better
        kept = [item for item in found if item[1] <= best * FACT_MIN_SHARE]
        return [fact for fact, _, _ in within_slots(kept, terms)][: self.max_facts], slot_named

    def known_facts(self) -> list[KnownFact]:
        """Every current fact the retriever can give, scrubbed (the profile read if it changed)."""
        with self._lock:
            self._load_facts()
            return list(self._facts)

    # -- the person's memories ------------------------------------------------------------------

    def _passage(self, memory: Memory, terms: list[str]) -> tuple[int, str, str]:
        """(query words held, text, the question it answered): the memory's sentence that
        holds most of the query."""
        sentences = own_sentences(memory) or [" ".join(memory.text.split())]
        best, best_hits = 0, -1
        for index, sentence in enumerate(sentences):
            hits = term_hits(sentence, terms)
            if hits > best_hits:
                best, best_hits = index, hits
        chosen = sentences[best]
        asked = answered_question(memory)
        if asked and holds_half(term_hits(asked, terms), terms):
            # Her answer to much the same question: shown as that exchange, and the
            # question's words count for it. Answers to other questions are notes:
            # "Why do you write things down?" had answered "Where do you live?" ("lives").
            # Its one best sentence: an answer she "gave" is copied whole, and more of it
            # is a recital ("Morning pages at 6:30 with tea. No phone until eight.").
            return term_hits(f"{asked} {chosen}", terms), chosen, asked
        if len(chosen.split()) < SHORT_SENTENCE_WORDS and best + 1 < len(sentences):
            chosen = f"{chosen} {sentences[best + 1]}"
        title = memory.title.strip()
        title_hits = term_hits(title, terms)
        if title_hits > best_hits and title.endswith("?"):
            # A message whose title asks what it answers ("Tidewatch talk at the club?").
            # A chat's name is no question: "Saved Messages" made "Saved Messages Idea: slack
            # water as a band" a passage for "What should a log message say?", and the demo's
            # v2 recited it.
            return title_hits, f"{title} {chosen}", ""
        return best_hits, chosen, ""

    def _is_stale(self, memory: Memory, text: str) -> bool:
        day = memory.created_at[:10]
        return any(day < old.until and old.pattern.search(text) for old in self._stale)

    def _ranked_passages(self, text: str, context: Context) -> list[Passage]:
        query = query_terms(text)
        terms = [t for t in query if t not in FRAMING_TERMS] or query
        if not terms:
            return []
        framing = [t for t in query if t not in terms]
        found = self.store.ranked(fts_match(terms), CANDIDATES, speaker="self")
        scored = []
        for rank, (memory, _) in enumerate(found):
            if self.until and memory.created_at[:10] >= self.until:
                continue
            hits, sentence, asked = self._passage(memory, terms)
            if not holds_half(hits, terms):
                continue  # holds less than half the question: "side" alone is not "side project"
            if self._is_stale(memory, sentence):
                context.left_out["stale"] += 1
                continue
            cleaned = scrub(sentence, self.policy)
            title = scrub(memory.title, self.policy)
            question = scrub(asked, self.policy)
            if cleaned.drop or title.drop or question.drop:
                context.left_out["private"] += 1
                continue
            passage = Passage(
                memory.id,
                memory.created_at[:10],
                title.text,
                memory.source,
                cleaned.text,
                question.text,
            )
            # Framing words never make a passage, but of two that hold as much of the
            # subject, the one that also says what was asked goes first: "What should a log
            # message say?" gave three notes with "message" in them, and "Logs should say what
            # happened." (rank 5 of 12 candidates) was left out.
            said = term_hits(sentence, framing)
            scored.append((-hits, -said, rank, passage))
        seen: set[str] = set()
        passages = []
        for *_, passage in sorted(scored, key=lambda item: item[:3]):
            key = " ".join(passage.text.casefold().split())
            if key not in seen:
                seen.add(key)
                passages.append(passage)
        return passages

    # -- the context ----------------------------------------------------------------------------

    def retrieve(self, text: str, notes_with_facts: bool = False) -> Context:
        """Facts and passages for `text` (a question), scrubbed, within the token budget.

        A question that names a slot its facts answer ("Where do you live?") gets those facts
        and only the notes that state them: the notes that share its one word ("My sister,
        lives in Bergen") were what the demo's persona answered from. notes_with_facts: give
        those notes anyway (grounded training rows show them, so that answers learn to pass
        over them)."""
        context = Context(text)
        with self._lock:
            self._load_facts()
            facts, slot_named = self._ranked_facts(text)
            # (A view answers nothing by its slot: "what do you *think* of ..." names none.)
            answered = slot_named and any(not f.statement for f in facts)
            answered = answered and not notes_with_facts
            passages = self._ranked_passages(text, context)
        said = {" ".join(f.value.casefold().split()) for f in facts}
        passages = [p for p in passages if " ".join(p.text.casefold().split()) not in said]
        if answered:  # only her notes that state what the facts say
            passages = [p for p in passages if any(v in p.text.casefold() for v in said)]
        for fact in facts:
            cost = self.count_tokens(fact_line(fact))
            if context.tokens + cost > self.max_tokens:
                context.left_out["budget"] += 1
                continue
            context.facts.append(fact)
            context.tokens += cost
        for passage in passages:
            cost = self.count_tokens(passage_line(passage))
            if len(context.passages) >= self.max_passages:
                break
            if context.tokens + cost > self.max_tokens:
                context.left_out["budget"] += 1
                continue
            context.passages.append(passage)
            context.tokens += cost
        return context

    def ground(
        self, messages: list[dict[str, str]], system: str, format: str | None = None
    ) -> Grounded:
        """The conversation with a context for its last user message (unchanged when none)."""
        question = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        context = self.retrieve(question)
        if context.empty():
            return Grounded(list(messages), context)
        return Grounded(FORMATS[format or self.format](list(messages), system, context), context)


def open_retriever(
    paths: Paths,
    settings: Any,
    count_tokens: Callable[[str], int] = approximate_tokens,
    *,
    facts: list[Fact] | None = None,
    until: str | None = None,
) -> Retriever | None:
    """A retriever over the home's store and profile; None when `serve.retrieval` is off or
    there is no store yet (answers are then what the adapter alone says).

    facts: use these instead of the home's USER_PROFILE.json (which is read again whenever
    `run` rewrites it). until: only memories dated before this day.
    """
    serve = settings.serve
    if not serve.retrieval or not paths.memory_store.is_file():
        return None
    return Retriever(
        MemoryStore.open_readonly(paths.memory_store),
        facts if facts is not None else paths.home / PROFILE_FILE,
        settings.privacy.model_dump(),
        max_facts=serve.retrieval_facts,
        max_passages=serve.retrieval_memories,
        max_tokens=serve.retrieval_tokens,
        format=serve.retrieval_format,
        count_tokens=count_tokens,
        until=until,
    )
