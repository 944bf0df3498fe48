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
4. **Retrain** what the served version learned after the last clean version,
   without the memories, through the normal gate: from the base, a foundation
   run on everything that remains; from a clean version, the flagged lineage's
   steps replayed on their scrubbed datasets (a correction only DPO saw costs
   a DPO run from the SFT version, not a retraining from scratch).
5. **Verify**, old version against new, on what the memories fed (SFT replies,
   preference pairs): (a) regurgitation: greedy answers to prompts built from
   them must share no 8-token run with words only the forgotten memories held;
   (b) membership: each example's gain over the clean version (or the base),
   which saw neither set, so how hard an example is cancels out: per-token
   log-likelihood for replies, log p(chosen) - log p(rejected) for pairs. The
   old version finds what it memorised easier than held-out examples (a gap
   over two standard errors); after forgetting, the gap must be within them.
6. **Audit**: the forget is recorded (counts, memory ids, sources, versions,
   numbers) without the forgotten text.
"""

from __future__ import annotations

import json
import math
import shutil
import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

from personaforge.atomic import atomic_directory, remove_tree
from personaforge.config import Settings
from personaforge.errors import UserError
from personaforge.paths import Paths
from personaforge.provenance import built_from, dataset_folders, provenance, read_rows
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
    """One membership and regurgitation measurement of one version on one kind of example."""

    version: str
    kind: str  # "replies" (SFT examples: per-token loss) or "pairs" (preference: log p margin)
    reference: str  # what "improvement" is measured against: the clean version, or "base"
    reproduced: int  # prompts whose answer shares an 8-token run with forgotten-only text
    prompts: int
    forgotten_gain: float  # mean improvement over the reference on the forgotten examples
    heldout_gain: float  # the same on held-out examples no version trained on
    # forgotten_gain - heldout_gain: > 0 means the forgotten examples look familiar to this version
    gap: float
    noise: float  # two standard errors of that difference

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
    # What still holds the memories after the forget, checked, each must be 0: store rows,
    # full-text index entries, dataset rows (by memory id or the exact words).
    still_held: dict[str, int] = field(default_factory=dict)

    @property
    def measurable(self) -> bool | None:
        """Did any version that learned the memories show it (a separated gap or a repeat)?
        None when none was measured. Without it, "gone" claims nothing: there was nothing
        the measurement could see before either."""
        old = [v for v in self.verification if v.version != self.new_version]
        if not old:
            return None
        return any(v.separated or v.reproduced for v in old)

    @property
    def verdict(self) -> str:
        """What the checks show, in words: the claim is only as strong as what was measured."""
        if any(self.still_held.values()):
            return "still held"
        new = [v for v in self.verification if v.version == self.new_version]
        if not new:
            return "not verified"
        if not all(v.reproduced == 0 and not v.separated for v in new):
            return "NOT proven gone"
        if self.measurable is False:
            return "nothing measurable to remove"
        return "proven gone"

    @property
    def proven(self) -> bool | None:
        """True: the old version showed the memories and the new one does not, and nothing in
        the home holds them. False: something still holds them. None: not measurable."""
        return {"proven gone": True, "still held": False, "NOT proven gone": False}.get(
            self.verdict
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["verification"] = [{**asdict(v), "separated": v.separated} for v in self.verification]
        data["proven"] = self.proven
        data["verdict"] = self.verdict
        return data


# -- what goes -------------------------------------------------------------------------------------


def forgotten_rows(paths: Paths, memory_ids: set[str], name: str) -> list[dict[str, Any]]:
    """The rows of one trained file (train.jsonl, preference.jsonl) built from these memories,
    across every dataset; read before the scrub and kept in memory only."""
    found: dict[str, dict[str, Any]] = {}
    for folder in dataset_folders(paths):
        for row in read_rows(folder / name):
            if built_from(row, memory_ids):
                found.setdefault(row["meta"]["id"], row)
    return list(found.values())


def heldout_rows(paths: Paths, memory_ids: set[str], name: str, limit: int) -> list[dict[str, Any]]:
    """Held-out rows no version trained on: one eval file of the latest dataset."""
    from personaforge.dataset.build import latest_id

    dataset = latest_id(paths)
    if dataset is None:
        return []
    rows = read_rows(paths.datasets / dataset / name)
    return [r for r in rows if not built_from(r, memory_ids)][:limit]


def scrub_datasets(paths: Paths, memory_ids: set[str], forget_id: int) -> tuple[int, list[str]]:
    """Remove every example built from the memories from every dataset, atomically per dataset."""
    import hashlib

    removed, changed = 0, []
    for folder in dataset_folders(paths):
        contents, dropped = {}, 0
        for name in DATASET_FILES:
            rows = read_rows(folder / name)
            kept = [r for r in rows if not built_from(r, memory_ids)]
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


def _strings(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict | list):
        for item in value.values() if isinstance(value, dict) else value:
            yield from _strings(item)


def dataset_rows_holding(paths: Paths, memories: list[Memory]) -> int:
    """Rows of any dataset file built from these memories or carrying their exact words."""
    ids = {m.id for m in memories}
    texts = [m.text for m in memories if len(m.text) >= 20]  # shorter is too common to mean it
    held = 0
    for folder in dataset_folders(paths):
        for name in DATASET_FILES:
            for row in read_rows(folder / name):
                held += built_from(row, ids) or any(
                    text in value for value in _strings(row) for text in texts
                )
    return held


def dataset_rows_with_ids(paths: Paths, ids: set[str]) -> int:
    """Rows of any dataset file built from these memory ids."""
    return sum(
        built_from(row, ids)
        for folder in dataset_folders(paths)
        for name in DATASET_FILES
        for row in read_rows(folder / name)
    )


def still_held(paths: Paths, memories: list[Memory]) -> dict[str, int]:
    with MemoryStore.open(paths.memory_store) as store:
        rows, index = store.holding(memories)
    return {
        "store rows": rows,
        "index entries": index,
        "dataset rows": dataset_rows_holding(paths, memories),
    }


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
            remove_tree(folder)
            gone.append(folder.name)
    return gone


# -- verification ---------------------------------------------------------------------------------


@dataclass
class Evidence:
    """What the verification compares, read before the scrub and never written anywhere."""

    replies: list[dict[str, Any]]  # forgotten SFT examples
    heldout_replies: list[dict[str, Any]]
    pairs: list[dict[str, Any]]  # forgotten preference pairs
    heldout_pairs: list[dict[str, Any]]
    texts: list[str]  # the forgotten memories' words

    @classmethod
    def read(cls, paths: Paths, memories: list[Memory]) -> Evidence:
        ids = {m.id for m in memories}
        return cls(
            forgotten_rows(paths, ids, "train.jsonl"),
            heldout_rows(paths, ids, "eval.jsonl", MEMBERSHIP_REFERENCE),
            forgotten_rows(paths, ids, "preference.jsonl"),
            heldout_rows(paths, ids, "preference_eval.jsonl", MEMBERSHIP_REFERENCE),
            [m.text for m in memories],
        )

    def prompts(self) -> list[list[dict[str, str]]]:
        return [r["messages"][:-1] for r in self.replies] + [r["prompt"] for r in self.pairs]


def _token_ngrams(tokenizer, texts: list[str], size: int) -> set[tuple[int, ...]]:
    from personaforge.evaluate.measure import ngrams

    grams: set[tuple[int, ...]] = set()
    for text in texts:
        grams |= ngrams(tokenizer(text, add_special_tokens=False)["input_ids"], size)
    return grams


def forgotten_only_ngrams(tokenizer, forgotten: list[str], kept: list[str]) -> set[tuple[int, ...]]:
    """Token runs of the forgotten texts that no kept text holds. A phrase the person also
    wrote in a note they kept is theirs to keep, and a model saying it has not remembered
    the forgotten note."""
    size = REGURGITATION_NGRAM
    return _token_ngrams(tokenizer, forgotten, size) - _token_ngrams(tokenizer, kept, size)


def kept_texts(paths: Paths) -> list[str]:
    """Every reply still trained on after the scrub: words the person did not ask to forget."""
    texts = []
    for folder in dataset_folders(paths):
        texts += [r["messages"][-1]["content"] for r in read_rows(folder / "train.jsonl")]
        texts += [r["chosen"] for r in read_rows(folder / "preference.jsonl")]
    return texts


def _reply_scores(model, tokenizer, rows: list[dict[str, Any]], max_length: int) -> list[float]:
    """Minus the mean per-token loss of each final reply: higher is more familiar."""
    from personaforge.evaluate.measure import losses, reply_tokens

    scored = losses(model, [reply_tokens(tokenizer, r["messages"], max_length) for r in rows])
    return [-total / count for total, count in scored if count]


def membership(gains: list[float], heldout: list[float]) -> tuple[float, float]:
    """(gap, noise): mean gain on the forgotten examples minus on the held-out ones, and two
    standard errors of that difference. The gains are paired with the reference on the same
    example, so how hard an example is cancels out; the held-out spread stands in for the
    forgotten set's too (it is often one or two examples)."""
    spread = statistics.stdev(heldout) if len(heldout) > 1 else 0.0
    noise = 2 * spread * math.sqrt(1 / len(gains) + 1 / len(heldout))
    return statistics.fmean(gains) - statistics.fmean(heldout), noise


def verify_version(
    paths: Paths, settings: Settings, version: str, reference: str | None, evidence: Evidence
) -> list[Verification]:
    """Regurgitation and membership numbers for one version, against the reference version
    (the last one that never saw the memories) or the bare base."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from personaforge.bases import resolve_base
    from personaforge.evaluate.measure import generate_many, ngrams, pair_margins
    from personaforge.registry import read_card

    folder = paths.adapters / version
    card = read_card(folder)
    ref = resolve_base(card["base"]["name"], paths, card["base"].get("revision"))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(ref.location)
    model = PeftModel.from_pretrained(model, str(folder), adapter_name="version").eval()
    if reference:
        model.load_adapter(str(paths.adapters / reference), adapter_name="reference")
    max_length = settings.train.max_seq_length
    forgotten_only = forgotten_only_ngrams(tokenizer, evidence.texts, kept_texts(paths))
    prompts = evidence.prompts()
    answers = generate_many(model, tokenizer, prompts, settings.gate.max_new_tokens)
    reproduced = sum(
        bool(ngrams(tokens, REGURGITATION_NGRAM) & forgotten_only) for _, tokens in answers
    )

    def gains(score, rows: list[dict[str, Any]]) -> list[float]:
        model.set_adapter("version")
        mine = score(model, tokenizer, rows, max_length)
        if reference:
            model.set_adapter("reference")
            theirs = score(model, tokenizer, rows, max_length)
        else:
            with model.disable_adapter():
                theirs = score(model, tokenizer, rows, max_length)
        return [a - b for a, b in zip(mine, theirs, strict=True)]

    results = []
    for kind, score, rows, heldout in (
        ("replies", _reply_scores, evidence.replies, evidence.heldout_replies),
        ("pairs", pair_margins, evidence.pairs, evidence.heldout_pairs),
    ):
        if not rows or len(heldout) < 2:
            continue
        forgotten_gains, heldout_gains = gains(score, rows), gains(score, heldout)
        gap, noise = membership(forgotten_gains, heldout_gains)
        results.append(
            Verification(
                version,
                kind,
                reference or "base",
                reproduced,
                len(prompts),
                round(statistics.fmean(forgotten_gains), 4),
                round(statistics.fmean(heldout_gains), 4),
                round(gap, 4),
                round(noise, 4),
            )
        )
    return results


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
    from personaforge.runs import run_lock

    with run_lock(paths, "forget"):
        return _forget(paths, settings, memories, request, reporter, report, found)


def _forget(paths, settings, memories, request, reporter, report, found) -> ForgetReport:
    ids = report.memory_ids
    evidence = Evidence.read(paths, memories)
    flagged = list(found.versions)

    # Everything a second attempt needs to finish the job rides in the audit record the moment
    # the memories leave the store: after that commit they can no longer be matched, so a forget
    # killed before the datasets were scrubbed is finished from this record (finish_interrupted).
    started = {
        "state": "started",
        "memories": len(ids),
        "memory_ids": ids,
        "versions": found.versions,
        "current_before": report.current_before,
        "retrain": request.retrain,
    }
    with MemoryStore.open(paths.memory_store) as store, store.batch():
        forget_id = store.record_forget(request.request, started)
        store.forget(ids, forget_id)
    report.forget_id = forget_id
    _take_out(paths, report, set(ids), flagged)
    report.still_held = still_held(paths, memories)
    clean = report.current_after  # the newest version that never saw them (None: the base)
    old = report.current_before if report.current_before in flagged else None
    if request.retrain and old:
        _retrain(paths, settings, report, replay_request(paths, old, clean), reporter)
    for version in [old, report.new_version]:
        if version:
            report.verification += verify_version(paths, settings, version, clean, evidence)
    with MemoryStore.open(paths.memory_store) as store:
        store.update_forget(forget_id, _audit(report))
    return report


def _take_out(paths: Paths, report: ForgetReport, wanted: set[str], flagged: list[str]) -> None:
    """Steps 2-3 after the store: scrub datasets, clear caches, flag versions, drop exports.

    Each step is idempotent (a scrubbed dataset has nothing left to drop, a flagged version
    stays flagged), so a forget killed anywhere in here is finished by running them again.
    """
    from personaforge.registry import Registry

    removed, changed = scrub_datasets(paths, wanted, report.forget_id or 0)
    report.examples_removed, report.datasets_changed = removed, changed
    clear_caches(paths)
    with Registry.open(paths) as registry:
        report.current_after = registry.mark_forgotten(flagged, f"forget {report.forget_id}")
    report.exports_removed = remove_exports(paths, flagged)


def finish_interrupted(
    paths: Paths, settings: Settings, reporter=None, retrain: bool = True
) -> list[ForgetReport]:
    """Finish every forget that was killed after its memories left the store.

    Its memory ids, the versions that learned them and whether to retrain were recorded with
    the deletion; the rest is done again from there (`run` passes retrain=False: it is about
    to train on what remains anyway). The old-versus-new verification is not done again:
    the forgotten examples it compares were read before the scrub, and are gone now.
    """
    if not paths.memory_store.exists():
        return []
    with MemoryStore.open(paths.memory_store) as store:
        pending = [f for f in store.forgets() if f["report"].get("state") == "started"]
    reports = []
    for entry in reversed(pending):  # oldest first
        started = entry["report"]
        ids = list(started.get("memory_ids") or [])
        report = ForgetReport(len(ids), ids, {}, versions_flagged=started.get("versions") or {})
        report.forget_id = entry["id"]
        report.current_before = started.get("current_before")
        flagged = list(report.versions_flagged)
        _take_out(paths, report, set(ids), flagged)
        with MemoryStore.open(paths.memory_store) as store:
            rows = sum(
                store.db.execute("SELECT count(*) FROM memories WHERE id = ?", (mid,)).fetchone()[0]
                for mid in ids
            )
        # By id only: the text that the full check also looks for left with the rows.
        report.still_held = {
            "store rows": rows,
            "dataset rows": dataset_rows_with_ids(paths, set(ids)),
        }
        # A kill after mark_forgotten moved `current` leaves current_before still recorded: the
        # retrain is owed whenever the version served before the forget learned them.
        old = report.current_before if report.current_before in flagged else None
        if retrain and started.get("retrain", True) and old:
            clean = report.current_after
            _retrain(paths, settings, report, replay_request(paths, old, clean), reporter)
        with MemoryStore.open(paths.memory_store) as store:
            store.update_forget(entry["id"], {**_audit(report), "resumed": True})
        reports.append(report)
    return reports


def replay_request(paths: Paths, old: str, clean: str | None):
    """How to retrain what `old` learned after `clean`, without the forgotten memories.

    From the base: a foundation run on everything that remains. From a clean version:
    replay the steps of old's lineage after it on their (now scrubbed) datasets, so a
    correction that only DPO saw costs a DPO run, and a note from last month's update
    costs that update, not a retraining from scratch.
    """
    from personaforge.pipeline import RunRequest
    from personaforge.registry import Registry

    if clean is None:
        return RunRequest(trigger="forget", from_stage="dataset", force=True, foundation=True)
    steps = []
    with Registry.open(paths) as registry:
        version = registry.get(old)
        while version.name != clean and version.parent:
            steps.append(version)
            version = registry.get(version.parent)
    steps.reverse()
    sft = next((step for step in steps if step.method == "sft"), None)
    if sft is None:  # only DPO learned them: refine the clean SFT version again
        return RunRequest(
            trigger="forget",
            from_stage="dpo",
            force=True,
            dataset=steps[0].dataset_id,
            sft_version=clean,
        )
    return RunRequest(trigger="forget", from_stage="train", force=True, dataset=sft.dataset_id)


def _retrain(paths: Paths, settings: Settings, report: ForgetReport, request, reporter) -> None:
    """The normal cycle on what remains, through the normal gate."""
    from personaforge.pipeline import run_pipeline
    from personaforge.registry import Registry

    with Registry.open(paths) as registry:
        before = {v.name for v in registry.versions()}
    record = run_pipeline(paths, settings, request, reporter)
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
