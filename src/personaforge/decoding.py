"""How a reply is picked from the model's scores: one definition for every place that generates.

The gate's answers (evaluate/measure.py), the server's (serve/engine.py), the
profile's probes and the demo all decode with settings `decode.*`, so the
answers the gate judges are the answers a person gets. The Ollama Modelfile
carries the same values as PARAMETER lines (export.py).

Penalties look at the reply's own tokens only, never the prompt: a persona
should be free to reuse the words of the question it answers. Within the last
`repeat_last_n` reply tokens:

- repetition_penalty r (CTRL, Keskar et al. 2019; transformers' and llama.cpp's
  `repeat_penalty`): a token already used has its logit divided by r when
  positive, multiplied by r when negative;
- frequency_penalty f and presence_penalty p (OpenAI's API): the logit drops by
  f x (times used) + p x (used at all);
- no_repeat_ngram_size n: a token that would complete an n-gram the reply
  already holds is ruled out (transformers only; llama.cpp has no such sampler).

Then temperature and top-p (nucleus) sampling; temperature 0 is greedy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Penalties:
    repetition: float = 1.0
    frequency: float = 0.0
    presence: float = 0.0
    window: int = 64  # last reply tokens the penalties look at; 0 = the whole reply
    no_repeat_ngram: int = 0

    @classmethod
    def of(cls, settings: Any) -> Penalties:
        """From `decode` settings (or anything with the same field names)."""
        return cls(
            settings.repetition_penalty,
            settings.frequency_penalty,
            settings.presence_penalty,
            settings.repeat_last_n,
            settings.no_repeat_ngram_size,
        )

    @property
    def active(self) -> bool:
        return (
            self.repetition != 1.0
            or self.frequency != 0.0
            or self.presence != 0.0
            or self.no_repeat_ngram > 0
        )


def banned_next(reply: list[int], size: int) -> set[int]:
    """Tokens that would repeat an n-gram of `reply` (n = size) if they came next."""
    if size <= 0 or len(reply) < size:
        return set()
    tail = tuple(reply[len(reply) - size + 1 :])
    return {
        reply[i + size - 1]
        for i in range(len(reply) - size + 1)
        if tuple(reply[i : i + size - 1]) == tail
    }


def penalize(scores, replies: list[list[int]], penalties: Penalties):
    """`scores` [rows, vocab] with the penalties for each row's own reply so far (a new tensor)."""
    return penalize_rows(scores, replies, [penalties] * len(replies))


def penalize_rows(scores, replies: Sequence[list[int]], penalties: Sequence[Penalties]):
    """`scores` [rows, vocab] with row i's `penalties[i]` for its own reply so far.

    The batch's penalized entries are read and written in one gather and one scatter: a
    loop of tensor operations per row cost about 60 us a row on 2 cores, a tenth of a
    decode step of the tiny base (bench/RESULTS.md, serve). Returns `scores` itself when
    nothing applies, else a new tensor.
    """
    import torch

    rows: list[int] = []
    tokens: list[int] = []
    counts: list[int] = []
    rules: list[Penalties] = []
    banned_rows: list[int] = []
    banned_tokens: list[int] = []
    for row, (reply, rule) in enumerate(zip(replies, penalties, strict=True)):
        if not rule.active or not reply:
            continue
        recent = reply[-rule.window :] if rule.window > 0 else reply
        for token, count in sorted(Counter(recent).items()):
            rows.append(row)
            tokens.append(token)
            counts.append(count)
            rules.append(rule)
        banned = sorted(banned_next(reply, rule.no_repeat_ngram))
        banned_rows += [row] * len(banned)
        banned_tokens += banned
    if not rows:
        return scores
    scores = scores.clone()
    where = (torch.tensor(rows, device=scores.device), torch.tensor(tokens, device=scores.device))

    def per_entry(values: list[float]):
        return torch.tensor(values, dtype=scores.dtype, device=scores.device)

    repetition = per_entry([rule.repetition for rule in rules])
    picked = scores[where]
    picked = torch.where(picked > 0, picked / repetition, picked * repetition)
    picked = (
        picked
        - per_entry([rule.frequency for rule in rules]) * per_entry(counts)
        - per_entry([rule.presence for rule in rules])
    )
    scores[where] = picked
    if banned_rows:
        scores[banned_rows, banned_tokens] = float("-inf")
    return scores


def pick_token(logits, temperature: float, top_p: float, generator=None) -> int:
    """The next token from one row's logits: greedy at temperature 0, else sampled (top-p).

    `generator` (a torch.Generator) makes a seeded request repeatable.
    """
    return pick_tokens(logits[None], [temperature], [top_p], generator)[0]


def pick_tokens(
    logits, temperatures: Sequence[float], top_ps: Sequence[float], generator=None
) -> list[int]:
    """The next token of every row of `logits` [rows, vocab] at once, each row its own settings.

    Greedy rows take one argmax; sampled rows one softmax, one nucleus cut (top-p < 1) and
    one draw, from `generator` or the global random generator. A request with a seed of its
    own is picked alone (`pick_token`), so no other row's draw moves its generator.
    """
    import torch

    picks = [0] * len(temperatures)
    greedy = [row for row, t in enumerate(temperatures) if t <= 0]
    sampled = [row for row, t in enumerate(temperatures) if t > 0]
    if greedy:
        for row, token in zip(greedy, torch.argmax(logits[greedy], dim=-1).tolist(), strict=True):
            picks[row] = token
    if not sampled:
        return picks
    temperature = torch.tensor([temperatures[row] for row in sampled])[:, None]
    probs = torch.softmax(logits[sampled].float() / temperature, dim=-1)
    nucleus = [index for index, row in enumerate(sampled) if top_ps[row] < 1.0]
    if nucleus:
        part = probs[nucleus]
        sorted_probs, order = torch.sort(part, descending=True, dim=-1)
        top_p = torch.tensor([top_ps[sampled[index]] for index in nucleus])[:, None]
        keep = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < top_p
        part = torch.zeros_like(part).scatter(-1, order, torch.where(keep, sorted_probs, 0.0))
        probs[nucleus] = part / part.sum(dim=-1, keepdim=True)
    chosen = torch.multinomial(probs, 1, generator=generator).squeeze(-1).tolist()
    for row, token in zip(sampled, chosen, strict=True):
        picks[row] = token
    return picks


class ReplyPenalties:
    """A transformers LogitsProcessor applying `penalize` to the tokens after the prompt.

    Batches are left-padded to one width, so every row's reply starts at `prompt_width`.
    """

    def __init__(self, penalties: Penalties, prompt_width: int):
        self.penalties = penalties
        self.prompt_width = prompt_width

    def __call__(self, input_ids, scores):
        replies = input_ids[:, self.prompt_width :].tolist()
        return penalize(scores, replies, self.penalties)
