"""Benchmark: precision and recall of the profile's deterministic extractor, printed as JSON.

    .venv/bin/python bench/profile_facts.py                 # sample seeds 7, 8 and 9
    .venv/bin/python bench/profile_facts.py --seeds 7

For each seed: write the sample person's data, ingest it into an empty home,
build the profile with the rules alone (no teacher, no probe) and compare its
facts with the sample generator's ground truth: the manifest's `facts`
(persona.FACTS, true at the end of the period) and `fact_history` (a value
with the dates it held, e.g. Rotterdam until 2026-09-26, then Delft).

Matching rule
-------------
MATCH below gives, for every ground-truth key, the profile slot(s) that may
hold it and an anchor: the words that identify the value (checked to occur in
the ground-truth text, so the table cannot drift from the persona). A profile
fact matches a ground-truth fact when

1. its key is one of those slots,
2. its value contains the anchor (case-insensitive, as whole words), and
3. its status agrees: a `facts` entry or a history entry without `until` must
   be current; a history entry with `until` must be superseded.

recall = ground-truth facts matched / ground-truth facts.

precision is measured on the profile's keyed facts (quoted statements such as
opinions are the person's own sentences and are not judged) whose key is a slot
in MATCH. Such a fact is correct when it matches a ground-truth fact. When it
does not, it is wrong if its slot holds one value (where she lives, works, her
editor) or names a role or thing (`relationship:sister`, `named:starter`),
because the ground truth is complete there; in an open-ended slot (projects,
decisions, dates, routines, languages) the ground truth lists one example, so
an unmatched fact is `unjudged` and listed in the output for a person to check.

    precision        = correct / (correct + wrong)
    precision_strict = correct / (correct + wrong + unjudged)   (a lower bound)

Change dates: for each superseded history value, whether the profile's
`changed_on` equals its `until` (reported, not part of precision).
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import tempfile
import time
from pathlib import Path

from personaforge.config import IngestSettings, Settings
from personaforge.ingest import ingest
from personaforge.paths import Paths
from personaforge.profile import Fact, build_profile
from personaforge.profile.facts import slot_of
from personaforge.sample import sample_identity, write_sample_data
from personaforge.store import MemoryStore

MATCH: dict[str, list[tuple[str, str]]] = {
    "job": [("employer", "Kestrel"), ("role", "backend engineer")],
    "hometown": [("hometown", "Bergen")],
    "side_project": [("project", "Tidewatch")],
    "database_choice": [("decision", "SQLite")],
    "race": [("event", "Maas half marathon")],
    "language": [("learning", "Dutch")],
    "starter": [("named:starter", "Gus")],
    "sister": [("relationship:sister", "Ingrid")],
    "team_lead": [("relationship:team lead", "Priya"), ("relationship:manager", "Priya")],
    "editor": [("editor", "Neovim")],
    "morning_habit": [("habit", "morning pages")],
    "review_habit": [("habit", "weekly review")],
}
TARGETS = {"precision": 0.9, "recall": 0.7}


def contains(value: str, anchor: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(anchor.casefold())}(?!\w)", value.casefold()) is not None


def ground_truth(manifest: dict) -> list[dict]:
    """Every ground-truth fact with its slots, anchor and expected status."""
    truth = []
    for key, value in manifest["facts"].items():
        rules = MATCH[key]  # a new persona fact needs a row in MATCH: fail loudly
        for _, anchor in rules:
            if not contains(value, anchor):
                raise SystemExit(f"anchor {anchor!r} is not in the ground truth {key}: {value!r}")
        truth.append({"id": key, "value": value, "rules": rules, "status": "current"})
    for entry in manifest.get("fact_history", []):
        truth.append(
            {
                "id": f"{entry['key']}={entry['value']}",
                "value": entry["value"],
                "rules": [(entry["key"], entry["value"])],
                "status": "superseded" if entry["until"] else "current",
                "until": entry["until"],
            }
        )
    return truth


def matches(fact: Fact, truth: dict) -> bool:
    return fact.status == truth["status"] and any(
        fact.key == slot and contains(fact.value, anchor) for slot, anchor in truth["rules"]
    )


def score(facts: list[Fact], truth: list[dict]) -> dict:
    slots = {slot for t in truth for slot, _ in t["rules"]}
    keyed = [f for f in facts if not f.statement]
    found = {t["id"]: next((f for f in keyed if matches(f, t)), None) for t in truth}
    correct, wrong, unjudged = [], [], []
    for fact in keyed:
        if fact.key not in slots:
            continue
        if any(matches(fact, t) for t in truth):
            correct.append(fact)
        elif slot_of(fact.key).single or ":" in fact.key:
            wrong.append(fact)
        else:
            unjudged.append(fact)
    dates = {
        t["id"]: {
            "until": t["until"],
            "changed_on": found[t["id"]].changed_on if found[t["id"]] else None,
        }
        for t in truth
        if t.get("until")
    }
    judged = len(correct) + len(wrong)
    return {
        "recall": round(sum(f is not None for f in found.values()) / len(truth), 3),
        "precision": round(len(correct) / judged, 3) if judged else None,
        "precision_strict": round(len(correct) / (judged + len(unjudged)), 3) if judged else None,
        "ground_truth": len(truth),
        "matched": {
            k: (f"{f.key}: {f.value} ({f.status})" if f else None) for k, f in found.items()
        },
        "correct": len(correct),
        "wrong": [f"{f.key}: {f.value} ({f.status})" for f in wrong],
        "unjudged": [f"{f.key}: {f.value} ({f.status})" for f in unjudged],
        "outside_ground_truth": sum(f.key not in slots for f in keyed),
        "statements": len(facts) - len(keyed),
        "change_dates_exact": sum(d["until"] == d["changed_on"] for d in dates.values()),
        "change_dates": dates,
    }


def run_seed(seed: int, root: Path) -> dict:
    data, paths = root / f"data-{seed}", Paths(root / f"home-{seed}")
    manifest = write_sample_data(data, seed=seed)
    with MemoryStore.open(paths.memory_store) as store:
        ingest([data], store, IngestSettings(), identity=sample_identity(), show_progress=False)
    started = time.perf_counter()
    profile = build_profile(paths, Settings(), probe=False)
    seconds = time.perf_counter() - started
    result = score(profile.facts, ground_truth(manifest))
    return {
        "seed": seed,
        "memories": profile.memories,
        "facts": len(profile.facts),
        "build_s": round(seconds, 3),
        **result,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = [run_seed(seed, Path(tmp)) for seed in args.seeds]
    mean = {
        name: round(sum(r[name] for r in runs) / len(runs), 3)
        for name in ("precision", "precision_strict", "recall")
    }
    print(
        json.dumps(
            {
                "bench": "profile",
                "extractor": "rules (deterministic, offline)",
                "python": platform.python_version(),
                "mean": mean,
                "targets": TARGETS,
                "meets_targets": mean["precision"] >= TARGETS["precision"]
                and mean["recall"] >= TARGETS["recall"],
                "runs": runs,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
