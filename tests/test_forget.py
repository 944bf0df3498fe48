"""Provenance and forgetting on the micro base: trace a note, take it out, prove it is gone."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from personaforge.config import IngestSettings, Settings
from personaforge.dataset import DatasetRequest, MixPlan, build_dataset
from personaforge.forget import ForgetRequest, forget
from personaforge.ingest import ingest
from personaforge.paths import Paths
from personaforge.provenance import learned_from, match_memories, provenance
from personaforge.registry import Registry
from personaforge.sample import sample_identity
from personaforge.store import MemoryStore
from personaforge.train.run import TrainRequest, train

NOTE = "vault/People/Ingrid.md"


def settings(sources, **train_overrides) -> Settings:
    train_settings = {
        "max_steps": 6,
        "learning_rate": 5e-3,
        "batch_size": 4,
        "grad_accum": 1,
        "eval_steps": 1000,
        "save_steps": 1000,
        "max_seq_length": 256,
        "rehearsal_share": 0.0,
        "lora_rank": 4,
        "lora_alpha": 8,
        **train_overrides,
    }
    return Settings(
        model={"base": "tiny:micro"},
        train=train_settings,
        gate={"memorisation_prompts": 2, "max_eval_examples": 8, "max_new_tokens": 8},
        run={"sources": [str(sources)], "export_formats": ["adapter"], "profile": False},
        identity=sample_identity(),
    )


# Gate limits loose enough for a micro base trained hard: these tests are about forgetting.
LENIENT_GATE = {"max_general_ppl_increase": 5.0, "max_probe_drop": 11, "max_memorised_share": 1.0}


def new_home(root, micro_models_dir, sample_data) -> tuple[Paths, Path]:
    """A home under `root` sharing the micro base, and a copy of the sample data beside it."""
    paths = Paths(root / "home")
    paths.home.mkdir(parents=True)
    paths.models.symlink_to(micro_models_dir, target_is_directory=True)
    data = root / "data"
    shutil.copytree(sample_data, data)
    return paths, data


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory, micro_models_dir, sample_data):
    """v1 (SFT) and v2 (continued from v1 on a later dataset): the note fed v1, v2 inherited it."""
    root = tmp_path_factory.mktemp("forget")
    paths, data = new_home(root, micro_models_dir, sample_data)
    config = settings(data)
    with MemoryStore.open(paths.memory_store) as store:
        ingest([data], store, IngestSettings(), identity=sample_identity(), show_progress=False)
        build_dataset(store, config, paths, DatasetRequest(MixPlan("foundation")))
    v1 = train(paths, config, TrainRequest(fresh=True, show_progress=False)).version
    with Registry.open(paths) as registry:
        registry.promote(v1)
    (data / "vault" / "Journal" / "extra.md").write_text(
        "# Later\n\nA new note, written later on.\n"
    )
    with MemoryStore.open(paths.memory_store) as store:
        ingest([data], store, IngestSettings(), identity=sample_identity(), show_progress=False)
        build_dataset(store, config, paths, DatasetRequest(MixPlan("monthly", as_of="2026-11-30")))
    v2 = train(paths, config, TrainRequest(show_progress=False)).version
    with Registry.open(paths) as registry:
        registry.promote(v2)
    return paths, data


@pytest.fixture
def home(two_versions, tmp_path):
    paths, _ = two_versions
    copy = tmp_path / "copy"
    shutil.copytree(paths.home.parent, copy, symlinks=True)
    return Paths(copy / "home"), copy / "data"


def test_provenance_follows_a_note_through_datasets_and_lineage(two_versions):
    paths, data = two_versions
    with MemoryStore.open(paths.memory_store) as store:
        memories = match_memories(store, str(data / NOTE))
    assert len(memories) == 1
    found = provenance(paths, [m.id for m in memories])
    assert found.versions == {"v1": "direct", "v2": "direct"} or found.versions == {
        "v1": "direct",
        "v2": "through v1",
    }
    assert {"v1", "v2"} <= set(found.versions)
    learned = learned_from(paths, "v2")
    assert learned["memories"] > 100 and learned["sources"]["vault"] > 50


def test_forget_removes_it_everywhere_and_keeps_it_out(home, monkeypatch):
    paths, data = home
    config = settings(data)
    with MemoryStore.open(paths.memory_store) as store:
        store_note = str(data / NOTE)
        memories = match_memories(store, store_note)
    (memory,) = memories
    from personaforge.forget import still_held

    before = still_held(paths, memories)  # the check finds the note while it is there
    assert before["store rows"] == 1 and before["index entries"] == 1, before
    assert before["dataset rows"] >= 1
    report = forget(paths, config, memories, ForgetRequest(NOTE, retrain=False))
    assert report.still_held == {"store rows": 0, "index entries": 0, "dataset rows": 0}
    assert set(report.versions_flagged) == {"v1", "v2"} and report.examples_removed >= 1
    with MemoryStore.open(paths.memory_store) as store:
        assert all(hit.id != memory.id for hit, _ in store.search("Ingrid", limit=1000))
        assert not store.db.execute("SELECT 1 FROM memories WHERE id = ?", (memory.id,)).fetchone()
        assert store.tombstone_count() == 1
        (audit,) = store.forgets()
        assert memory.id in audit["report"]["memory_ids"]
        assert memory.text[:40] not in json.dumps(audit)  # ids and counts, never the words
    for dataset in paths.datasets.glob("ds-*"):
        for name in ("train.jsonl", "eval.jsonl"):
            assert memory.id not in (dataset / name).read_text()
    with Registry.open(paths) as registry:
        assert registry.current() is None  # both versions learned it; nothing safe to fall back to
        assert registry.get("v1").forgotten and registry.get("v2").forgotten
    from personaforge.errors import UserError
    from personaforge.export import export_version

    with pytest.raises(UserError, match="learned from memories you asked to forget"):
        export_version(paths, "v2", "adapter")
    from personaforge.serve.policy import Forbidden, adapter_folder

    with pytest.raises(Forbidden, match="asked to forget"):
        adapter_folder(paths, "v2")  # what /admin/reload-model resolves, on both engines
    # Re-ingest: the note unchanged (touched), and a copy elsewhere, stay out.
    os.utime(data / NOTE)
    shutil.copy(data / NOTE, data / "vault" / "copy-of-ingrid.md")
    with MemoryStore.open(paths.memory_store) as store:
        summary = ingest(
            [data], store, IngestSettings(), identity=sample_identity(), show_progress=False
        )
        # The copied home sees every file as new, so both the note and its copy are read again.
        assert summary.memories.forgotten == 2
        same_words = store.db.execute(
            "SELECT count(*) FROM memories WHERE text = ?", (memory.text,)
        ).fetchone()[0]
        assert same_words == 0


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("PERSONAFORGE_TEST_FULL") != "1", reason="two long trainings (make test-full)"
)
def test_forget_retrains_and_the_membership_gap_closes(tmp_path, micro_models_dir, sample_data):
    """A model trained hard on a few notes clearly knows a forgotten one (membership gap over
    the noise); the retrained model does not, and reproduces none of it."""
    paths, data = new_home(tmp_path, micro_models_dir, sample_data)
    # Measured: 150 steps at lr 1e-2, rank 32, on 30 reflection memories (36 rows) gives a gap
    # of 0.88 nats against a noise of 0.78 (2 forgotten rows), and -0.03 against 0.49 after the
    # retrain; 60 steps at 5e-3 rank 8 gave 0.13 (not separated).
    config = settings(data, max_steps=150, learning_rate=1e-2, lora_rank=32, lora_alpha=64)
    config = config.model_copy(
        update={
            "run": config.run.model_copy(update={"dpo": False}),
            "gate": config.gate.model_copy(update=LENIENT_GATE),
        }
    )
    with MemoryStore.open(paths.memory_store) as store:
        ingest([data], store, IngestSettings(), identity=sample_identity(), show_progress=False)
        result = build_dataset(
            store,
            config,
            paths,
            DatasetRequest(MixPlan("foundation", max_memories=30, mode="reflection")),
        )
    v1 = train(paths, config, TrainRequest(fresh=True, show_progress=False)).version
    with Registry.open(paths) as registry:
        registry.promote(v1)
    first = json.loads((result.folder / "train.jsonl").read_text().splitlines()[0])
    with MemoryStore.open(paths.memory_store) as store:
        memories = match_memories(store, first["meta"]["memory_ids"][0])
    report = forget(paths, config, memories, ForgetRequest("memory id"))
    assert report.new_version and report.new_version != v1
    old, new = report.verification
    assert old.version == v1 and old.separated, old
    assert new.version == report.new_version and not new.separated and new.reproduced == 0, new
    assert report.proven is True


def test_forget_claims_only_what_it_measured():
    """ "Proven gone" needs the old version to have shown the memories; else it says so."""
    from personaforge.forget import ForgetReport, Verification

    def measured(version: str, gap: float, reproduced: int = 0) -> Verification:
        return Verification(version, "replies", "v1", reproduced, 4, gap + 0.1, 0.1, gap, 0.5)

    report = ForgetReport(1, ["m"], {"vault": 1}, new_version="v3", still_held={"store rows": 0})
    report.verification = [measured("v2", 0.9), measured("v3", 0.1)]
    assert (report.verdict, report.proven) == ("proven gone", True)
    report.verification = [measured("v2", 0.2), measured("v3", 0.1)]  # v2 within noise too
    assert (report.verdict, report.proven) == ("nothing measurable to remove", None)
    report.verification = [measured("v2", 0.2, reproduced=1), measured("v3", 0.1)]
    assert report.verdict == "proven gone"  # v2 repeated its words: that was measurable
    report.verification = [measured("v2", 0.9), measured("v3", 0.8)]
    assert (report.verdict, report.proven) == ("NOT proven gone", False)
    report.still_held = {"store rows": 1}
    assert (report.verdict, report.proven) == ("still held", False)


def test_membership_gap_is_paired_and_its_noise_shrinks_with_more_examples():
    from personaforge.forget import membership

    gap, noise = membership([3.0], [1.0, 1.2, 0.8])
    assert gap == pytest.approx(2.0)
    assert noise == pytest.approx(2 * 0.2 * (1 + 1 / 3) ** 0.5)  # stdev 0.2, one vs three
    _, fewer = membership([3.0, 3.0], [1.0, 1.2, 0.8] * 2)
    assert fewer < noise


def test_regurgitation_counts_only_words_the_kept_notes_do_not_hold(micro_base):
    from transformers import AutoTokenizer

    from personaforge.forget import REGURGITATION_NGRAM, forgotten_only_ngrams

    tokenizer = AutoTokenizer.from_pretrained(micro_base)

    def runs(text: str) -> set[tuple[int, ...]]:  # every REGURGITATION_NGRAM tokens in a row
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        return {
            tuple(ids[i : i + REGURGITATION_NGRAM])
            for i in range(len(ids) - REGURGITATION_NGRAM + 1)
        }

    forgotten = "Overproofed. The kitchen was warm. Watch the dough, not the clock, always."
    kept_note = (
        "In the Sourdough note: the kitchen was warm. Watch the dough, not the clock, always."
    )
    shared = runs(forgotten) & runs(kept_note)
    assert len(shared) >= 3  # the shared phrase is several runs long
    assert forgotten_only_ngrams(tokenizer, [forgotten], []) == runs(forgotten)
    only = forgotten_only_ngrams(tokenizer, [forgotten], [kept_note])
    assert only == runs(forgotten) - shared and only  # the shared phrase's runs are dropped
    opening = tokenizer(forgotten, add_special_tokens=False)["input_ids"][:REGURGITATION_NGRAM]
    assert tuple(opening) in only  # "Overproofed." is the forgotten note's alone


def test_forgetting_a_correction_replays_only_dpo_from_the_clean_version(
    tmp_path, micro_models_dir, sample_data
):
    """A correction fed only DPO: v1 (SFT) stays, v2 (DPO) is flagged, and the retrain is a
    new DPO from v1 on the scrubbed pairs, never v2 reused under the dataset's old name."""
    from personaforge.pipeline import RunRequest, run_pipeline

    paths, data = new_home(tmp_path, micro_models_dir, sample_data)
    config = settings(data)
    config = config.model_copy(update={"gate": config.gate.model_copy(update=LENIENT_GATE)})
    record = run_pipeline(paths, config, RunRequest(show_progress=False))
    with Registry.open(paths) as registry:
        assert [(v.name, v.method) for v in registry.versions()] == [("v1", "sft"), ("v2", "dpo")]
        assert registry.current() == "v2", record.stages
    with MemoryStore.open(paths.memory_store) as store:
        memories = [m for m, _ in store.search("Overproofed", limit=50) if m.source == "feedback"]
    assert len(memories) == 1
    report = forget(paths, config, memories, ForgetRequest("memory id"))
    assert report.versions_flagged == {"v2": "direct"}
    assert report.new_version == "v3" and report.current_after == "v3"
    with Registry.open(paths) as registry:
        v3 = registry.get("v3")
        assert (v3.method, v3.parent) == ("dpo", "v1")
        assert registry.get("v2").forgotten and not registry.get("v1").forgotten
    pairs = (paths.datasets / v3.dataset_id / "preference.jsonl").read_text()
    assert memories[0].id not in pairs and pairs.count("\n") >= 8
    assert [(v.version, v.kind, v.reference) for v in report.verification] == [
        ("v2", "pairs", "v1"),
        ("v3", "pairs", "v1"),
    ]
    old, new = report.verification
    # What the setup decides, not the measurement: v2 trained on the pair and v3 never did, so
    # the pair gains more over v1 in v2 than in v3, and v3 neither stands out on it nor repeats it.
    assert old.forgotten_gain > new.forgotten_gain, (old, new)
    assert not new.separated and new.reproduced == 0, new
    # Whether v2's one pair stood out of the noise is the measurement's to say (a 6-step DPO:
    # gap 0.129 against noise 0.131 when measured; at lr 1e-3, 2.51 against 2.68), so the
    # report may say "proven gone" or "nothing measurable to remove", never that it failed.
    # The rule from measurements to verdict: test_forget_claims_only_what_it_measured.
    assert report.proven is not False and report.verdict != "NOT proven gone", report.verdict
