"""Ask the trained persona about the person, and check every answer against the notes.

    result = check_persona(paths, settings, "v3", facts)   # probe_persona (build.py): facts default

The adapter is loaded over its base (as the gate does) and asked QUESTIONS in
the persona's system prompt, decoded as serve decodes (settings `decode`, seeded). Each sentence of each answer is a
claim, and each claim gets one verdict:

- reproduces: it names the current value of a profile fact ("I live in Delft");
- stale: it names a value the profile marks superseded, and not the current one;
- supported: not a profile fact, but one memory the person wrote contains at
  least SUPPORTED_SHARE of its content words and every name and number in it
  (found through the store's full-text index);
- unsupported: none of the above: the model claims it without evidence. These
  are its hallucinations about the person.

A sentence with fewer than MIN_TERMS content words that are not generic (in more
than GENERIC_SHARE of the memories) is not a claim: it is counted as uncheckable.
Answers pass the privacy scrub before they are kept.
"""

from __future__ import annotations

import re

from personaforge.config import Settings
from personaforge.dataset.privacy import scrub
from personaforge.errors import UserError
from personaforge.paths import Paths
from personaforge.profile.facts import Fact
from personaforge.profile.records import Claim, ProbeResult
from personaforge.profile.rules import sentences
from personaforge.profile.words import STOPWORDS
from personaforge.store import MemoryStore

# (question, the slots whose facts a good answer names). Fixed, so versions compare.
QUESTIONS: list[tuple[str, tuple[str, ...]]] = [
    ("Where do you live?", ("home_city",)),
    ("Where are you from?", ("hometown",)),
    ("Where do you work, and what do you do there?", ("employer", "role")),
    ("What are you working on at the moment?", ("project",)),
    ("What have you decided recently?", ("decision",)),
    ("What is coming up in your calendar?", ("event",)),
    ("What do you do in your free time?", ("interest", "learning", "named")),
    ("How do you start your day?", ("habit",)),
    ("Who are the people closest to you?", ("relationship",)),
    ("What tools do you use every day?", ("editor", "tool", "favourite")),
    ("What do you believe about how work should be done?", ("opinion",)),
    ("What are you learning at the moment?", ("learning",)),
]
MIN_TERMS = 2
# A word in more than this share of the person's memories ("work", "morning", "plan") is
# too common to tell a true claim from a vague one; it is left out of the check, so
# "Work should be done in a way that is fair" is uncheckable rather than "supported".
GENERIC_SHARE = 0.1
SUPPORTED_SHARE = 0.6  # of a claim's content words, found together in one memory
SEARCH_LIMIT = 25  # memories read per claim: bm25's best; enough for a 10k-note store
EVIDENCE_SHOWN = 3
TERM = re.compile(r"[A-Za-z][\w'\-]*|\d+(?:[:.]\d+)?")
WITHHELD = "[withheld: private data]"


# -- checking ---------------------------------------------------------------------------------------


def _stem(word: str) -> str:
    word = word.casefold().strip("'’")
    return word[:-1] if len(word) > 4 and word.endswith("s") and not word.endswith("ss") else word


def content_terms(sentence: str) -> tuple[list[str], list[str]]:
    """(content words, the strong ones: names and numbers), lower-cased, in order, once each."""
    terms, strong = [], []
    for index, match in enumerate(TERM.finditer(sentence)):
        word = match.group(0)
        if word.casefold() in STOPWORDS or (len(word) < 3 and not word.isdigit()):
            continue
        if word.casefold() not in terms:
            terms.append(word.casefold())
        if (word[:1].isupper() and index > 0) or word[:1].isdigit():
            strong.append(word.casefold())
    return terms, strong


def _names(value: str) -> list[str]:
    return [w for w in TERM.findall(value) if w.casefold() not in STOPWORDS and len(w) > 2]


def _mentions(fact: Fact, sentence: str) -> bool:
    words = {_stem(w) for w in TERM.findall(sentence)}
    names = _names(fact.value)
    return bool(names) and all(_stem(n) in words for n in names)


def _evidence(
    store: MemoryStore, terms: list[str], strong: list[str]
) -> tuple[list[str], list[str]]:
    """(ids of the person's memories that hold the claim, the terms the best one lacks)."""
    query = " OR ".join(f'"{t}"' for t in terms)
    best_missing, holding = list(terms), []
    for memory, _ in store.search(query, limit=SEARCH_LIMIT):
        if memory.speaker != "self":
            continue
        words = {_stem(w) for w in TERM.findall(memory.text)}
        missing = [t for t in terms if _stem(t) not in words]
        if len(missing) < len(best_missing):
            best_missing = missing
        share = 1 - len(missing) / len(terms)
        if share >= SUPPORTED_SHARE and all(_stem(s) in words for s in strong):
            holding.append(memory.id)
    return holding[:EVIDENCE_SHOWN], best_missing


def _generic(store: MemoryStore, term: str, cache: dict[str, bool]) -> bool:
    """Is `term` in more than GENERIC_SHARE of the live memories ('work', 'morning')?"""
    if term not in cache:
        total = max(store.count(), 1)
        row = store.db.execute(
            "SELECT count(*) FROM memories_fts JOIN memories ON memories.rowid = memories_fts.rowid "
            "WHERE memories_fts MATCH ? AND memories.deleted_at IS NULL",
            (f'"{term}"',),
        ).fetchone()
        cache[term] = row[0] / total > GENERIC_SHARE
    return cache[term]


def check_answer(
    question: str,
    answer: str,
    facts: list[Fact],
    store: MemoryStore,
    generic: dict[str, bool] | None = None,
) -> tuple[list[Claim], int]:
    """The claims in one answer with their verdicts, and how many sentences were not claims.

    `generic` caches which words are too common in the store to tell anything (pass one
    dict for all answers to the same store). A sentence repeated in one answer counts once.
    """
    generic = {} if generic is None else generic
    keyed = [f for f in facts if not f.statement]
    claims, uncheckable = [], 0
    for sentence in dict.fromkeys(sentences(answer) or [answer.strip()]):
        terms, strong = content_terms(sentence)
        terms = [t for t in terms if t in strong or not _generic(store, t, generic)]
        if len(terms) < MIN_TERMS:
            uncheckable += 1
            continue
        named = [f for f in keyed if _mentions(f, sentence)]
        current = [f for f in named if f.status == "current"]
        if current:
            ids = [m for f in current for m in f.memory_ids][:EVIDENCE_SHOWN]
            claims.append(Claim(question, sentence, "reproduces", [f.id for f in current], ids))
            continue
        if named:  # only superseded values: the model repeats what is no longer true
            claims.append(Claim(question, sentence, "stale", [f.id for f in named]))
            continue
        holding, missing = _evidence(store, terms, strong)
        verdict = "supported" if holding else "unsupported"
        claims.append(Claim(question, sentence, verdict, [], holding, [] if holding else missing))
    return claims, uncheckable


# -- asking -------------------------------------------------------------------------------------------


def load_persona(paths: Paths, version: str):
    """(model, tokenizer): the version's adapter over its base, as the gate loads it."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from personaforge.bases import quiet_libraries, resolve_base
    from personaforge.registry import read_card

    quiet_libraries()
    folder = paths.adapters / version
    if not (folder / "adapter_model.safetensors").exists():
        raise UserError(f"{version} has no adapter weights (pruned?); nothing to probe")
    card = read_card(folder)
    ref = resolve_base(card["base"]["name"], paths, card["base"].get("revision"))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(ref.location)
    model = PeftModel.from_pretrained(model, str(folder))
    model.eval()
    return model, tokenizer


def require_store(paths: Paths) -> None:
    if not paths.memory_store.exists():
        raise UserError(f"no memory store yet at {paths.memory_store}; nothing to check against")


def check_persona(
    paths: Paths,
    settings: Settings,
    version: str,
    facts: list[Fact],
    questions: list[tuple[str, tuple[str, ...]]] | None = None,
) -> ProbeResult:
    """Ask `version` the fixed questions and check every claim against `facts` and the store.

    `probe_persona` (build.py) is the same with the facts of the version's profile by default.
    """
    from personaforge.evaluate.measure import generate_many

    require_store(paths)
    model, tokenizer = load_persona(paths, version)
    system = settings.dataset.persona_prompt.replace("{name}", settings.dataset.person_name)
    policy = settings.privacy.model_dump()
    asked = [question for question, _slots in questions or QUESTIONS]
    chats = [
        [{"role": "system", "content": system}, {"role": "user", "content": question}]
        for question in asked
    ]
    # Decoded as serve decodes (settings `decode`, seeded): the claims checked are the ones a
    # person chatting with the persona would read, and a rerun asks and gets the same.
    replies = generate_many(
        model, tokenizer, chats, settings.gate.max_new_tokens, decoding=settings.decode
    )
    answers, claims, uncheckable, generic = [], [], 0, {}
    with MemoryStore.open(paths.memory_store) as store:
        for question, (reply, _) in zip(asked, replies, strict=True):
            found, skipped = check_answer(question, reply, facts, store, generic)
            for claim in found:
                claim.text = _scrubbed(claim.text, policy)
            answers.append({"question": question, "answer": _scrubbed(reply, policy)})
            claims += found
            uncheckable += skipped
    return ProbeResult(version, answers, claims, uncheckable)


def _scrubbed(text: str, policy: dict[str, str]) -> str:
    cleaned = scrub(text, policy)
    return WITHHELD if cleaned.drop else cleaned.text
