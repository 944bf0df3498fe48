"""Judged on what it writes: the looping numbers, the decoding sampler and the voice score.

The voice tests use the sample person's real data (her training and held-out replies, the
assistant turns of her AI chats) and a real classifier; the candidates' answers are built
from her words so each one's verdict is known in advance.
"""

from __future__ import annotations

import json

import pytest

from personaforge.config import DecodeSettings, Settings
from personaforge.decoding import (
    Penalties,
    banned_next,
    penalize,
    penalize_rows,
    pick_token,
    pick_tokens,
)
from personaforge.evaluate import ModelMetrics, verdict
from personaforge.evaluate.loops import distinct, loop_stats, loops, most_repeated
from personaforge.evaluate.voice import (
    AUC_FLOOR,
    chunks,
    fit_voice,
    paired_voice,
    sign_test,
)
from tests.helpers import micro_home

# -- looping ---------------------------------------------------------------------------------------

ISSUE_LOOPS = [  # the three answers issue 38 found, word for word
    "I'm not sure what to do. I'm not sure what to do.",
    "The first day of the month. The first day. The first day. The first day.",
    "Writing things down is a habit. It helps you remember. It helps you remember. "
    "It helps you remember.",
]


def test_an_answer_loops_when_a_4gram_comes_three_times():
    assert most_repeated(ISSUE_LOOPS[2]) == ("it helps you remember", 3)
    assert loops(ISSUE_LOOPS[2])
    # Cut at 60 tokens, "the first day" came four times but no 4-gram three times: by the
    # issue's definition it is not yet a loop (a fifth "The first day." would make it one).
    assert most_repeated(ISSUE_LOOPS[1]) == ("the first day the", 2) and not loops(ISSUE_LOOPS[1])
    assert loops(ISSUE_LOOPS[1] + " The first day.")
    # Twice is a turn of phrase, not a loop; so is a short answer.
    assert not loops(ISSUE_LOOPS[0]) and most_repeated(ISSUE_LOOPS[0])[1] == 2
    assert not loops("Fine, thanks.") and most_repeated("Fine, thanks.") == ("", 0)
    # Case and punctuation do not hide a repeat.
    assert loops("Go on. go ON, go on! Go on? Go on.")


def test_loop_stats_count_share_distinct_and_the_worst():
    answers = [*ISSUE_LOOPS, "We walked to the harbour and back before lunch.", ISSUE_LOOPS[2]]
    stats = loop_stats(answers)
    assert (stats.answers, stats.looping, stats.share) == (5, 2, 0.4)
    assert [w["count"] for w in stats.worst] == [3, 3, 2]
    assert [w["answer"] for w in stats.worst] == [ISSUE_LOOPS[2], ISSUE_LOOPS[2], ISSUE_LOOPS[0]]
    # distinct-2: every bigram once -> 1.0; "a b a b a b" has 5 bigrams, 2 distinct.
    assert distinct(["one two three four"]) == 1.0
    assert distinct(["a b a b a b"]) == 0.4
    assert distinct([]) == 1.0


# -- the sampler -----------------------------------------------------------------------------------


def test_penalties_follow_their_definitions():
    import torch

    scores = torch.tensor([[2.0, -1.0, 0.5, 3.0]])
    same = penalize(scores, [[0, 1, 1]], Penalties())
    assert same is scores  # nothing active: untouched
    out = penalize(scores, [[0, 1, 1]], Penalties(repetition=2.0))
    assert out.tolist() == [[1.0, -2.0, 0.5, 3.0]]  # positive halved, negative doubled
    out = penalize(scores, [[0, 1, 1]], Penalties(frequency=0.5, presence=0.25))
    assert out.tolist() == [[1.25, -2.25, 0.5, 3.0]]  # 2 - .5 - .25; -1 - 2 x .5 - .25
    # Only the last `window` reply tokens count.
    out = penalize(scores, [[0, 1, 1]], Penalties(repetition=2.0, window=2))
    assert out.tolist() == [[2.0, -2.0, 0.5, 3.0]]
    # No-repeat n-grams: after "5 6 ... 5", 6 would repeat the bigram (5, 6).
    assert banned_next([5, 6, 7, 5], 2) == {6} and banned_next([5, 6], 3) == set()
    out = penalize(torch.zeros(1, 8), [[5, 6, 7, 5]], Penalties(no_repeat_ngram=2))
    assert out[0, 6] == float("-inf") and out[0, 7] == 0


def test_each_row_gets_its_own_penalties_as_if_alone():
    """The batched penalties (one gather, one scatter) equal each row penalized alone."""
    import torch

    torch.manual_seed(0)
    scores = torch.randn(4, 12)
    replies = [[1, 2, 2, 5, 1, 2], [], [3, 4, 3, 4, 3], [7, 7, 7]]
    rules = [
        Penalties(repetition=1.3, frequency=0.2, window=4),
        Penalties(repetition=2.0),
        Penalties(presence=0.5, no_repeat_ngram=2),
        Penalties(),  # off: this row is left alone
    ]
    together = penalize_rows(scores, replies, rules)
    for row, (reply, rule) in enumerate(zip(replies, rules, strict=True)):
        alone = penalize(scores[row : row + 1], [reply], rule)
        assert torch.equal(together[row], alone[0]), row
    assert not torch.equal(together[0], scores[0]) and torch.equal(together[3], scores[3])
    assert together[2, 4] == float("-inf")  # after "... 4 3", 4 would repeat the bigram (3, 4)


def test_rows_are_picked_together_as_each_would_be_alone():
    """Greedy rows take their argmax; sampled rows draw only from their own nucleus."""
    import torch

    logits = torch.tensor(
        [
            [0.0, 5.0, 1.0, 0.0],  # greedy: 1
            [9.0, 0.0, 8.9, -9.0],  # top_p 0.5: only token 0 is in the nucleus
            [0.0, 0.0, 0.0, 0.0],  # top_p 1: any token
            [-1.0, -1.0, 3.0, -1.0],  # greedy: 2
        ]
    )
    drawn = [pick_tokens(logits, [0, 1.0, 1.0, 0], [1.0, 0.5, 1.0, 1.0]) for _ in range(200)]
    assert {picks[0] for picks in drawn} == {1} and {picks[3] for picks in drawn} == {2}
    assert {picks[1] for picks in drawn} == {0}
    assert {picks[2] for picks in drawn} == {0, 1, 2, 3}  # 200 draws: each token about 50 times
    # Greedy rows pick what pick_token picks alone.
    assert pick_tokens(logits, [0] * 4, [1.0] * 4) == [pick_token(row, 0, 1.0) for row in logits]


def test_seeded_decoding_repeats_and_the_seed_matters(micro_base):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from personaforge.evaluate import generate_many

    tokenizer = AutoTokenizer.from_pretrained(micro_base)
    model = AutoModelForCausalLM.from_pretrained(micro_base).eval()
    chats = [[{"role": "user", "content": q}] for q in ("How was your week?", "Tell me more.")]
    sampled = DecodeSettings(temperature=1.0, top_p=0.95, seed=3)
    torch.manual_seed(99)
    before = torch.rand(1)
    first = generate_many(model, tokenizer, chats, 12, decoding=sampled)
    assert generate_many(model, tokenizer, chats, 12, decoding=sampled) == first
    other = generate_many(
        model, tokenizer, chats, 12, decoding=sampled.model_copy(update={"seed": 4})
    )
    assert other != first
    torch.manual_seed(99)
    assert torch.rand(1) == before  # a seeded batch leaves the caller's random state alone
    # Greedy with a strong penalty differs from greedy without: the micro base repeats a
    # few tokens over and over ("assistant\nassistant..."), which the penalty forbids.
    greedy = generate_many(model, tokenizer, chats, 12)
    penalised = generate_many(
        model, tokenizer, chats, 12, decoding=DecodeSettings(temperature=0, repetition_penalty=1.8)
    )
    assert all(len(set(ids)) < len(ids) / 2 for _, ids in greedy)
    assert penalised != greedy
    assert (
        generate_many(
            model,
            tokenizer,
            chats,
            12,
            decoding=DecodeSettings(temperature=0, repetition_penalty=1.0),
        )
        == greedy
    )


# -- the voice score -------------------------------------------------------------------------------


def test_sign_test_is_exact():
    assert sign_test(20, 0) == pytest.approx(2**-20)
    assert sign_test(15, 5) == pytest.approx(0.020694732666015625)  # P(X >= 15), n 20
    assert sign_test(10, 10) == pytest.approx(0.5880985260009766)
    assert sign_test(0, 0) == 1.0


def test_chunks_are_about_equal_and_cut_at_spaces():
    text = " ".join(f"word{i}" for i in range(200))
    pieces = chunks(text, 160)
    assert all(120 <= len(p) <= 160 for p in pieces[:-1]) and len(pieces[-1]) <= 240
    assert " ".join(pieces) == text
    assert chunks("Too short.") == []


@pytest.fixture(scope="module")
def sample_voice(tmp_path_factory, micro_models_dir, sample_data):
    """The sample person's texts: training replies, held-out replies, assistant turns."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from personaforge.bases.tiny import tiny_folder
    from personaforge.evaluate import base_general_answers, voice_texts
    from personaforge.store import MemoryStore

    paths = micro_home(tmp_path_factory.mktemp("voice"), micro_models_dir, sample_data)
    dataset = next(p for p in paths.datasets.iterdir() if p.is_dir())
    heldout = [
        json.loads(line)["messages"][-1]["content"]
        for line in (dataset / "eval.jsonl").read_text().splitlines()
    ]
    with MemoryStore.open(paths.memory_store) as store:
        assistant = [m.text for m in store.memories() if m.speaker == "assistant"]
    folder = tiny_folder(micro_models_dir, "micro")
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    general = base_general_answers(paths, model, AutoTokenizer.from_pretrained(folder), "micro")
    person, others = voice_texts(paths, dataset.name, general)
    return person, others, heldout, assistant


def test_the_voice_check_rejects_base_answers_and_backwards_words(sample_voice):
    """Stand-in base answers: 20 assistant turns of her AI chats the classifier never saw.
    A candidate answering in her words (her replies to other prompts) passes; one that returns
    the base's answers, and one that spells her words backwards, are rejected."""
    person, others, heldout, assistant = sample_voice
    base = [a for a in assistant if len(a) >= 80][:20]
    assert len(base) == 20 and len(heldout) >= 21
    classifier = fit_voice(person, [t for t in others if t not in base], heldout)
    assert classifier.auc >= AUC_FLOOR  # measured 0.99 on the sample person
    real = heldout[:20]
    hers = heldout[1:21]  # her voice, answering the neighbouring prompt
    backwards = [" ".join(word[::-1] for word in text.split()) for text in hers]
    gate = Settings().gate
    decisions = {}
    for name, answers in (("hers", hers), ("copies the base", base), ("backwards", backwards)):
        score = paired_voice(classifier, real, answers, base)
        assert score.n == 20 and score.measurable
        decisions[name] = (score, decide(score, gate))
    hers_score, hers_verdict = decisions["hers"]
    assert hers_verdict == "promote", hers_score
    # Measured with her chats in the sample (short messages among the prompts): win rate 0.85
    # (p = 0.0013), gap closed 1.04 [0.50, ...]; before the chats 0.95 and 1.00 [0.87, 1.16].
    assert hers_score.win_rate >= 0.8 and hers_score.p_value < 0.01
    assert hers_score.gap_closed_ci[0] > 0.4
    copy_score, copy_verdict = decisions["copies the base"]
    assert copy_verdict == "reject" and copy_score.win_rate == 0 and copy_score.gap_closed == 0
    back_score, back_verdict = decisions["backwards"]
    assert back_verdict == "reject" and back_score.win_rate < 0.3, back_score
    # Deterministic: a refit and rescore give the same numbers.
    again = fit_voice(person, [t for t in others if t not in base], heldout)
    assert paired_voice(again, real, hers, base) == hers_score


def decide(score, gate) -> str:
    """The gate's decision for a candidate whose only difference from a passing one is voice."""

    result = verdict({"base": _plain(style=100.0), "candidate": _plain(score.as_dict())}, gate)
    failed = [c["name"] for c in result["checks"] if not c["passed"]]
    assert failed in ([], ["voice"]), failed
    return result["decision"]


def test_too_few_prompts_or_a_blind_classifier_report_without_blocking(sample_voice):
    person, others, heldout, assistant = sample_voice
    base = [a for a in assistant if len(a) >= 80][:20]
    classifier = fit_voice(person, [t for t in others if t not in base], heldout)
    gate = Settings().gate
    # 10 prompts of base copies: a clear loss, but too few prompts to block on.
    few = paired_voice(classifier, heldout[:10], base[:10], base[:10])
    result = verdict({"base": _plain(style=100.0), "candidate": _plain(few.as_dict())}, gate)
    check = next(c for c in result["checks"] if c["name"] == "voice")
    assert result["decision"] == "promote" and check["blocking"] is False
    assert "10 prompts are too few" in check["detail"] and result["notes"][0].startswith("voice")
    # A classifier trained on labels that say nothing (both sides the same texts) is blind.
    blind = fit_voice(person[::2], person[1::2], heldout)
    assert blind.auc < AUC_FLOOR and not blind.measurable
    score = paired_voice(blind, heldout[:20], base, base)
    result = verdict({"base": _plain(style=100.0), "candidate": _plain(score.as_dict())}, gate)
    check = next(c for c in result["checks"] if c["name"] == "voice")
    assert result["decision"] == "promote" and check["measured"].startswith("not measurable")


def _plain(voice=None, answers=None, style=10.0):
    """Numbers that pass every other check (a base is _plain(style=100.0))."""
    m = ModelMetrics(style, 2.0, 8, 11, {}, 0.0, [], [], voice=voice)
    if answers is not None:
        m.answers = answers
        m.loops = loop_stats(answers).as_dict()
    return m


def test_the_loop_check_rejects_a_candidate_that_repeats_its_answer():
    gate = Settings().gate  # max_loop_increase 0.05
    answers = [
        "We walked to the harbour and back before lunch.",
        "The estimate was off by a week, as usual, and I said so.",
        "I start with coffee and the list from last night.",
        "Mostly the tide tables, and a long run on Sunday.",
    ] * 5
    base = _plain(answers=answers, style=100.0)
    repeating = _plain(answers=[f"{a} {a} {a}" for a in answers])
    result = verdict({"base": base, "candidate": repeating}, gate)
    check = next(c for c in result["checks"] if c["name"] == "looping")
    assert result["decision"] == "reject" and not check["passed"]
    assert (
        check["measured"].startswith("100% (20/20)") and "base 0% + 5 points" in check["threshold"]
    )
    # One looping answer in 20 is exactly base + 5 points: allowed; two are not.
    one = _plain(answers=[f"{answers[0]} {answers[0]} {answers[0]}", *answers[1:]])
    assert verdict({"base": base, "candidate": one}, gate)["decision"] == "promote"
    two = _plain(answers=[f"{a} {a} {a}" for a in answers[:2]] + answers[2:])
    assert verdict({"base": base, "candidate": two}, gate)["decision"] == "reject"


def test_voice_vs_current_rejects_only_beyond_the_noise(sample_voice):
    person, others, heldout, assistant = sample_voice
    base = [a for a in assistant if len(a) >= 80][:20]
    classifier = fit_voice(person, [t for t in others if t not in base], heldout)
    real, hers = heldout[:20], heldout[1:21]
    gate = Settings().gate
    current = _plain(paired_voice(classifier, real, hers, base).as_dict())
    same = _plain(paired_voice(classifier, real, hers, base).as_dict())
    worse_answers = hers[:10] + base[10:]  # half her voice, half the base's
    worse = _plain(paired_voice(classifier, real, worse_answers, base).as_dict())
    compared = {"base": _plain(style=100.0), "current": current}
    kept = verdict({**compared, "candidate": same}, gate)
    assert next(c for c in kept["checks"] if c["name"] == "voice vs current")["passed"]
    dropped = verdict({**compared, "candidate": worse}, gate)
    check = next(c for c in dropped["checks"] if c["name"] == "voice vs current")
    assert not check["passed"] and dropped["decision"] == "reject"
