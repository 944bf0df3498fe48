"""Build a dataset: select memories, extract examples, curate, split, write.

    result = build_dataset(store, settings, paths, DatasetRequest(plan=MixPlan("foundation")))

The folder `$PERSONAFORGE_HOME/datasets/<id>/` holds train.jsonl, eval.jsonl,
preference.jsonl, preference_eval.jsonl and manifest.json. It appears
atomically. The id is a hash of the files' contents, so rebuilding from the
same memories with the same settings gives the same id (and reuses the folder).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from personaforge.atomic import atomic_directory, atomic_write_text
from personaforge.config import DatasetSettings, Settings
from personaforge.dataset.code import apply_code_policy
from personaforge.dataset.curate import (
    Curated,
    TokenCounter,
    curate,
    estimated_token_counter,
    quality,
    similar_to_any,
)
from personaforge.dataset.examples import KINDS, Example, dumps
from personaforge.dataset.extract import ExtractContext, conversations_of, extract
from personaforge.dataset.mix import MixPlan, is_eval, select, split_bucket, split_group
from personaforge.dataset.privacy import scan_memories
from personaforge.dataset.synth import TeacherClient, teacher_pairs
from personaforge.diskfull import writing
from personaforge.errors import UserError
from personaforge.paths import Paths
from personaforge.store import Memory, MemoryStore

FILES = ("train.jsonl", "eval.jsonl", "preference.jsonl", "preference_eval.jsonl")
MANIFEST = "manifest.json"
REVIEW = "review.md"


# Rows a higher layer adds to the training file after the split, called with (the selected
# memories, the ids of memories held out for evaluation, the persona prompt, the token
# counter, the number of rows already in the training file): serve/grounded.py's grounded
# rows. Each row's meta.from is counted in the manifest.
ExtraRows = Callable[[list[Memory], set[str], str, TokenCounter, int], list[Example]]


@dataclass
class DatasetRequest:
    plan: MixPlan
    kinds: list[str] = field(default_factory=lambda: list(KINDS))
    teacher: str | None = None
    review: bool = False
    extra_rows: ExtraRows | None = None


@dataclass
class DatasetResult:
    id: str
    folder: Path
    manifest: dict[str, Any]
    reused: bool


def split_examples(
    examples: list[Example], settings: DatasetSettings
) -> tuple[dict[str, list[Example]], dict[str, int]]:
    """Train/eval files by whole groups (mix.split_group), then two honesty fixes, counted.

    - preference: at least `preference_eval_min` pairs are held out when there are
      twice as many; with 16 pairs a 10% hash alone leaves none about a fifth of the time;
    - SFT: a held-out example nearly repeating a training one is dropped from eval (and
      not trained either, so a held-out group stays held out in every dataset built from
      the store): the style number then measures the person's voice on new text, not recall.
    """
    files: dict[str, list[Example]] = {name: [] for name in FILES}
    for example in examples:
        held_out = is_eval(split_group(example.primary), settings.eval_fraction)
        if example.kind == "preference":
            files["preference_eval.jsonl" if held_out else "preference.jsonl"].append(example)
        else:
            files["eval.jsonl" if held_out else "train.jsonl"].append(example)
    moved = _hold_out_preferences(files, settings.preference_eval_min)
    repeats = _drop_eval_repeats(files, settings)
    return files, {"preference_pairs_moved_to_eval": moved, "eval_repeats_dropped": repeats}


def _hold_out_preferences(files: dict[str, list[Example]], minimum: int) -> int:
    train, held = files["preference.jsonl"], files["preference_eval.jsonl"]
    if len(held) >= minimum or len(train) + len(held) < 2 * minimum:
        return 0
    by_bucket = sorted(train, key=lambda e: (split_bucket(split_group(e.primary)), e.id))
    chosen = by_bucket[: minimum - len(held)]
    held.extend(chosen)
    files["preference.jsonl"] = [e for e in train if e not in chosen]
    return len(chosen)


def _drop_eval_repeats(files: dict[str, list[Example]], settings: DatasetSettings) -> int:
    held = files["eval.jsonl"]
    repeats = similar_to_any(
        [e.target for e in files["train.jsonl"]],
        [e.target for e in held],
        settings.eval_near_duplicate_threshold,
        settings.minhash_permutations,
    )
    files["eval.jsonl"] = [e for e, repeat in zip(held, repeats, strict=True) if not repeat]
    return sum(repeats)


def _render(examples: list[Example]) -> str:
    return "".join(dumps(example.to_record()) + "\n" for example in examples)


def write_dataset(
    paths: Paths, contents: dict[str, str], manifest: dict[str, Any], review_text: str | None = None
) -> DatasetResult:
    """Write the files under a content-derived id; an identical dataset is reused, not rewritten."""
    hashes = {name: hashlib.sha256(text.encode()).hexdigest() for name, text in contents.items()}
    dataset_id = (
        "ds-" + hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()[:12]
    )
    folder = paths.datasets / dataset_id
    manifest = {
        "id": dataset_id,
        **manifest,
        "files": {n: {"sha256": h, "examples": contents[n].count("\n")} for n, h in hashes.items()},
    }
    if (folder / MANIFEST).exists():
        return DatasetResult(
            dataset_id, folder, json.loads((folder / MANIFEST).read_text()), reused=True
        )
    size = sum(len(t.encode()) for t in contents.values()) + len(review_text or "") + 16_384
    with writing(folder, size), atomic_directory(folder) as staging:  # 16 KiB: the manifest
        for name, text in contents.items():
            (staging / name).write_text(text, encoding="utf-8")
        if review_text is not None:
            (staging / REVIEW).write_text(review_text, encoding="utf-8")
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    atomic_write_text(paths.datasets / "LATEST", dataset_id + "\n")
    return DatasetResult(dataset_id, folder, manifest, reused=False)


def build_dataset(
    store: MemoryStore,
    settings: Settings,
    paths: Paths,
    request: DatasetRequest,
    count_tokens: TokenCounter | None = None,
    tokenizer_name: str | None = None,
) -> DatasetResult:
    unknown = [k for k in request.kinds if k not in KINDS]
    if unknown:
        raise UserError(f"unknown example kind {unknown[0]!r}; choose from {', '.join(KINDS)}")
    every = store.memories()
    if not every:
        raise UserError("the memory store is empty; run `personaforge ingest PATH` first")
    selection = select(every, request.plan)
    context = ExtractContext(settings.dataset, conversations_of(every))
    teacher_report = None
    if request.teacher and "knowledge" in request.kinds:
        client = TeacherClient(request.teacher, settings.dataset, paths.teacher_cache)
        context.teacher_pairs = teacher_pairs(selection.memories, client)
        teacher_report = client.report.as_dict()
    candidates = extract(selection.memories, request.kinds, context)
    candidates, code = apply_code_policy(
        candidates, settings.dataset.code, context.chat, count_tokens or estimated_token_counter
    )
    policy = settings.privacy.model_dump()
    curated = curate(
        candidates, settings.dataset, policy, settings.train.max_seq_length, count_tokens
    )
    mark_new(curated.kept, selection.new)
    files, split_stats = split_examples(curated.kept, settings.dataset)
    if request.extra_rows is not None and "knowledge" in request.kinds:
        held_out = {m.id for example in files["eval.jsonl"] for m in example.memories}
        counter = count_tokens or estimated_token_counter
        added = request.extra_rows(
            selection.memories,
            held_out,
            context.system_prompt,
            counter,
            len(files["train.jsonl"]),
        )
        mark_new(added, selection.new)
        files["train.jsonl"].extend(added)
        for row in added:
            origin = row.extra.get("from", "added")
            split_stats[origin] = split_stats.get(origin, 0) + 1
    metrics, warnings = quality(curated.kept, curated)
    run = BuildRun(request, settings, selection, candidates, curated, files, tokenizer_name)
    run.split_stats = split_stats
    run.metrics, run.warnings = metrics, warnings
    run.code = code.as_dict()
    run.teacher_report = teacher_report
    run.watermark = store_watermark(every)
    run.findings = scan_memories(selection.memories, policy)
    manifest = _manifest(run, store)
    contents = {name: _render(examples) for name, examples in files.items()}
    review_text = review_document(files) if request.review else None
    return write_dataset(paths, contents, manifest, review_text)


def mark_new(examples: list[Example], new: frozenset[str]) -> None:
    """meta.new on examples of memories the current version never learned (the gate's new month)."""
    for example in examples:
        if example.primary.id in new:
            example.extra["new"] = True


def store_watermark(memories) -> str | None:
    """The latest write among these memories: anything written after it is new to a version."""
    return max((m.updated_at for m in memories), default=None)


@dataclass
class BuildRun:
    """Everything one build learned, for its manifest."""

    request: DatasetRequest
    settings: Settings
    selection: Any
    candidates: list[Example]
    curated: Curated
    files: dict[str, list[Example]]
    tokenizer_name: str | None
    metrics: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    teacher_report: dict[str, Any] | None = None
    findings: list[dict[str, str]] = field(default_factory=list)
    split_stats: dict[str, int] = field(default_factory=dict)
    watermark: str | None = None
    code: dict[str, Any] = field(default_factory=dict)  # dataset/code.py's report


def _manifest(run: BuildRun, store: MemoryStore) -> dict[str, Any]:
    request, settings, selection, curated = run.request, run.settings, run.selection, run.curated
    findings, candidates, files = run.findings, run.candidates, run.files
    by_kind: dict[str, int] = {}
    for finding in findings:
        by_kind[finding["kind"]] = by_kind.get(finding["kind"], 0) + 1
    actions: dict[str, int] = {}
    for finding in curated.findings:
        actions[f"{finding.kind}:{finding.action}"] = (
            actions.get(f"{finding.kind}:{finding.action}", 0) + 1
        )
    return {
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "parameters": {
            "mix": request.plan.describe(),
            "kinds": request.kinds,
            "teacher": request.teacher,
            "eval_fraction": settings.dataset.eval_fraction,
            "eval_split": "whole notes, conversations and days (stable hash)",
            "max_seq_length": settings.train.max_seq_length,
            "near_duplicate_threshold": settings.dataset.near_duplicate_threshold,
            "privacy_policy": settings.privacy.model_dump(),
            "tokenizer": run.tokenizer_name or "estimate (4 characters per token)",
        },
        "selection": {
            "memories": len(selection.memories),
            "recent": selection.recent,
            "old_sampled": selection.old_sampled,
            "old_available": selection.old_available,
            "cutoff": selection.cutoff,
            "since": request.plan.since,
            "since_version": request.plan.since_version,
            "new": len(selection.new),
        },
        "counts": {
            "candidates": len(candidates),
            "candidates_by_kind": {k: sum(e.kind == k for e in candidates) for k in request.kinds},
            "dropped": dict(curated.dropped),
            "split_over_length": curated.split,
            "dialogues_trimmed": curated.trimmed,
            "kept": len(curated.kept),
            **{name.removesuffix(".jsonl"): len(examples) for name, examples in files.items()},
            **run.split_stats,
        },
        "metrics": run.metrics,
        # Code blocks and command output in the replies, before dataset.code acted, and what it did.
        "code": run.code,
        "warnings": run.warnings,
        # Findings: every secret in the selected memories, with the locator to fix it at the source.
        # Actions: what the policy did to the examples that carried one.
        "privacy": {
            "findings": len(findings),
            "by_kind": by_kind,
            "list": findings,
            "example_actions": actions,
            "examples_dropped": curated.dropped.get("privacy", 0),
        },
        "teacher": run.teacher_report,
        "provenance": {
            "store": str(store.path),
            "store_state": store_state(store),
            "store_watermark": run.watermark,
            "memories_in_store": store.count(),
            "last_ingest": (store.last_run() or {}).get("started_at"),
        },
    }


def store_state(store: MemoryStore) -> str:
    """A hash of every live memory's id and content: equal hashes, nothing new to learn (`run`)."""
    digest = hashlib.sha256()
    rows = store.db.execute(
        "SELECT id, content_hash FROM memories WHERE deleted_at IS NULL ORDER BY id"
    )
    for memory_id, content_hash in rows:
        digest.update(f"{memory_id}:{content_hash}\n".encode())
    return digest.hexdigest()


# -- listing and reading ---------------------------------------------------------------------------


def latest_id(paths: Paths) -> str | None:
    marker = paths.datasets / "LATEST"
    return marker.read_text().strip() if marker.exists() else None


def load_manifest(paths: Paths, dataset_id: str | None = None) -> dict[str, Any]:
    dataset_id = dataset_id or latest_id(paths)
    if dataset_id is None:
        raise UserError("no dataset yet; run `personaforge dataset build` first")
    path = paths.datasets / dataset_id / MANIFEST
    if not path.exists():
        raise UserError(f"no dataset '{dataset_id}'; see `personaforge dataset list`")
    return json.loads(path.read_text())


def list_datasets(paths: Paths) -> list[dict[str, Any]]:
    if not paths.datasets.exists():
        return []
    manifests = [json.loads(p.read_text()) for p in paths.datasets.glob(f"ds-*/{MANIFEST}")]
    return sorted(manifests, key=lambda m: m["created_at"], reverse=True)


# -- review ---------------------------------------------------------------------------------------------


def review_document(files: dict[str, list[Example]]) -> str:
    """A markdown file a person can read and edit: untick an example to leave it out."""
    lines = [
        "# Dataset review",
        "",
        "Untick (`[ ]`) every example that should not be trained on, then run",
        "`personaforge dataset review apply THIS_FILE`. Nothing else in this file is read.",
        "",
    ]
    for name, examples in files.items():
        for example in examples:
            lines.append(
                f"## [x] {example.id} · {example.kind} · {name} · {example.primary.created_at[:10]}"
            )
            for message in example.messages[1:]:
                lines.append(f"**{message['role']}**: " + message["content"].replace("\n", "\n> "))
            if example.chosen is not None:
                lines += [f"**chosen**: {example.chosen}", f"**rejected**: {example.rejected}"]
            lines.append("")
    return "\n".join(lines)


def apply_review(paths: Paths, review_file: Path) -> DatasetResult:
    """A new dataset holding only the examples left ticked in `review_file`."""
    if not review_file.exists():
        raise UserError(f"no such review file: {review_file}")
    folder = review_file.resolve().parent
    if not (folder / MANIFEST).exists():
        raise UserError(f"{review_file} is not inside a dataset folder (no {MANIFEST} beside it)")
    entries = re.findall(r"^## \[([ xX])\] ([0-9a-f]{16}) ", review_file.read_text(), re.M)
    if not entries:
        raise UserError(f"{review_file} holds no review entries ('## [x] <id> ...')")
    accepted = {example_id for mark, example_id in entries if mark in "xX"}
    parent = json.loads((folder / MANIFEST).read_text())
    contents = {}
    for name in FILES:
        path = folder / name
        rows = path.read_text().splitlines() if path.exists() else []
        contents[name] = "".join(
            row + "\n" for row in rows if json.loads(row)["meta"]["id"] in accepted
        )
    rejected = sum(mark == " " for mark, _ in entries)
    manifest = {
        **{k: v for k, v in parent.items() if k not in ("id", "files")},
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "parent": parent["id"],
        "review": {"accepted": len(accepted), "rejected": rejected},
    }
    return write_dataset(paths, contents, manifest)
