"""Self-synthesised rehearsal: the base's own answers to general prompts, mixed into SFT.

Fine-tuning a small model on one person's writing pulls every answer toward
that person: on smollm2-135m, 100 steps of the sample person took general-text
perplexity to 1.78x the base's (STACK.md). Rehearsing on text the base itself
produced keeps its behaviour on general requests where it was, and needs no
outside data set: the prompts ship with personaforge (data/rehearsal_prompts.txt,
kept apart from the gate's probes and general prose), the answers are generated
once per base (greedy, so they are what the base would say) and cached in the
machine's shared cache (`rehearsal/` under `$PERSONAFORGE_CACHE`), so every home
training on the same base reuses them; a copy an older home keeps under its own
`models/rehearsal/` is still read first.

The rows carry no persona system prompt: the adapter learns "as Maren" from the
person's rows and "as the assistant you were" from these.
"""

from __future__ import annotations

import hashlib
import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

from personaforge.atomic import atomic_write_text
from personaforge.ui import console

# Long enough for a paragraph answer, short enough that 64 prompts generate in
# well under a minute on 2 cores for a 135M model (batched 16 at a time).
ANSWER_TOKENS = 96


def rehearsal_prompts() -> list[str]:
    text = resources.files("personaforge.data").joinpath("rehearsal_prompts.txt").read_text()
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def cache_path(folder: Path, base_fingerprint: str) -> Path:
    prompts = hashlib.sha256("\n".join(rehearsal_prompts()).encode()).hexdigest()[:8]
    return folder / f"{base_fingerprint[:16]}-{prompts}.jsonl"


def _generate(model, tokenizer) -> list[dict[str, Any]]:
    from personaforge.evaluate.measure import generate_many

    prompts = rehearsal_prompts()
    chats = [[{"role": "user", "content": prompt}] for prompt in prompts]
    answers = generate_many(model, tokenizer, chats, ANSWER_TOKENS)
    return [
        {
            "messages": [*chat, {"role": "assistant", "content": text}],
            "meta": {"kind": "rehearsal", "source": "base"},
        }
        for chat, (text, _) in zip(chats, answers, strict=True)
        if text
    ]


def base_answers(
    model, tokenizer, folder: Path, base_fingerprint: str, also: tuple[Path, ...] = ()
) -> list[dict]:
    """The cached rows for this base (in `also`, then `folder`), generated now (adapter off)
    into `folder` when there are none."""
    for place in (*also, folder):
        found = cache_path(place, base_fingerprint)
        if found.exists():
            return [json.loads(line) for line in found.read_text().splitlines()]
    path = cache_path(folder, base_fingerprint)
    console.print(
        f"rehearsal: asking the base {len(rehearsal_prompts())} general questions (once per base)"
    )
    was_training = model.training
    model.eval()
    disable = getattr(model, "disable_adapter", None)  # a PeftModel carries a parent adapter
    if disable is not None:
        with disable():
            rows = _generate(model, tokenizer)
    else:
        rows = _generate(model, tokenizer)
    model.train(was_training)
    atomic_write_text(path, "".join(json.dumps(row) + "\n" for row in rows))
    return rows


def mix_in(rows: list[dict], rehearsal: list[dict], share: float) -> list[dict]:
    """`rows` plus enough rehearsal rows to make `share` of the result (all of them at most)."""
    if share <= 0 or not rehearsal:
        return rows
    wanted = math.ceil(len(rows) * share / (1 - share))
    return rows + rehearsal[:wanted]
