"""Curate extracted examples: privacy, boilerplate, filler, duplicates, length; then measure.

Order matters. Privacy runs first, so no later step (or report) sees a secret.
An example whose prompt already holds its reply teaches copying, not the
person: it is dropped ("prompt holds target").
Exact duplicates are then removed on normalised reply text, and near-duplicates
with MinHash LSH (datasketch) over word 3-shingles. One pass inserts and queries
each example once, so the cost grows linearly with the number of examples
(bench/dataset.py measures it). Length is counted with the base model's
tokenizer, through its chat template. An over-long reply is split at paragraph
breaks. An over-long dialogue loses its oldest context turns first, and is
dropped only if even its last exchange does not fit.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from personaforge.config import DatasetSettings
from personaforge.dataset.examples import Example
from personaforge.dataset.privacy import Finding, scrub

# Phrases of assistant filler: a reply that uses them does not sound like a person.
FILLER = re.compile(
    r"\b(?:as an ai(?: language model)?|great question|i hope this helps|feel free to|let me know if you"
    r"|i'?d be happy to|certainly!|here are some tips|it'?s important to note|in conclusion"
    r"|i don'?t have personal (?:opinions|experiences))\b",
    re.I,
)
# Replies with nothing of the person in them: template leftovers, bare links, placeholders.
BOILERPLATE = re.compile(
    r"^\s*(?:\{\{[^}]*\}\}|<%.*?%>|\(?(?:attachment|embedded note): [^)]*\)?|https?://\S+|\W*)\s*$",
    re.S,
)
# Which copy survives when two kinds produce the same reply: the more specific one
# (a reflection keeps its reasons; a voice example of the same text adds nothing).
KIND_PRIORITY = {"preference": 0, "dialogue": 1, "reflection": 2, "voice": 3, "knowledge": 4}

TokenCounter = Callable[[list[list[dict[str, str]]]], list[int]]


@dataclass
class PrivacyFinding:
    kind: str
    action: str
    locator: str
    source: str
    preview: str

    def as_dict(self) -> dict[str, str]:
        return vars(self)


@dataclass
class Curated:
    kept: list[Example]
    dropped: Counter[str] = field(default_factory=Counter)  # reason -> count
    split: int = 0  # over-long examples cut into parts (the parts are in kept)
    trimmed: int = 0  # dialogues that lost context turns to fit
    findings: list[PrivacyFinding] = field(default_factory=list)
    filler_candidates: int = 0  # filler replies seen before dropping
    token_lengths: list[int] = field(default_factory=list)
    lengths_exact: bool = True  # False when tokens were estimated (no tokenizer)


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def shingles(text: str, size: int = 3) -> set[bytes]:
    words = normalise(text).split()
    if len(words) < size:
        return {" ".join(words).encode()} if words else set()
    return {" ".join(words[i : i + size]).encode() for i in range(len(words) - size + 1)}


# -- privacy -------------------------------------------------------------------------------


def apply_privacy(
    examples: list[Example], policy: dict[str, str], result: Curated
) -> list[Example]:
    kept = []
    for example in examples:
        drop = False
        for index, text in enumerate(example.texts()):
            scrubbed = scrub(text, policy)
            for finding in scrubbed.findings:
                result.findings.append(_finding(example, finding, policy))
            drop = drop or scrubbed.drop
            if scrubbed.text != text:
                _replace_text(example, index, scrubbed.text)
        if drop:
            result.dropped["privacy"] += 1
        else:
            kept.append(example)
    return kept


def _finding(example: Example, finding: Finding, policy: dict[str, str]) -> PrivacyFinding:
    memory = example.primary
    return PrivacyFinding(
        finding.kind,
        policy.get(finding.kind, "redact"),
        memory.locator,
        memory.source,
        finding.preview,
    )


def _replace_text(example: Example, index: int, text: str) -> None:
    if index < len(example.messages):
        example.messages[index] = {**example.messages[index], "content": text}
    elif index == len(example.messages) and example.chosen is not None:
        example.chosen = text
    else:
        example.rejected = text


# -- prompt and target -------------------------------------------------------------------------

# A prompt holds its target when the whole target is in it, or the target's first
# PROMPT_ECHO_WORDS words are: a title cut from the reply ("I think we should move the
# cutover to Tuesday because…") gives the answer away even when it is truncated.
PROMPT_ECHO_WORDS = 8


def prompt_holds_target(example: Example) -> bool:
    """Whether the user-side text (every message but the system prompt and the target) holds the target."""
    context = example.messages[1:] if example.chosen is not None else example.messages[1:-1]
    prompt = f" {normalise(' '.join(m['content'] for m in context))} "
    words = normalise(example.target).split()
    if not words:
        return False
    opening = words if len(words) <= PROMPT_ECHO_WORDS else words[:PROMPT_ECHO_WORDS]
    return f" {' '.join(words)} " in prompt or f" {' '.join(opening)} " in prompt


def drop_prompt_holds_target(examples: list[Example], result: Curated) -> list[Example]:
    kept = []
    for example in examples:
        if prompt_holds_target(example):
            result.dropped["prompt holds target"] += 1
        else:
            kept.append(example)
    return kept


# -- filters and dedup -------------------------------------------------------------------------


def filter_boilerplate_and_filler(
    examples: list[Example], settings: DatasetSettings, result: Curated
) -> list[Example]:
    kept = []
    for example in examples:
        target = example.target
        if BOILERPLATE.match(target) or len(target.split()) < settings.min_words:
            result.dropped["boilerplate"] += 1
            continue
        if example.kind != "preference" and FILLER.search(target):
            result.filler_candidates += 1
            if settings.drop_filler:
                result.dropped["filler"] += 1
                continue
        kept.append(example)
    return kept


def drop_exact_duplicates(examples: list[Example], result: Curated) -> list[Example]:
    seen: set[tuple[str, str]] = set()
    kept = []
    for example in examples:
        # Preference pairs are judged as pairs: the same chosen text with another rejected one is new.
        key = (
            normalise(example.target),
            normalise(example.rejected or "") if example.kind == "preference" else "",
        )
        if key in seen:
            result.dropped["exact duplicate"] += 1
            continue
        seen.add(key)
        kept.append(example)
    return kept


def drop_near_duplicates(
    examples: list[Example], settings: DatasetSettings, result: Curated
) -> list[Example]:
    """Keep the first of each group whose replies' estimated Jaccard similarity is over the threshold."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(
        threshold=settings.near_duplicate_threshold, num_perm=settings.minhash_permutations
    )
    kept = []
    for index, example in enumerate(examples):
        if example.kind == "preference":
            kept.append(example)
            continue
        grams = shingles(example.target)
        if not grams:
            kept.append(example)
            continue
        signature = MinHash(num_perm=settings.minhash_permutations, seed=1)
        signature.update_batch(list(grams))
        if lsh.query(signature):
            result.dropped["near duplicate"] += 1
            continue
        lsh.insert(str(index), signature)
        kept.append(example)
    return kept


def similar_to_any(
    references: list[str], candidates: list[str], threshold: float, permutations: int
) -> list[bool]:
    """For each candidate: is its estimated Jaccard similarity to some reference over `threshold`?"""
    from datasketch import MinHash, MinHashLSH

    def signature(text: str) -> MinHash | None:
        grams = shingles(text)
        if not grams:
            return None
        sig = MinHash(num_perm=permutations, seed=1)
        sig.update_batch(list(grams))
        return sig

    lsh = MinHashLSH(threshold=threshold, num_perm=permutations)
    for index, text in enumerate(references):
        sig = signature(text)
        if sig is not None:
            lsh.insert(str(index), sig)
    return [bool((sig := signature(text)) and lsh.query(sig)) for text in candidates]


# -- length -----------------------------------------------------------------------------------


def split_reply(text: str, fits: Callable[[str], bool]) -> list[str]:
    """Greedy paragraphs per part while the part fits; a paragraph too long alone is dropped."""
    parts: list[str] = []
    current = ""
    for paragraph in text.split("\n\n"):
        candidate = f"{current}\n\n{paragraph}" if current else paragraph
        if fits(candidate):
            current = candidate
            continue
        if current:
            parts.append(current)
        current = paragraph if fits(paragraph) else ""
    if current:
        parts.append(current)
    return parts


def fit_length(
    examples: list[Example], count: TokenCounter, max_tokens: int, result: Curated
) -> list[Example]:
    lengths = count(
        [e.messages if e.chosen is None else [*e.messages, _reply(e)] for e in examples]
    )
    kept = []
    for example, length in zip(examples, lengths, strict=True):
        if length <= max_tokens:
            kept.append(example)
            result.token_lengths.append(length)
        elif example.kind == "dialogue":
            _fit_dialogue(example, count, max_tokens, result, kept)
        else:
            _split_example(example, count, max_tokens, result, kept)
    return kept


def _reply(example: Example) -> dict[str, str]:
    return {"role": "assistant", "content": example.target}


def _fit_dialogue(
    example: Example, count: TokenCounter, max_tokens: int, result: Curated, kept: list
) -> None:
    messages = list(example.messages)
    while len(messages) > 3:
        messages = [messages[0], *messages[3:]]  # drop the oldest user/assistant exchange
        while len(messages) > 2 and messages[1]["role"] != "user":
            messages.pop(1)
        (length,) = count([messages])
        if length <= max_tokens and messages[-1]["role"] == "assistant":
            example.messages = messages
            example.extra["context_turns"] = len(messages) - 2
            result.trimmed += 1
            result.token_lengths.append(length)
            kept.append(example)
            return
    result.dropped["too long"] += 1


def _split_example(
    example: Example, count: TokenCounter, max_tokens: int, result: Curated, kept: list
) -> None:
    def fits(text: str) -> bool:
        return (
            count([[*example.messages[:-1], {"role": "assistant", "content": text}]])[0]
            <= max_tokens
        )

    if example.chosen is not None:
        result.dropped["too long"] += 1
        return
    parts = split_reply(example.target, fits)
    if not parts:
        result.dropped["too long"] += 1
        return
    result.split += 1
    for number, part in enumerate(parts, start=1):
        piece = Example(
            example.kind,
            [*example.messages[:-1], {"role": "assistant", "content": part}],
            example.memories,
            extra={**example.extra, "part": number, "parts": len(parts)},
        )
        kept.append(piece)
        result.token_lengths.append(count([piece.messages])[0])


def estimated_token_counter(conversations: list[list[dict[str, str]]]) -> list[int]:
    """Without a tokenizer: about 4 characters per token plus a few per message (English BPE)."""
    return [sum(len(m["content"]) // 4 + 4 for m in messages) for messages in conversations]


def tokenizer_counter(tokenizer: Any) -> TokenCounter:
    """Exact lengths through the chat template, its overheads measured once, then batched.

    Rendering every example through Jinja is slow at 100k examples; the template adds a
    fixed number of tokens per message, measured here, and the contents are tokenized in
    one batched call. Some templates also add a system message of their own when a
    conversation has none (smollm2's is 21 tokens); measured apart, so it is counted once
    per such conversation, not per message (it once was: every message cost 26 tokens
    instead of 5, and rows fit for training were cut as over-length).
    """

    def rendered(messages: list[dict[str, str]]) -> int:
        return len(tokenizer.apply_chat_template(messages, tokenize=True, return_dict=False))

    x = len(tokenizer("x", add_special_tokens=False)["input_ids"])
    system, user, reply = (
        {"role": role, "content": "x"} for role in ("system", "user", "assistant")
    )
    # Each role's markup, measured as what one more message of it adds.
    per_role = {
        "system": rendered([system]) - x,
        "user": rendered([system, user]) - rendered([system]) - x,
        "assistant": rendered([system, user, reply]) - rendered([system, user]) - x,
    }
    default_system = max(rendered([user]) - x - per_role["user"], 0)

    def count(conversations: list[list[dict[str, str]]]) -> list[int]:
        flat = [m["content"] for messages in conversations for m in messages]
        lengths = (
            [len(ids) for ids in tokenizer(flat, add_special_tokens=False)["input_ids"]]
            if flat
            else []
        )
        totals, index = [], 0
        for messages in conversations:
            total = sum(lengths[index : index + len(messages)])
            total += sum(per_role.get(m["role"], per_role["user"]) for m in messages)
            if not messages or messages[0]["role"] != "system":
                total += default_system
            totals.append(total)
            index += len(messages)
        return totals

    return count


# -- the whole pass -------------------------------------------------------------------------------


def curate(
    examples: list[Example],
    settings: DatasetSettings,
    policy: dict[str, str],
    max_tokens: int,
    count: TokenCounter | None = None,
) -> Curated:
    result = Curated(kept=[])
    ordered = sorted(
        examples, key=lambda e: (KIND_PRIORITY.get(e.kind, 9), e.primary.created_at, e.id)
    )
    ordered = apply_privacy(ordered, policy, result)
    ordered = drop_prompt_holds_target(ordered, result)
    ordered = filter_boilerplate_and_filler(ordered, settings, result)
    ordered = drop_exact_duplicates(ordered, result)
    ordered = drop_near_duplicates(ordered, settings, result)
    result.lengths_exact = count is not None
    result.kept = fit_length(ordered, count or estimated_token_counter, max_tokens, result)
    return result


# -- quality metrics ---------------------------------------------------------------------------------


def quality(examples: list[Example], curated: Curated) -> tuple[dict[str, Any], list[str]]:
    """Metrics a user can act on, and warnings where they miss the targets."""
    sft = [e for e in examples if e.kind != "preference"]
    words = [len(e.target.split()) for e in sft]
    total = max(len(words), 1)
    short = sum(w < 40 for w in words) / total
    medium = sum(40 <= w <= 100 for w in words) / total
    filler = sum(bool(FILLER.search(e.target)) for e in sft) / total
    lengths = sorted(curated.token_lengths)
    metrics = {
        "examples": len(examples),
        "sft_examples": len(sft),
        "share_short_under_40_words": round(short, 3),
        "share_medium_40_to_100_words": round(medium, 3),
        "share_long_over_100_words": round(1 - short - medium, 3) if sft else 0.0,
        "filler_rate": round(filler, 3),
        "filler_rate_before_filter": round(
            curated.filler_candidates / max(total + curated.dropped["filler"], 1), 3
        ),
        "by_kind": dict(Counter(e.kind for e in examples).most_common()),
        # Which chats and exports her replies come from (AI chats, messaging, mail).
        "dialogue_by_source": dict(
            Counter(e.primary.source for e in examples if e.kind == "dialogue").most_common()
        ),
        "by_mode": dict(Counter(e.primary.mode for e in examples).most_common()),
        "by_month": dict(sorted(Counter(e.primary.created_at[:7] for e in examples).items())),
        "tokens": {
            "median": lengths[len(lengths) // 2] if lengths else 0,
            "max": lengths[-1] if lengths else 0,
            "total": sum(lengths),
            "exact": curated.lengths_exact,
        },
    }
    warnings = []
    if sft and short >= 0.5:
        warnings.append(
            f"{short:.0%} of replies are short (<40 words); aim for under 50% (add longer notes)"
        )
    if filler >= 0.10:
        warnings.append(f"filler rate {filler:.0%}; aim for under 10%")
    if len(examples) < 50:
        warnings.append(
            f"only {len(examples)} examples; at least 50 are needed, 100-500 make a good first run"
        )
    elif len(examples) < 100:
        warnings.append(f"{len(examples)} examples; 100-500 make a good first run")
    if not curated.lengths_exact:
        warnings.append("token lengths are estimated (no tokenizer for the configured base)")
    return metrics, warnings


def counter_for_base(
    base: str, paths: Any, revision: str | None = None
) -> tuple[TokenCounter | None, str, str | None]:
    """(counter, tokenizer name, problem) for the configured base, never downloading or building.

    A base that is not on this machine (an HF id with no cache and no hub, a tiny
    base not built yet) gives no counter and a one-line problem; lengths are then estimated.
    """
    from personaforge.bases import load_tokenizer, resolve_base
    from personaforge.errors import UserError

    try:
        ref = resolve_base(base, paths, revision, build=False)
        if ref.kind == "builtin" and not Path(ref.location).exists():
            return None, base, f"{base} not built yet (`personaforge base build {base}`)"
        if (
            ref.kind == "hub"
        ):  # only a cached copy: counting tokens is no reason to download a model
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(
                ref.location, revision=ref.revision, local_files_only=True
            )
            return tokenizer_counter(tokenizer), base, None
        return tokenizer_counter(load_tokenizer(ref)), base, None
    except (UserError, OSError, ImportError, ValueError) as exc:
        return None, base, str(exc).splitlines()[0]
