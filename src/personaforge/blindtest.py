"""The blind test: can the person tell their own reply from the persona's?

    pairs = blind_pairs(paths, "v2")            # from v2's gate evaluation
    record(paths, pairs[0], picked="a")         # "which one is you?" -> A
    summary(paths, "v2")                        # accuracy per kind, with its interval

Every pair is two answers to one held-out prompt, shown as A and B in an order
that looks random to the person but is fixed per pair (a hash), so a page reload
or a resumed session shows the same pair the same way:

- "real": the person's real held-out reply against the persona's answer. The
  right pick is the real reply; accuracy near 50% means the person cannot tell
  their own words from the persona's.
- "base": the persona's answer against the base's. The right pick is the
  persona's; accuracy well above 50% means the persona sounds more like them.

The answers are the ones the gate judged (the version's evaluation.json: the
same decoded answers as the looping and voice checks). Each pick is kept in
`$PERSONAFORGE_HOME/blindtest/answers.jsonl`, rewritten atomically, and the
accuracy comes with its Wilson 95% interval: 10 picks at 50% still allow 24-76%.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from personaforge.atomic import atomic_write_text
from personaforge.errors import UserError
from personaforge.paths import Paths

KINDS = {
    "real": ("your real reply", "the persona"),  # (what the right pick is, what the other is)
    "base": ("the persona", "the base model"),
}
Z95 = 1.959964


@dataclass(frozen=True)
class Pair:
    id: str  # version:kind:index
    version: str
    kind: str  # "real" or "base"
    prompt: str
    a: str
    b: str
    right: str  # "a" or "b": the real reply ("real") or the persona's answer ("base")


def answers_path(paths: Paths) -> Path:
    return paths.home / "blindtest" / "answers.jsonl"


def _evaluation(paths: Paths, version: str) -> dict[str, Any]:
    path = paths.adapters / version / "evaluation.json"
    if not path.exists():
        raise UserError(
            f"{version} has not been evaluated; run `personaforge eval {version}` first"
        )
    return json.loads(path.read_text())


def _eval_rows(paths: Paths, version: str) -> list[dict[str, Any]]:
    card = json.loads((paths.adapters / version / "personaforge.json").read_text())
    path = paths.datasets / card["dataset"]["id"] / "eval.jsonl"
    if not path.exists():
        raise UserError(f"the dataset {version} was evaluated on is gone ({path})")
    return [json.loads(line) for line in path.read_text().splitlines()]


def _order(pair_id: str, seed: int) -> bool:
    """True: the right answer shows as A. Fixed per pair, half and half over pairs."""
    return hashlib.sha256(f"{seed}\0{pair_id}".encode()).digest()[0] < 128


def blind_pairs(
    paths: Paths, version: str, kinds: tuple[str, ...] = ("real", "base"), seed: int = 0
) -> list[Pair]:
    """Every pair of `kinds` for `version`, in a seeded shuffled order."""
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise UserError(f"unknown pair kind '{unknown[0]}'; choose {', '.join(KINDS)}")
    metrics = _evaluation(paths, version)["metrics"]
    persona, base = metrics["candidate"].get("answers"), metrics["base"].get("answers")
    if not persona or not base:
        raise UserError(
            f"{version}'s evaluation holds no decoded answers (made before the voice check); "
            f"run `personaforge eval {version} --no-apply` again"
        )
    rows = _eval_rows(paths, version)[: len(persona)]
    pairs = []
    for index, row in enumerate(rows):
        prompt = row["messages"][-2]["content"]
        sides = {"real": (row["messages"][-1]["content"], persona[index])}
        sides["base"] = (persona[index], base[index])
        for kind in kinds:
            right, other = sides[kind]
            if not right.strip() or not other.strip() or right.strip() == other.strip():
                continue  # an empty or identical answer cannot be told apart fairly
            pair_id = f"{version}:{kind}:{index}"
            first = _order(pair_id, seed)
            a, b = (right, other) if first else (other, right)
            pairs.append(Pair(pair_id, version, kind, prompt, a, b, "a" if first else "b"))
    random.Random(seed).shuffle(pairs)
    return pairs


def read_answers(paths: Paths) -> list[dict[str, Any]]:
    path = answers_path(paths)
    if not path.exists():
        return []
    found = []
    for line in path.read_text().splitlines():
        try:
            found.append(json.loads(line))
        except ValueError:
            continue  # a hand-edited line; every write is whole
    return found


def record(paths: Paths, pair: Pair, picked: str) -> dict[str, Any]:
    """Keep one pick ("a" or "b"); the file is rewritten atomically, a crash keeps the old one."""
    if picked not in ("a", "b"):
        raise UserError(f"pick a or b, not '{picked}'")
    answer = {
        "pair": pair.id,
        "version": pair.version,
        "kind": pair.kind,
        "picked": picked,
        "right": picked == pair.right,
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    lines = [json.dumps(a) for a in read_answers(paths) if a.get("pair") != pair.id]
    atomic_write_text(
        answers_path(paths), "".join(line + "\n" for line in [*lines, json.dumps(answer)])
    )
    return answer


def wilson(right: int, n: int) -> tuple[float, float]:
    """The Wilson score 95% interval of a binomial proportion (0, 1 when n is 0)."""
    if n == 0:
        return 0.0, 1.0
    p = right / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n**2)) / (1 + Z95**2 / n)
    return round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)


@dataclass
class KindSummary:
    kind: str
    n: int
    right: int
    accuracy: float | None
    interval: tuple[float, float]
    meaning: str

    def line(self) -> str:
        if not self.n:
            return f"{self.kind}: no picks yet"
        low, high = self.interval
        return (
            f"{self.kind}: {self.right}/{self.n} right, accuracy {self.accuracy:.0%} "
            f"(95% interval {low:.0%}-{high:.0%}); {self.meaning}"
        )


def summary(paths: Paths, version: str) -> list[KindSummary]:
    """Accuracy per kind over every pick kept for `version`."""
    answers = [a for a in read_answers(paths) if a.get("version") == version]
    found = []
    for kind, (right_side, other) in KINDS.items():
        picks = [a for a in answers if a.get("kind") == kind]
        right = sum(bool(a.get("right")) for a in picks)
        low, high = wilson(right, len(picks))
        if kind == "real":
            meaning = (
                f"picking {right_side} over {other}: near 50% means you cannot tell them apart"
            )
        else:
            meaning = f"picking {right_side} over {other}: above 50% means it sounds more like you"
        accuracy = round(right / len(picks), 4) if picks else None
        found.append(KindSummary(kind, len(picks), right, accuracy, (low, high), meaning))
    return found


def next_pair(paths: Paths, version: str, seed: int = 0) -> tuple[Pair | None, int, int]:
    """The first pair not answered yet, and (answered, total)."""
    pairs = blind_pairs(paths, version, seed=seed)
    done = {a.get("pair") for a in read_answers(paths)}
    waiting = [p for p in pairs if p.id not in done]
    return (waiting[0] if waiting else None), len(pairs) - len(waiting), len(pairs)


def as_dict(items: list[KindSummary]) -> list[dict[str, Any]]:
    return [asdict(item) for item in items]
