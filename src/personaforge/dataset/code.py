"""Code blocks and command output in the person's replies: measured, and kept or taken out.

    examples, report = apply_code_policy(candidates, "prose_only", context, count_tokens)

A technical person's notes are often more code than prose: a fenced block, an
indented listing, a terminal session (`$ make test` and what it printed). Code
is not how the person sounds; a small model trained on it learns to answer in
fragments of shell. What is code (code_blocks):

- fenced blocks (``` or ~~~, CommonMark's fences, the fence lines included);
- indented blocks (four spaces or a tab after a blank line, which is not a
  list item's continuation);
- terminal sessions: a line starting with a prompt (`$ `, `>>> `) and the lines
  that follow it up to a blank line (the command's output).

Inline `code` stays: it is part of a sentence. `dataset.code` decides:

- keep: replies train as written;
- prose_only: blocks are cut out of replies; a reply left with fewer than
  dataset.min_words words is dropped by curation as it would be anyway;
- separate: cut out as for prose_only, and each reply's blocks become an
  example of their own (kind "code", "Show the code from your note on X"), so
  the model still learns the person's code but the voice examples hold prose.

Preference pairs (corrections) are left as they are: the person chose them whole.
The report (the manifest's "code") gives the share of target tokens that were
code before the policy, and what the policy did.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from personaforge.dataset.examples import Example
from personaforge.dataset.extract import pick, topic_of

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
PROMPT = re.compile(r"^\s*(?:\$|>>>) ")
INDENTED = re.compile(r"^(?: {4}|\t)")
LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s")
CODE_PROMPTS = [
    "Show the code from your note on {topic}.",
    "What commands and code did you write down for {topic}?",
]
POLICIES = ("keep", "prose_only", "separate")


@dataclass(frozen=True)
class Block:
    first: int  # line index of the block's first line
    last: int  # and of its last line (inclusive)


def _fence_end(lines: list[str], start: int) -> int:
    """Index of the line closing the fence opened at `start` (the last line when unclosed)."""
    opener = FENCE.match(lines[start]).group(1)  # type: ignore[union-attr]
    for index in range(start + 1, len(lines)):
        closer = FENCE.match(lines[index])
        if closer and closer.group(1)[0] == opener[0] and len(closer.group(1)) >= len(opener):
            return index
    return len(lines) - 1


def _run_end(lines: list[str], start: int, keeps: Callable[[str], bool]) -> int:
    """Index of the last line from `start` on for which `keeps` holds (start itself counts)."""
    end = start
    while end + 1 < len(lines) and keeps(lines[end + 1]):
        end += 1
    return end


def code_blocks(text: str) -> list[Block]:
    """The code blocks of a Markdown text, as line ranges (see the module docstring)."""
    lines = text.split("\n")
    blocks: list[Block] = []
    index = 0
    in_list = False  # an indented line after a list item continues the item
    while index < len(lines):
        line = lines[index]
        after_blank = index == 0 or not lines[index - 1].strip()
        if FENCE.match(line):
            end = _fence_end(lines, index)
        elif PROMPT.match(line):
            end = _run_end(lines, index, lambda following: bool(following.strip()))
        elif INDENTED.match(line) and line.strip() and after_blank and not in_list:
            end = _run_end(
                lines,
                index,
                lambda following: not following.strip() or bool(INDENTED.match(following)),
            )
            while end > index and not lines[end].strip():  # trailing blank lines are prose's
                end -= 1
        else:
            if line.strip():
                in_list = bool(LIST_ITEM.match(line)) or (
                    in_list and INDENTED.match(line) is not None
                )
            index += 1
            continue
        blocks.append(Block(index, end))
        index = end + 1
    return blocks


def split_code(text: str) -> tuple[str, str]:
    """(the prose with code blocks cut out, the code blocks joined by blank lines)."""
    lines = text.split("\n")
    inside = set()
    code_parts = []
    for block in code_blocks(text):
        inside.update(range(block.first, block.last + 1))
        code_parts.append("\n".join(lines[block.first : block.last + 1]))
    prose = "\n".join(line for i, line in enumerate(lines) if i not in inside)
    return re.sub(r"\n{3,}", "\n\n", prose).strip(), "\n\n".join(code_parts)


@dataclass
class CodeReport:
    policy: str
    target_tokens: int = 0
    code_tokens: int = 0
    replies_with_code: int = 0
    replies: int = 0
    emptied: int = 0  # replies that were code only (prose_only/separate leave nothing of them)
    code_examples: int = 0  # separate: examples of kind "code" made

    @property
    def share(self) -> float:
        return self.code_tokens / self.target_tokens if self.target_tokens else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "share_of_target_tokens": round(self.share, 4),
            "target_tokens": self.target_tokens,
            "code_tokens": self.code_tokens,
            "replies": self.replies,
            "replies_with_code": self.replies_with_code,
            "replies_left_without_prose": self.emptied,
            "code_examples": self.code_examples,
        }


def _content_counter(count: Callable[[list[list[dict[str, str]]]], list[int]]):
    """Tokens of bare texts from a conversation counter (its per-message overhead taken off)."""
    overhead = count([[{"role": "assistant", "content": ""}]])[0]

    def tokens(texts: list[str]) -> list[int]:
        lengths = count([[{"role": "assistant", "content": t}] for t in texts])
        return [max(n - overhead, 0) for n in lengths]

    return tokens


def apply_code_policy(
    examples: list[Example],
    policy: str,
    chat: Callable[[str, str], list[dict[str, str]]],
    count: Callable[[list[list[dict[str, str]]]], list[int]],
) -> tuple[list[Example], CodeReport]:
    """The examples under `policy` and a report measured on them before it.

    `chat(user, assistant)` builds an example's messages and `count` counts conversation
    tokens (curate's counters).
    """
    if policy not in POLICIES:
        raise ValueError(f"dataset.code must be one of {', '.join(POLICIES)}")
    report = CodeReport(policy)
    sft = [e for e in examples if e.chosen is None]
    splits = [split_code(e.target) for e in sft]
    tokens = _content_counter(count)
    report.replies = len(sft)
    report.target_tokens = sum(tokens([e.target for e in sft]))
    report.code_tokens = sum(tokens([code for _, code in splits if code]))
    report.replies_with_code = sum(bool(code) for _, code in splits)
    if policy == "keep":
        return examples, report
    out: list[Example] = [e for e in examples if e.chosen is not None]
    for example, (prose, code) in zip(sft, splits, strict=True):
        if not code:
            out.append(example)
            continue
        if prose:
            example.set_target(prose)
            out.append(example)
        else:
            report.emptied += 1
        if policy == "separate":
            prompt = pick(CODE_PROMPTS, example.primary, "code").format(
                topic=topic_of(example.primary)
            )
            out.append(
                Example("code", chat(prompt, code), example.memories, extra={"from": example.kind})
            )
            report.code_examples += 1
    return out, report


def code_share_line(manifest: dict[str, Any]) -> str | None:
    """One line for `dataset show`: the share of code in the replies and what dataset.code did."""
    code = manifest.get("code")
    if not code:
        return None
    line = (
        f"code and command output: {code['share_of_target_tokens']:.0%} of reply tokens "
        f"({code['replies_with_code']:,} of {code['replies']:,} replies hold some); "
        f"dataset.code = {code['policy']}"
    )
    if code["policy"] != "keep":
        line += f": cut from replies, {code['replies_left_without_prose']:,} left with no prose"
    if code["policy"] == "separate":
        line += f", {code['code_examples']:,} code examples of their own"
    return line
