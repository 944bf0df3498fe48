"""`personaforge forget`: take memories out of the store, the datasets and every model, and prove it.

    report = forget(paths, settings, memories, ForgetRequest("notes/ingrid.md"))

Exact retraining without the data is the only removal research trusts
(approximate unlearning leaves traces a membership test can measure), so:

1. **Store**: the memories are deleted (rows and full-text index) and their text
   hashes become tombstones, so re-ingesting the note, unchanged or copied
   elsewhere, never brings it back.
2. **Datasets**: every example built from them is removed from every dataset
   file; caches that may hold their words (evaluation, teacher) are cleared.
3. **Versions**: every version that learned from them, directly or through a
   parent, is flagged "contains forgotten data"; `current` moves to the newest
   promoted version that never saw them (or the base); flagged versions are not
   served, and exported only with --allow-forgotten; their exports in the home
   are deleted.
4. **Retrain**: `personaforge run` from the dataset stage, on a foundation
   dataset of what remains, starting from the version `current` moved to,
   through the normal gate.
5. **Verify**, old version against new: (a) regurgitation: greedy answers to
   prompts built from the forgotten examples must share no 8-token run with the
   forgotten text; (b) membership: the per-token loss on the forgotten examples
   against held-out examples the models never trained on, minus the same
   difference for the bare base (which saw neither, so its difference is only how
   hard the two sets are). The old version finds what it memorised easier (a
   positive gap); after forgetting, the gap must be indistinguishable from zero
   (within two standard errors of the held-out losses).
6. **Audit**: the forget is recorded (counts, memory ids, sources, versions,
   numbers) without the forgotten text.
"""

from __future__ import annotations

import json
import math
import shutil
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from personaforge.atomic import atomic_directory
from personaforge.config import Settings
from personaforge.errors import UserError
from personaforge.paths import Paths
from personaforge.provenance import provenance
from personaforge.store import Memory, MemoryStore

REGURGITATION_NGRAM = 8  # tokens in a row shared with the forgotten text that count as reproduced
MEMBERSHIP_REFERENCE = 24  # held-out examples the forgotten ones are compared with
DATASET_FILES = ("train.jsonl", "eval.jsonl", "preference.jsonl", "preference_eval.jsonl")


@dataclass
class ForgetRequest:
    request: str  # what the user named: a path, an id, or "search" (never the search text)
    dry_run: bool = False
    retrain: bool = True


@dataclass
class Verification:
    version: str
    reproduced: int  # prompts whose answer shares an 8-token run with the forgotten text
    prompts: int
    forgotten_loss: float  # mean per-token loss on the forgotten examples
    heldout_loss: float  # mean per-token loss on never-trained held-out examples
    # (heldout - forgotten) for this version minus the same for the bare base, which saw
    # neither set: > 0 means the forgotten examples look familiar to this version.
    gap: float
    noise: float  # two standard errors of the held-out losses, scaled to the forgotten set

    @property
    def separated(self) -> bool:
        return self.gap > self.noise


@dataclass
class ForgetReport:
    memories: int
    memory_ids: list[str]
    sources: dict[str, int]
    examples_removed: int = 0
    datasets_changed: list[str] = field(default_factory=list)
    versions_flagged: dict[str, str] = field(default_factory=dict)  # version -> how it learned
    current_before: str | None = None
    current_after: str | None = None
    exports_removed: list[str] = field(default_factory=list)
    new_version: str | None = None
    run_status: str | None = None
    verification: list[Verification] = field(default_factory=list)
    forget_id: int | None = None
    dry_run: bool = False

    @property
    def proven(self) -> bool | None:
        """Old separated (or never shown to be) and new indistinguishable and silent."""
        if not self.verification:
            return None
        new = self.verification[-1]
        return new.reproduced == 0 and not new.separated

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["verification"] = [{**asdict(v), "separated": v.separated} for v in self.verification]
        data["proven"] = self.proven
        return data


# -- what goes -------------------------------------------------------------------------------------


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def forgotten_examples(paths: Paths, memory_ids: set[str]) -> list[dict[str, Any]]:
    """The SFT examples the versions trained on that came from these memories (kept in memory only)."""
    found: dict[str, dict[str, Any]] = {}
    for folder in sorted(paths.datasets.glob("ds-*")) if paths.datasets.exists() else []:
        for row in _rows(folder / "train.jsonl"):
            if memory_ids & set(row["meta"].get("memory_ids", [])):
                found.setdefault(row["meta"]["id"], row)
    return list(found.values())


def reference_examples(paths: Paths, memory_ids: set[str], limit: int) -> list[dict[str, Any]]:
    """Held-out examples no version trained on: the latest dataset's eval split."""
    from personaforge.dataset.build import latest_id

    dataset = latest_id(paths)
    if dataset is None:
        return []
    rows = _rows(paths.datasets / dataset / "eval.jsonl")
    return [r for r in rows if not memory_ids & set(r["meta"].get("memory_ids", []))][:limit]


def scrub_datasets(paths: Paths, memory_ids: set[str], forget_id: int) -> tuple[int, list[str]]:
    """Remove every example built from the memories from every dataset, atomically per dataset."""
    import hashlib

    removed, changed = 0, []
    for folder in sorted(paths.datasets.glob("ds-*")) if paths.datasets.exists() else []:
        contents, dropped = {}, 0
        for name in DATASET_FILES:
            rows = _rows(folder / name)
            kept = [r for r in rows if not memory_ids & set(r["meta"].get("memory_ids", []))]
            dropped += len(rows) - len(kept)
            contents[name] = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept)
        if not dropped:
            continue
        manifest = json.loads((folder / "manifest.json").read_text())
        for name, text in contents.items():
            manifest["files"][name] = {
                "sha256": hashlib.sha256(text.encode()).hexdigest(),
                "examples": text.count("\n"),
            }
        manifest.setdefault("forgotten", []).append({"forget": forget_id, "examples": dropped})
        with atomic_directory(folder) as staging:
            for child in folder.iterdir():
                if child.is_file() and child.name not in contents and child.name != "review.md":
                    shutil.copy2(child, staging / child.name)
            for name, text in contents.items():
                (staging / name).write_text(text, encoding="utf-8")
            (staging / "manifest.json").write_text(
                json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
            )
        removed += dropped
        changed.append(folder.name)
    return removed, changed


def clear_caches(paths: Paths) -> None:
    """Caches whose entries may carry the forgotten words: measurements and teacher answers."""
    for folder in (paths.home / "cache" / "eval", paths.teacher_cache):
        if folder.exists():
            shutil.rmtree(folder)


def remove_exports(paths: Paths, versions: list[str]) -> list[str]:
    exports = paths.home / "exports"
    gone = []
    for version in versions:
        for folder in sorted(exports.glob(f"{version}-*")) if exports.exists() else []:
            shutil.rmtree(folder)
            gone.append(folder.name)
    return gone


# -- verification ---------------------------------------------------------------------------------


def _token_ngrams(tokenizer, texts: list[str], size: int) -> set[tuple[int, ...]]:
    from personaforge.evaluate import ngrams

    grams: set[tuple[int, ...]] = set()
    for text in texts:
        grams |= ngrams(tokenizer(text, add_special_tokens=False)["input_ids"], size)
    return grams


def _mean_losses(model, tokenizer, rows: list[dict[str, Any]], max_length: int) -> list[float]:
    from personaforge.evaluate.measure import losses, reply_tokens

    scored = losses(model, [reply_tokens(tokenizer, r["messages"], max_length) for r in rows])
    return [total / count for total, count in scored if count]


def verify_version(
    paths: Paths,
    settings: Settings,
    version: str,
    forgotten: list[dict[str, Any]],
    forgotten_texts: list[str],
    reference: list[dict[str, Any]],
) -> Verification:
    """Regurgitation and membership numbers for one version (base + its adapter)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from personaforge.base import resolve_base
    from personaforge.evaluate import generate_many, ngrams
    from personaforge.registry import read_card

    folder = paths.adapters / version
    card = read_card(folder)
    ref = resolve_base(card["base"]["name"], paths, card["base"].get("revision"))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(ref.location)
    model = PeftModel.from_pretrained(model, str(folder)).eval()
    max_length = settings.train.max_seq_length
    texts = _token_ngrams(tokenizer, forgotten_texts, REGURGITATION_NGRAM)
    prompts = [row["messages"][:-1] for row in forgotten]
    answers = generate_many(model, tokenizer, prompts, settings.gate.max_new_tokens)
    reproduced = sum(bool(ngrams(tokens, REGURGITATION_NGRAM) & texts) for _, tokens in answers)
    ours = _mean_losses(model, tokenizer, forgotten, max_length)
    theirs = _mean_losses(model, tokenizer, reference, max_length)
    with model.disable_adapter():  # the base never saw either set: its gap is the sets' difficulty
        base_gap = statistics.fmean(_mean_losses(model, tokenizer, reference, max_length)) - (
            statistics.fmean(_mean_losses(model, tokenizer, forgotten, max_length))
        )
    mean_forgotten, mean_heldout = statistics.fmean(ours), statistics.fmean(theirs)
    spread = statistics.stdev(theirs) if len(theirs) > 1 else 0.0
    noise = 2 * spread / math.sqrt(len(ours))  # the forgotten set's mean, if it were held out
    return Verification(
        version,
        reproduced,
        len(prompts),
        round(mean_forgotten, 4),
        round(mean_heldout, 4),
        round(mean_heldout - mean_forgotten - base_gap, 4),
        round(noise, 4),
    )


# -- the whole forget ------------------------------------------------------------------------------


def forget(
    paths: Paths, settings: Settings, memories: list[Memory], request: ForgetRequest, reporter=None
) -> ForgetReport:
    from personaforge.registry import Registry

    if not memories:
        raise UserError("nothing matched: no memory to forget")
    ids = [m.id for m in memories]
    sources: dict[str, int] = {}
    for memory in memories:
        sources[memory.source] = sources.get(memory.source, 0) + 1
    found = provenance(paths, ids)
    report = ForgetReport(len(ids), ids, sources, versions_flagged=found.versions)
    report.examples_removed = sum(
        len(rows) for use in found.datasets for rows in use.trained.values()
    ) + sum(len(use.measured) for use in found.datasets)
    with Registry.open(paths) as registry:
        report.current_before = registry.current()
    if request.dry_run:
        report.dry_run = True
        return report
    # What the verification needs is read now, kept in memory, and never written anywhere.
    wanted = set(ids)
    examples = forgotten_examples(paths, wanted)
    texts = [m.text for m in memories]
    reference = reference_examples(paths, wanted, MEMBERSHIP_REFERENCE)

    with MemoryStore.open(paths.memory_store) as store, store.batch():
        forget_id = store.record_forget(request.request, {"state": "started", "memories": len(ids)})
        store.forget(ids, forget_id)
    report.forget_id = forget_id
    report.examples_removed, report.datasets_changed = scrub_datasets(paths, wanted, forget_id)
    clear_caches(paths)
    flagged = list(found.versions)
    with Registry.open(paths) as registry:
        report.current_after = registry.mark_forgotten(flagged, f"forget {forget_id}")
    report.exports_removed = remove_exports(paths, flagged)

    old = report.current_before if report.current_before in flagged else None
    if request.retrain and flagged:
        _retrain(paths, settings, report, reporter)
    if examples and reference:
        for version in [old, report.new_version]:
            if version:
                report.verification.append(
                    verify_version(paths, settings, version, examples, texts, reference)
                )
    with MemoryStore.open(paths.memory_store) as store:
        store.update_forget(forget_id, _audit(report))
    return report


def _retrain(paths: Paths, settings: Settings, report: ForgetReport, reporter) -> None:
    """The normal cycle from the dataset stage, on everything that remains, from the safe version."""
    from personaforge.pipeline import RunRequest, run_pipeline
    from personaforge.registry import Registry

    with Registry.open(paths) as registry:
        before = {v.name for v in registry.versions()}
    record = run_pipeline(
        paths,
        settings,
        RunRequest(trigger="forget", from_stage="dataset", force=True, foundation=True),
        reporter,
    )
    report.run_status = record.status
    with Registry.open(paths) as registry:
        made = [v for v in registry.versions() if v.name not in before]
        current = registry.current()
    report.new_version = current if current in {v.name for v in made} else None
    report.current_after = current


def _audit(report: ForgetReport) -> dict[str, Any]:
    """What the audit log keeps: counts, ids, sources, versions, numbers; never the text."""
    data = report.as_dict()
    data["state"] = "finished"
    return data
