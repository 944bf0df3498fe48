"""Does the persona write like the person? A paired authorship score on generated answers.

    classifier = fit_voice(person_texts, other_texts, heldout_person, seed=0)
    score = paired_voice(classifier, real_replies, persona_answers, base_answers)

The perplexity check reads the person's words, never the model's. This reads what
the model writes. For every held-out prompt there are three texts: H, the
person's real reply; P, the persona's answer; B, the base's answer, P and B
decoded with the same settings (settings `decode.*`, seeded). An authorship
classifier scores each text s(x) = P(person | x):

- classes: the person (their training replies) against not-the-person (the other
  side of the same sources: assistant turns of AI chats, other participants of
  messaging exports, and the base's own answers to general prompts);
- features: character 2-5-grams within word boundaries (`char_wb`), TF-IDF with
  sublinear term frequency: PAN's authorship baseline, which needs no model hub;
- texts are cut into chunks of CHUNK_CHARS characters at word boundaries, so a
  long note and a short answer weigh alike and length does not decide; the two
  classes are weighed equally (`class_weight="balanced"`); logistic regression
  with a fixed seed, so a rerun gives the same numbers;
- the classifier only says which side a text is nearer, never "neither": a
  reply with every word spelt backwards keeps the person's punctuation and
  sentence shape and scored 0.90 on the sample person, above her real replies'
  floor. So s(x) is P(person | x) times x's coverage: the share of its
  character 3-5-grams the person ever typed (her held-out replies 0.97,
  assistant turns 0.80, the same replies spelt backwards 0.24). A text made of
  n-grams she never wrote cannot score as hers.

Sanity first: the ROC-AUC of held-out H chunks against held-out not-person
chunks. Below AUC_FLOOR (0.75) the classifier cannot tell the person apart, and
the score says "not measurable" instead of a number.

Reported: the win rate (share of prompts where s(P) > s(B)) with its exact
one-sided sign-test p-value (ties count as losses; p over the prompts that
differ), the gap closed (mean s(P) - mean s(B)) / (mean s(H) - mean s(B)) with a
bootstrap 95% interval over prompts, n and the AUC.

Limits (docs/evaluation.md): character n-grams reward the person's favourite
phrases, so copying wins: the memorisation check is the guard. A loop of those
phrases would win too, which is why the answers scored are the same decoded
answers the looping check reads. With 20-40 prompts the interval is wide.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import asdict, dataclass, field
from typing import Any

CHUNK_CHARS = 160  # about one generated answer of 40 tokens: what P and B are
MIN_CHUNK_CHARS = 40  # a shorter text says too little to score (a one-word reply)
AUC_FLOOR = 0.75
BOOTSTRAP = 2000
HELDOUT_SHARE = 0.2  # of the not-person texts, kept out of training for the AUC
NGRAMS = (2, 5)
COVERAGE_NGRAMS = (3, 5)  # 2-grams are letter pairs every English text shares


def chunks(text: str, size: int = CHUNK_CHARS) -> list[str]:
    """`text` in pieces of about `size` characters, cut at spaces; a short tail joins the last."""
    text = " ".join(text.split())
    pieces: list[str] = []
    while len(text) > size:
        cut = text.rfind(" ", size // 2, size + 1)
        cut = cut if cut > 0 else size
        pieces.append(text[:cut].strip())
        text = text[cut:].strip()
    if text:
        if pieces and len(text) < size // 2:
            pieces[-1] += " " + text
        else:
            pieces.append(text)
    return [p for p in pieces if len(p) >= MIN_CHUNK_CHARS]


def first_chunk(text: str, size: int = CHUNK_CHARS) -> str:
    """What a text is scored on: its first chunk, or all of it when shorter (never nothing)."""
    found = chunks(text, size)
    return found[0] if found else " ".join(text.split())


def _heldout(text: str, seed: int) -> bool:
    digest = hashlib.sha256(f"{seed}\0{text}".encode()).digest()
    return digest[0] < 256 * HELDOUT_SHARE


def _analyzer():
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(analyzer="char_wb", ngram_range=COVERAGE_NGRAMS).build_analyzer()


@dataclass
class VoiceClassifier:
    model: Any  # a fitted sklearn Pipeline (TF-IDF + logistic regression)
    person_grams: frozenset[str]  # every char_wb 3-5-gram of the person's training chunks
    person_chunks: int
    other_chunks: int
    auc: float = float("nan")
    heldout_chunks: tuple[int, int] = (0, 0)  # (person, not-person) chunks in the AUC

    @property
    def measurable(self) -> bool:
        return self.auc >= AUC_FLOOR

    def coverage(self, chunk: str) -> float:
        grams = _analyzer()(chunk)
        return sum(g in self.person_grams for g in grams) / len(grams) if grams else 0.0

    def chunk_scores(self, pieces: list[str]) -> list[float]:
        if not pieces:
            return []
        probs = self.model.predict_proba(pieces)[:, 1]
        return [round(float(p) * self.coverage(c), 6) for p, c in zip(probs, pieces, strict=True)]

    def scores(self, texts: list[str]) -> list[float]:
        """s(x) = P(person | first chunk of x) x its coverage, one per text."""
        return self.chunk_scores([first_chunk(t) for t in texts])


def fit_voice(
    person: list[str], others: list[str], heldout_person: list[str], seed: int = 0
) -> VoiceClassifier:
    """Train person vs not-person; AUC on held-out person replies vs held-out not-person texts."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline

    kept = [t for t in others if not _heldout(t, seed)]
    held = [t for t in others if _heldout(t, seed)]
    x_person = [c for t in person for c in chunks(t)]
    x_other = [c for t in kept for c in chunks(t)]
    if not x_person or not x_other:
        raise ValueError(
            f"too little text to tell the person apart: {len(x_person)} chunks of theirs, "
            f"{len(x_other)} of others"
        )
    model = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=NGRAMS, sublinear_tf=True, min_df=2),
        LogisticRegression(class_weight="balanced", C=10.0, max_iter=2000, random_state=seed),
    )
    model.fit(x_person + x_other, [1] * len(x_person) + [0] * len(x_other))
    analyze = _analyzer()
    grams = frozenset(g for c in x_person for g in analyze(c))
    classifier = VoiceClassifier(model, grams, len(x_person), len(x_other))
    h_person = [c for t in heldout_person for c in chunks(t)]
    h_other = [c for t in held for c in chunks(t)]
    if h_person and h_other:
        scored = classifier.chunk_scores(h_person + h_other)
        auc = roc_auc_score([1] * len(h_person) + [0] * len(h_other), scored)
        classifier.auc = round(float(auc), 4)
        classifier.heldout_chunks = (len(h_person), len(h_other))
    return classifier


# -- the paired score ------------------------------------------------------------------------------


def sign_test(wins: int, losses: int) -> float:
    """Exact one-sided sign-test p: the chance of `wins` or more of wins+losses at 1/2 each."""
    n = wins + losses
    if n == 0:
        return 1.0
    return min(1.0, sum(math.comb(n, k) for k in range(wins, n + 1)) / 2**n)


def _gap(h: list[float], p: list[float], b: list[float]) -> float | None:
    denominator = sum(h) / len(h) - sum(b) / len(b)
    if denominator <= 1e-9:  # the base already scores as the person does: no gap to close
        return None
    return (sum(p) / len(p) - sum(b) / len(b)) / denominator


def bootstrap_interval(
    h: list[float], p: list[float], b: list[float], seed: int, rounds: int = BOOTSTRAP
) -> tuple[float, float] | None:
    """The 2.5th and 97.5th percentiles of the gap closed over prompts resampled with replacement."""
    rng = random.Random(seed)
    n = len(h)
    gaps = []
    for _ in range(rounds):
        pick = [rng.randrange(n) for _ in range(n)]
        gap = _gap([h[i] for i in pick], [p[i] for i in pick], [b[i] for i in pick])
        if gap is not None:
            gaps.append(gap)
    if len(gaps) < rounds // 2:
        return None
    gaps.sort()
    return round(gaps[int(0.025 * len(gaps))], 4), round(gaps[int(0.975 * len(gaps)) - 1], 4)


@dataclass
class VoiceScore:
    """One model's paired authorship score against the base, on the same prompts."""

    n: int
    auc: float
    measurable: bool
    win_rate: float
    p_value: float
    gap_closed: float | None
    gap_closed_ci: tuple[float, float] | None
    mean_person: float  # mean s(H)
    mean_model: float  # mean s(P)
    mean_base: float  # mean s(B)
    scores: list[float] = field(default_factory=list)  # s(P) per prompt (for vs current)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def style(self) -> dict[str, Any]:
        """The `style` key of bench/persona.py --json."""
        return {
            "n": self.n,
            "auc": self.auc,
            "win_rate": self.win_rate,
            "p_value": self.p_value,
            "gap_closed": self.gap_closed,
            "gap_closed_ci": list(self.gap_closed_ci) if self.gap_closed_ci else None,
        }


def paired_voice(
    classifier: VoiceClassifier,
    person: list[str],
    model: list[str],
    base: list[str],
    seed: int = 0,
) -> VoiceScore:
    """Score H (the person's real replies), P (a model's answers) and B (the base's) per prompt."""
    if not (len(person) == len(model) == len(base)) or not person:
        raise ValueError(
            f"paired texts must line up: {len(person)} replies, {len(model)} answers, "
            f"{len(base)} base answers"
        )
    h, p, b = (classifier.scores(texts) for texts in (person, model, base))
    wins = sum(pi > bi for pi, bi in zip(p, b, strict=True))
    losses = sum(pi < bi for pi, bi in zip(p, b, strict=True))
    gap = _gap(h, p, b)
    n = len(person)
    return VoiceScore(
        n=n,
        auc=classifier.auc,
        measurable=classifier.measurable,
        win_rate=round(wins / n, 4),
        p_value=float(f"{sign_test(wins, losses):.3g}"),  # 3 significant digits, never 0
        gap_closed=None if gap is None else round(gap, 4),
        gap_closed_ci=bootstrap_interval(h, p, b, seed) if gap is not None else None,
        mean_person=round(sum(h) / n, 4),
        mean_model=round(sum(p) / n, 4),
        mean_base=round(sum(b) / n, 4),
        scores=p,
    )


def score_from_dict(data: dict[str, Any] | None) -> VoiceScore | None:
    if not data:
        return None
    ci = data.get("gap_closed_ci")
    return VoiceScore(**{**data, "gap_closed_ci": tuple(ci) if ci else None})


def difference_interval(
    candidate: list[float], current: list[float], seed: int, rounds: int = BOOTSTRAP
) -> tuple[float, float, float]:
    """Mean s(candidate) - s(current) over the same prompts, and its bootstrap 95% interval."""
    diffs = [c - k for c, k in zip(candidate, current, strict=True)]
    rng = random.Random(seed)
    n = len(diffs)
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(rounds))
    return (
        round(sum(diffs) / n, 4),
        round(means[int(0.025 * rounds)], 4),
        round(means[int(0.975 * rounds) - 1], 4),
    )
