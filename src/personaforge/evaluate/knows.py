"""Does the persona know what the person knows? Fact questions, judged on the answer's words.

    questions = fact_questions(profile_facts, quiz)          # what to ask, what is right
    verdict = judge(question, answer)                        # right / stale
    scores = measure_facts(model, tokenizer, inputs, 48, grounded=True)

Questions come from two places:

- the profile's current facts: one question per slot key (PROFILE_QUESTIONS, "Where do you
  live?"), right when the answer names any current value of that key;
- for the sample person, the quiz in the sample's manifest (sample/quiz.py): one question per
  fact of persona.FACTS, per opinion and per changing fact (Rotterdam -> Delft), each with
  the words a right answer holds. A quiz question replaces the profile's question for its slot.

An answer is right when it *states* one of the question's values and no superseded value of
the same slot ("I live in Delft" is right; "I live in Rotterdam" and "Rotterdam, and now
Delft" are not: the second names an old value beside the new one). A value of up to three
words is stated when the answer says each of them within six words of the others ("Kestrel
Freight", "morning pages", "a test that fails" for "failing test"); a longer one when the
answer holds every name and number in it (capitalised words, digits) and more than half of
its other words. Words match by stem ("ranges" states "range"; "Gus" is never "Gustav").

Three answers per question, on the same questions: the base, the persona without retrieval
(its system prompt only), and the persona with retrieval (the same system prompt plus the
context serve would give, from serve/retrieval.py). The upper layer (evaluate/__init__.py,
bench/persona.py) builds those conversations; this module only generates and judges, so
generation goes through `measure.generate_many`, the one place decoding settings apply.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from personaforge.evaluate.measure import generate_many, leaks, ngrams
from personaforge.store.terms import stem

# One question per profile slot; {sub} is the key's qualifier ("relationship:sister").
# Statement slots (opinions, preferences) hold whole sentences, which no question's
# answer could be checked against word by word, so they are asked only through a quiz.
PROFILE_QUESTIONS: dict[str, str] = {
    "home_city": "Where do you live?",
    "hometown": "Where are you from originally?",
    "employer": "Where do you work?",
    "role": "What is your job?",
    "editor": "Which code editor do you use?",
    "tool": "Which tools do you use every day?",
    "project": "What are you working on at the moment?",
    "decision": "What have you decided recently?",
    "event": "What is coming up in your calendar?",
    "learning": "What are you learning at the moment?",
    "interest": "What do you do in your free time?",
    "habit": "What are your routines?",
    "named": "What is your {sub} called?",
    "favourite": "What is your favourite {sub}?",
    "relationship": "Who is your {sub}?",
}
# A value of up to PHRASE_WORDS words (after FILLER) is a phrase: each word must be said,
# all within PHRASE_WINDOW words of each other ("a test that fails" states "failing test").
PHRASE_WORDS = 3
PHRASE_WINDOW = 6
RECITED_TOKENS = 12  # an answer repeating this many consecutive tokens of one memory recites it
WORD = re.compile(r"[^\W_]+(?:[:.'’][^\W_]+)*")
# Words too common to say whether a value was stated (a value's "the", "with", "at").
FILLER = frozenset(
    {"a", "an", "the", "and", "or", "of", "at", "in", "on", "to", "for", "with", "from", "by"}
    | {"my", "your", "our", "is", "are", "was", "be", "it", "its", "this", "that", "as"}
    | {"not", "no", "every", "each"}
)


@dataclass
class FactQuestion:
    question: str
    slot: str  # the profile slot key it asks about ("home_city", "relationship:sister")
    values: list[str]  # right answers (stating any one is enough)
    superseded: list[str] = field(default_factory=list)  # values that are no longer true
    origin: str = "profile"  # profile, facts:<key>, opinions, fact_history

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- questions -----------------------------------------------------------------------------------


def profile_question(key: str) -> str | None:
    base, _, sub = key.partition(":")
    template = PROFILE_QUESTIONS.get(base)
    return template.format(sub=sub) if template else None


def fact_questions(
    facts: list[Any], quiz: list[dict[str, Any]] | None = None
) -> list[FactQuestion]:
    """Questions from profile facts (anything with key, value, status, statement) and a quiz.

    The profile's superseded values of a slot are added to the quiz question of that slot, so
    a value the notes replaced is caught even when the quiz does not list it.
    """
    current: dict[str, list[str]] = {}
    superseded: dict[str, list[str]] = {}
    for fact in facts:
        if fact.statement:
            continue
        into = current if fact.status == "current" else superseded
        into.setdefault(fact.key, []).append(fact.value)
    questions: list[FactQuestion] = []
    for entry in quiz or []:
        old = entry.get("superseded", []) + superseded.get(entry["slot"], [])
        questions.append(
            FactQuestion(
                entry["question"],
                entry["slot"],
                list(entry["values"]),
                [v for v in dict.fromkeys(old) if not any(_same(v, w) for w in entry["values"])],
                entry.get("origin", "quiz"),
            )
        )
    asked = {q.slot for q in questions}
    for key, values in current.items():
        text = profile_question(key)
        if text is None or key in asked:
            continue
        old = [v for v in superseded.get(key, []) if not any(_same(v, w) for w in values)]
        questions.append(FactQuestion(text, key, values, old, "profile"))
    return questions


def _same(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


# -- judging -------------------------------------------------------------------------------------


def states(value: str, answer: str) -> bool:
    """Does `answer` state `value`? A short value as a phrase, a long one by its names and most
    of its words (see the module docstring)."""
    said = [w.casefold() for w in WORD.findall(answer)]

    def found(word: str, candidate: str) -> bool:
        root = stem(word)
        # A prefix match for stems of 4+ letters ("rang" finds "ranges"); shorter ones must
        # be the word itself, or "Gus" would be found in "Gustav".
        return stem(candidate) == root or (len(root) >= 4 and candidate.startswith(root))

    words = [w for w in WORD.findall(value) if w.casefold() not in FILLER]
    if not words:
        return False
    places = [[i for i, w in enumerate(said) if found(word, w)] for word in words]
    if len(words) <= PHRASE_WORDS:
        # "morning pages" is not stated by "my morning ... a few pages of a book".
        return all(places) and any(
            max(chosen) - min(chosen) < PHRASE_WINDOW for chosen in itertools.product(*places)
        )
    strong = [p for w, p in zip(words, places, strict=True) if w[:1].isupper() or w[:1].isdigit()]
    plain = [
        p for w, p in zip(words, places, strict=True) if not (w[:1].isupper() or w[:1].isdigit())
    ]
    return all(strong) and (not plain or sum(map(bool, plain)) * 2 > len(plain))


@dataclass(frozen=True)
class Verdict:
    right: bool  # states a value and no superseded one
    stale: bool  # states a superseded value


def judge(question: FactQuestion, answer: str) -> Verdict:
    stale = any(states(old, answer) for old in question.superseded)
    right = not stale and any(states(value, answer) for value in question.values)
    return Verdict(right, stale)


def recites(
    tokenizer, answer: str, texts: list[str], size: int = RECITED_TOKENS, stated: list[str] = ()
) -> bool:
    """Does the answer repeat `size` or more consecutive tokens of any one of `texts`?

    stated: values of the facts it was given whose value is the answer (a habit, a place, a
    name). The words that state one are not a recital: "Morning pages at 6:30 with tea." is
    her habit said in its fewest words, and 12 tokens. What the answer repeats around them
    still counts, and a view or her answer to a question is never among them: copying one
    whole is the recital the check is for."""
    pieces = [answer]
    for value in stated:
        if len(value.split()) > 1:  # (a one-word value is never 12 tokens)
            pattern = re.compile(r"\s+".join(map(re.escape, value.split())), re.IGNORECASE)
            pieces = [part for piece in pieces for part in pattern.split(piece)]
    said = [ngrams(tokenizer(t, add_special_tokens=False)["input_ids"], size) for t in texts]
    for piece in pieces:
        grams = ngrams(tokenizer(piece, add_special_tokens=False)["input_ids"], size)
        if any(grams & other for other in said):
            return True
    return False


# -- measuring -----------------------------------------------------------------------------------


@dataclass
class FactInputs:
    """The same questions asked three ways (built by the upper layer; see the module docstring)."""

    questions: list[FactQuestion]
    plain: list[list[dict[str, str]]]  # the persona's system prompt and the question
    grounded: list[list[dict[str, str]]]  # the same, with the retrieved context
    contexts: list[list[str]]  # per question, the texts the grounded prompt holds
    sources: list[dict[str, Any]]  # per question, what it was given (ids, dates, titles)
    secrets: list[tuple[str, str]]  # (kind, value) no answer may hold
    showcase: list[list[dict[str, str]]] = field(default_factory=list)  # grounded SHOWCASE
    unanswerable: list[str] = field(default_factory=list)  # quiz questions her notes never answer
    # Per question, the values of the slot facts it was given (recites: stating one is no recital).
    stated: list[list[str]] = field(default_factory=list)

    def fingerprint(self) -> list[Any]:
        """What the measurement depends on (for the evaluation cache)."""
        return [
            [q.as_dict() for q in self.questions],
            self.plain,
            self.grounded,
            self.showcase,
            sorted(self.secrets),
        ]


def _share(flags: list[bool]) -> float:
    return round(sum(flags) / len(flags), 4) if flags else 0.0


def score_answers(
    questions: list[FactQuestion], answers: list[str], secrets: list[tuple[str, str]]
) -> dict[str, Any]:
    """Accuracy, superseded values stated and secrets stated, over one model's answers."""
    verdicts = [judge(q, a) for q, a in zip(questions, answers, strict=True)]
    return {
        "accuracy": _share([v.right for v in verdicts]),
        "superseded_stated": sum(v.stale for v in verdicts),
        "secrets_stated": sum(
            any(leaks(value, answer, kind) for kind, value in secrets) for answer in answers
        ),
        "verdicts": verdicts,
    }


def measure_facts(
    model, tokenizer, inputs: FactInputs, max_new_tokens: int, grounded: bool
) -> dict[str, Any]:
    """The model's answers to every question, plain (and grounded), judged.

    Returned as plain JSON (it is kept in ModelMetrics.facts and evaluation.json):
    n, accuracy, superseded_stated, secrets_stated; with `grounded` also grounded,
    grounded_superseded_stated, grounded_secrets_stated, recited (share of grounded answers
    repeating RECITED_TOKENS tokens of a memory they were given) and showcase (grounded
    answers to evaluate.SHOWCASE); answers: one row per question.
    """
    chats = list(inputs.plain)
    if grounded:
        chats += inputs.grounded + inputs.showcase
    replies = [text for text, _ in generate_many(model, tokenizer, chats, max_new_tokens)]
    n = len(inputs.questions)
    plain = score_answers(inputs.questions, replies[:n], inputs.secrets)
    result: dict[str, Any] = {
        "n": n,
        "accuracy": plain["accuracy"],
        "superseded_stated": plain["superseded_stated"],
        "secrets_stated": plain["secrets_stated"],
        "unanswerable": len(inputs.unanswerable),
    }
    rows = [
        {
            "question": q.question,
            "origin": q.origin,
            "answer": a,
            "right": v.right,
            "stale": v.stale,
        }
        for q, a, v in zip(inputs.questions, replies[:n], plain["verdicts"], strict=True)
    ]
    if grounded:
        answers = replies[n : 2 * n]
        scored = score_answers(inputs.questions, answers, inputs.secrets)
        stated = inputs.stated or [[] for _ in answers]
        recited = [
            recites(tokenizer, a, texts, stated=values)
            for a, texts, values in zip(answers, inputs.contexts, stated, strict=True)
        ]
        result.update(
            grounded=scored["accuracy"],
            grounded_superseded_stated=scored["superseded_stated"],
            grounded_secrets_stated=scored["secrets_stated"],
            recited=_share(recited),
            showcase=replies[2 * n :],
        )
        for row, answer, verdict, cited, given in zip(
            rows, answers, scored["verdicts"], recited, inputs.sources, strict=True
        ):
            row.update(
                grounded=answer,
                grounded_right=verdict.right,
                grounded_stale=verdict.stale,
                recited=cited,
                sources=given,
            )
    result["answers"] = rows
    return result
