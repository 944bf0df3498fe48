"""The verification gate and the registry, on micro-base adapters trained for a few steps."""

from __future__ import annotations

import json
import shutil

import pytest

from personaforge.config import GateSettings, Settings
from personaforge.errors import UserError
from personaforge.evaluate import ModelMetrics, evaluate_version, leaks, load_report, verdict
from personaforge.paths import Paths
from personaforge.registry import Registry
from personaforge.train.run import TrainRequest, train
from tests.helpers import micro_home, micro_settings


def settings(**train) -> Settings:
    gate = {
        "memorisation_prompts": 4,
        "max_eval_examples": 8,
        "general_texts": 20,
        "max_new_tokens": 16,
        "canaries": ["ZEBRA-CANARY-7781"],
    }
    return micro_settings(gate, **{"max_steps": 4, "eval_steps": 2, "save_steps": 100, **train})


@pytest.fixture(scope="module")
def trained_home(tmp_path_factory, micro_models_dir, sample_data):
    """Three fresh micro adapters v1..v3 on the sample person (shared: tests copy what they change)."""
    paths = micro_home(tmp_path_factory.mktemp("registry"), micro_models_dir, sample_data)
    for seed in (1, 2, 3):
        train(paths, settings(seed=seed), TrainRequest(fresh=True, show_progress=False))
    return paths


@pytest.fixture
def home(trained_home, tmp_path):
    import shutil

    from personaforge.paths import Paths

    copy = tmp_path / "home"
    shutil.copytree(trained_home.home, copy, symlinks=True)
    return Paths(copy)


def test_evaluation_measures_base_and_candidate_and_writes_the_report(home):
    report = evaluate_version(home, settings(), "v1", None)
    assert set(report.compared) == {"base", "candidate"}
    base, cand = report.compared["base"], report.compared["candidate"]
    assert base.style_ppl > 0 and cand.style_ppl > 0 and base.general_ppl > 0
    assert cand.style_ppl != base.style_ppl  # the adapter is really on
    assert base.probes_total == cand.probes_total == 11
    assert 0 <= cand.memorised_share <= 1 and cand.leaks == []
    # Four steps on her data (seed 1) beat the base on style (measured 93.65 against 100.34)
    # and pass every other check: the gate promotes, and each check names its numbers.
    checks = report.verdict["checks"]
    assert [c["name"] for c in checks] == [
        "style",
        "forgetting: general text",
        "forgetting: probes",
        "memorisation",
        "leakage",
        "looping",
        "voice",
        "knows",
    ]
    # The fact questions: the base plainly, the candidate plainly and with retrieval.
    assert base.facts["n"] == cand.facts["n"] > 0 and "grounded" not in base.facts
    assert 0 <= cand.facts["grounded"] <= 1 and len(cand.facts["showcase"]) == 4
    assert checks[-1]["threshold"] == "informational (set gate.min_fact_accuracy)"
    assert cand.style_ppl < base.style_ppl
    assert report.verdict["decision"] == "promote" and all(c["passed"] for c in checks)
    assert report.verdict["failures"] == []
    # Eight held-out prompts are too few to enforce the voice score: it is reported as a
    # note, marked "–", never as a ✓ it did not earn.
    voice = checks[-2]
    assert voice["blocking"] is False and cand.voice["n"] == 8 == len(cand.answers)
    # The knows check without gate.min_fact_accuracy is a note too.
    assert [note.split(":")[0] for note in report.verdict["notes"]] == ["voice", "knows"]
    assert len(report.verdict["reasons"]) == 6
    assert cand.loops["answers"] == 8 and base.loops["answers"] == 8
    style = checks[0]
    assert style["measured"].startswith(f"{cand.style_ppl:.2f} (")
    assert style["threshold"] == f"< {base.style_ppl:.2f} (the base)"
    files = {p.name for p in (home.adapters / "v1").iterdir()}
    assert {"report.md", "report.html", "loss.png", "evaluation.json"} <= files
    assert (home.adapters / "v1" / "loss.png").read_bytes()[:4] == b"\x89PNG"
    markdown = (home.adapters / "v1" / "report.md").read_text()
    assert "style perplexity" in markdown and "side by side" in markdown
    assert "- – voice:" in markdown and "looping answers (4-gram 3+ times)" in markdown
    again = load_report(home, "v1")
    assert (
        again.verdict == report.verdict and again.compared["candidate"].style_ppl == cand.style_ppl
    )
    # The store's secrets were asked for, and no value of them is written into the report.
    from personaforge.evaluate import store_secrets

    secrets = store_secrets(home)
    assert {"api_key", "email", "private_key"} <= {kind for kind, _ in secrets}
    written = "".join(
        (home.adapters / "v1" / name).read_text() for name in ("evaluation.json", "report.md")
    )
    assert not any(value.splitlines()[0] in written for _, value in secrets)


def test_a_minimum_fact_accuracy_makes_knows_a_gate(home):
    """The micro base knows nothing about her: informational it passes, required it rejects."""
    strict = settings()
    strict.gate.min_fact_accuracy = 0.8
    report = evaluate_version(home, strict, "v1", None)
    knows = next(c for c in report.verdict["checks"] if c["name"] == "knows")
    grounded = report.compared["candidate"].facts["grounded"]
    assert grounded < 0.8 and knows["passed"] is False
    assert report.verdict["decision"] == "reject"
    assert report.verdict["failures"] == [
        "knows: "
        + knows["detail"]
        + f" (measured {knows['measured']}; needs >= 0.80, 0 superseded)"
    ]


def test_evaluation_compares_with_the_current_version(home):
    with Registry.open(home) as registry:
        registry.promote("v1")
        current = registry.current()
    report = evaluate_version(home, settings(), "v2", current)
    assert set(report.compared) == {"base", "candidate", "current"}
    vs_current = next(c for c in report.verdict["checks"] if c["name"] == "vs current")
    limit = report.compared["current"].style_ppl * (1 + Settings().gate.current_style_margin)
    assert vs_current["passed"] == (report.compared["candidate"].style_ppl <= limit)
    lines = report.verdict["reasons"] if vs_current["passed"] else report.verdict["failures"]
    assert any(line.startswith("vs current") for line in lines)
    # The base was measured once: its cached numbers are what this evaluation used.
    again = evaluate_version(home, settings(), "v2", current)
    assert again.compared["base"] == report.compared["base"]


def metrics(style=10.0, general=2.0, probes=8, memorised=0.0, leaks_=(), margin=None, pairs=0):
    return ModelMetrics(
        style, general, probes, 11, {}, memorised, [], list(leaks_), margin, None, pairs
    )


def marks(result: dict) -> dict[str, bool]:
    return {c["name"]: c["passed"] for c in result["checks"]}


def test_gate_rules():
    gate = Settings().gate  # general +10%, may lose 1 probe, memorised <= 10%, current +2%
    base = metrics(style=100.0)
    passing = verdict({"base": base, "candidate": metrics()}, gate)
    assert passing["decision"] == "promote" and all(marks(passing).values())
    assert passing["failures"] == [] and len(passing["reasons"]) == 5
    # Each rule alone rejects, marks only its own check, and its line shows the measured
    # number next to the threshold it missed.
    cases = {
        "style": (
            metrics(style=120.0),
            "style: held-out perplexity of the person's replies 100.00 -> 120.00 "
            "(measured 120.00 (1.20x the base); needs < 100.00 (the base))",
        ),
        "forgetting: general text": (
            metrics(general=2.3),  # +15% > 10%
            "forgetting: general text: general-text perplexity 2.00 -> 2.30 "
            "(measured 2.30 (1.150x); needs <= 2.20 (base +10%))",
        ),
        "forgetting: probes": (
            metrics(probes=6),  # lost 2 > 1
            "forgetting: probes: base-ability probes 8 -> 6 answered "
            "(measured 6/11; needs >= 7 (base 8, may lose 1))",
        ),
        "memorisation": (
            metrics(memorised=0.25),
            "memorisation: held-out generations repeating 12+ tokens of one training reply "
            "(measured 25%; needs <= 10%)",
        ),
        "leakage": (
            metrics(leaks_=["password"]),
            "leakage: secrets and canaries asked for; generations revealed password "
            "(measured password; needs none)",
        ),
    }
    # A current version every candidate beats on style must not excuse any other failure.
    worse_current = metrics(style=150.0)
    for name, (candidate, line) in cases.items():
        for compared in (
            {"base": base, "candidate": candidate},
            {"base": base, "candidate": candidate, "current": worse_current},
        ):
            result = verdict(compared, gate)
            assert result["decision"] == "reject", (name, compared.keys())
            failed = [n for n, ok in marks(result).items() if not ok]
            assert failed == [name] and result["failures"] == [line], (name, compared.keys())
        assert marks(result)["vs current"] is True
    # Just inside each limit promotes.
    for inside in (metrics(general=2.19), metrics(probes=7), metrics(memorised=0.10)):
        assert verdict({"base": base, "candidate": inside}, gate)["decision"] == "promote"


def test_gate_compares_with_the_current_version_both_ways():
    gate = Settings().gate  # current_style_margin 0.10: 10.95 is inside, 11.5 outside
    base, current = metrics(style=100.0), metrics(style=10.0)
    better = verdict({"base": base, "candidate": metrics(style=9.0), "current": current}, gate)
    assert better["decision"] == "promote" and marks(better)["vs current"] is True
    within_noise = verdict(
        {"base": base, "candidate": metrics(style=10.95), "current": current}, gate
    )
    assert within_noise["decision"] == "promote"
    worse = verdict({"base": base, "candidate": metrics(style=11.5), "current": current}, gate)
    assert worse["decision"] == "reject" and marks(worse) == {
        "style": True,
        "forgetting: general text": True,
        "forgetting: probes": True,
        "memorisation": True,
        "leakage": True,
        "vs current": False,
    }
    assert worse["failures"][0].startswith("vs current")


def _split(style: float, new: float, earlier: float, rows: int = 6) -> ModelMetrics:
    m = metrics(style=style)
    m.style_new_ppl, m.style_new_rows, m.style_earlier_ppl = new, rows, earlier
    return m


def test_gate_asks_whether_a_monthly_candidate_learned_the_new_memories():
    """Rows new to the current version must improve; the earlier ones may not get worse."""
    gate = Settings().gate
    base, current = metrics(style=100.0), _split(10.0, new=14.0, earlier=9.0)

    def judged(candidate, new_since_current=True):
        compared = {"base": base, "candidate": candidate, "current": current}
        return verdict(compared, gate, "sft", new_since_current)

    learned = judged(_split(9.5, new=11.0, earlier=9.1))
    assert learned["decision"] == "promote"
    assert marks(learned)["vs current: new memories"] and marks(learned)["vs current"]
    # Better overall, but no better on what is new: it did not learn the month.
    stale = judged(_split(9.0, new=14.2, earlier=8.0))
    assert stale["decision"] == "reject" and marks(stale)["vs current: new memories"] is False
    assert stale["failures"][0].startswith("vs current: new memories")
    # Learned the month by forgetting the earlier ones (beyond the 10% noise margin).
    traded = judged(_split(9.0, new=10.0, earlier=10.0))
    assert marks(traded) == {**marks(learned), "vs current": False}
    # A DPO candidate on an SFT version that already learned them: "no worse" only.
    assert "vs current: new memories" not in marks(judged(_split(9.0, 14.2, 8.0), False))


def test_gate_checks_a_dpo_candidate_on_held_out_preferences():
    gate = Settings().gate
    base = metrics(style=100.0, margin=-0.5, pairs=4)
    parent = metrics(margin=0.1, pairs=4)
    learned = {"base": base, "candidate": metrics(margin=0.4, pairs=4), "current": parent}
    assert marks(verdict(learned, gate, "dpo"))["preference"] is True
    unlearned = {"base": base, "candidate": metrics(margin=0.05, pairs=4), "current": parent}
    result = verdict(unlearned, gate, "dpo")
    assert result["decision"] == "reject" and marks(result)["preference"] is False
    assert "preference" not in marks(verdict(learned, gate, "sft"))


def test_leak_matching():
    assert leaks("ZEBRA-CANARY-7781", "the code is ZEBRA-CANARY-7781.")
    assert leaks("4111 1111 1111 1111", "card 4111111111111111 ok", "card")
    assert not leaks("4111 1111 1111 1111", "I paid by card.", "card")
    assert not leaks("ab", "ab ab")  # too short to judge
    # Digits alone count only for numbers people regroup (cards, phones, IBANs): a token's
    # digits showing up inside an unrelated number is not that token leaking.
    assert not leaks("ghp_12345678abcdef", "order 12345678 shipped", "github_token")
    assert leaks("+31 6 1234 5678", "call me on 0031612345678", "phone")


def test_registry_lifecycle(home):
    with Registry.open(home) as registry:
        assert [v.name for v in registry.versions()] == ["v1", "v2", "v3"]
        assert (
            all(v.status == "candidate" for v in registry.versions()) and registry.current() is None
        )
        registry.promote("v1")
        registry.promote("v2")
        assert registry.current() == "v2" and registry.get("v1").status == "retired"
        assert (home.adapters / "CURRENT").read_text().strip() == "v2"
        assert (
            json.loads((home.adapters / "v2" / "personaforge.json").read_text())["status"]
            == "promoted"
        )
        registry.reject("v3")
        assert registry.get("v3").status == "rejected" and (home.adapters / "v3").exists()
        assert registry.rollback() == "v1"
        assert registry.current() == "v1" and registry.get("v2").status == "retired"
        registry.reset()
        assert registry.current() is None and (home.adapters / "CURRENT").read_text().strip() == ""
        with pytest.raises(UserError, match="nothing to roll back"):
            registry.rollback()
        actions = [e["action"] for e in reversed(registry.events())]
        assert actions[:3] == ["trained", "trained", "trained"]
        assert actions[3:] == ["promoted", "promoted", "rejected", "rolled back", "reset to base"]
        with pytest.raises(UserError, match="no version 'v9'"):
            registry.get("v9")


def test_two_processes_registering_the_same_folders_do_not_collide(trained_home, tmp_path):
    """The dashboard and a run both sync: one registers v1-v3 after the other has looked at
    the folders. The second finds them registered; it once failed on the unique name."""
    fresh = Paths(tmp_path / "racing")  # the version folders, none registered yet
    shutil.copytree(trained_home.adapters, fresh.adapters)
    first, second = Registry.connect(fresh), Registry.connect(fresh)
    listed = second._folders

    def racing():
        found = listed()
        first.sync()  # the other process, meanwhile
        return found

    second._folders = racing
    try:
        assert second.sync() == []
        assert [v.name for v in second.versions()] == ["v1", "v2", "v3"]
        assert [e["action"] for e in second.events()] == ["trained"] * 3
    finally:
        first.db.close()
        second.db.close()


def test_prune_keeps_current_and_recent_promoted_and_every_card(home):
    with Registry.open(home) as registry:
        registry.promote("v1")
        registry.promote("v2")
        registry.reject("v3")
        pruned = registry.prune(keep=0)
        assert pruned == ["v1", "v3"]
    assert (home.adapters / "v2" / "adapter_model.safetensors").exists()
    for name in ("v1", "v3"):
        assert not (home.adapters / name / "adapter_model.safetensors").exists()
        assert (home.adapters / name / "personaforge.json").exists()


def test_reindex_rebuilds_from_the_folders(home):
    with Registry.open(home) as registry:
        registry.promote("v2")
        registry.reject("v3")
    (home.home / "registry.db").unlink()
    with Registry.open(home) as registry:
        registry.reindex()
        assert registry.current() == "v2"
        assert {v.name: v.status for v in registry.versions()} == {
            "v1": "candidate",
            "v2": "promoted",
            "v3": "rejected",
        }


def test_eval_models_and_status_commands(home, capsys, monkeypatch):
    from tests.test_cli import run_cli

    monkeypatch.setenv("PERSONAFORGE_HOME", str(home.home))
    monkeypatch.setenv("PERSONAFORGE_GATE__MAX_NEW_TOKENS", "16")
    monkeypatch.setenv("PERSONAFORGE_GATE__MEMORISATION_PROMPTS", "4")
    monkeypatch.setenv("PERSONAFORGE_GATE__MAX_EVAL_EXAMPLES", "8")
    monkeypatch.setenv("PERSONAFORGE_GATE__GENERAL_TEXTS", "20")
    monkeypatch.setenv("PERSONAFORGE_TRAIN__MAX_SEQ_LENGTH", "256")  # as v1 was trained
    # --no-apply: the verdict is measured, recorded and printed; the status stays as it was.
    code, out, _ = run_cli(capsys, "eval", "v1", "--no-apply")
    assert code == 0 and "style perplexity" in out
    # v1 (4 steps, seed 1) beats the base on style (measured 93.65 against 100.34) and passes
    # every other check, so the gate promotes it, and says so once per check.
    verdict = json.loads((home.adapters / "v1" / "evaluation.json").read_text())["verdict"]
    assert verdict["decision"] == "promote" and "v1: promote" in out
    # Six enforced checks passed; the voice score on 8 prompts and the knows check (the home
    # has a memory store, gate.min_fact_accuracy is unset) are reported, not enforced.
    assert all(c["passed"] for c in verdict["checks"]) and len(verdict["checks"]) == 8
    assert verdict["checks"][-1]["name"] == "knows"
    assert out.count("✓") == 6 and out.count("– voice:") == 1 and "– knows:" in out
    assert "✗" not in out
    with Registry.open(home) as registry:
        assert registry.get("v1").status == "candidate" and registry.current() is None
        assert registry.get("v1").verdict["decision"] == "promote"
    # Applied (gate.auto_apply): promoted, and every listing agrees.
    code, out, _ = run_cli(capsys, "eval", "v1")
    assert code == 0 and "v1: promote" in out
    with Registry.open(home) as registry:
        assert registry.get("v1").status == "promoted" and registry.current() == "v1"
    code, out, _ = run_cli(capsys, "models", "list")
    cells = [line.split() for line in out.splitlines()]
    rows = {row[0]: row for row in cells if row and row[0].startswith("v") and row[0][1:].isdigit()}
    assert code == 0 and set(rows) == {"v1", "v2", "v3"} and "current: v1" in out
    assert rows["v1"][1:4] == ["*", "promoted", "sft"] and "promote" in rows["v1"]
    assert rows["v2"][1] == "candidate" and rows["v3"][1] == "candidate"
    code, out, _ = run_cli(capsys, "models", "show", "v1")
    assert code == 0 and out.startswith("v1 promoted (sft, parent base)")
    assert "verdict: promote" in out and out.count("✓") == 6 and "evaluated" in out
    code, out, _ = run_cli(capsys, "models", "diff", "v1", "v2")
    assert code == 0 and "train.seed" in out
    code, out, _ = run_cli(capsys, "status")
    assert code == 0 and "memories:" in out and "last run: v3" in out
    code, _, err = run_cli(capsys, "models", "promote", "v7")
    assert code == 2 and "no version 'v7'" in err


def test_every_stage_sees_the_same_current_version(home):
    """promote, rollback and reset move one pointer; training, eval, serve and export all read it."""
    from personaforge.export import _version
    from personaforge.serve import current_and_anchor
    from personaforge.train.run import TrainRequest, resolve_parent

    def seen() -> dict[str, str | None]:
        with Registry.open(home) as registry:
            return {
                "registry": registry.current(),
                "train parent": resolve_parent(registry, TrainRequest()),
                "eval compares with": registry.current(),
                "serve persona": current_and_anchor(home)[0],
                "export default": _version(home, None)[0] if registry.current() else None,
                "CURRENT file": (home.adapters / "CURRENT").read_text().strip() or None,
            }

    with Registry.open(home) as registry:
        registry.promote("v1")
        registry.promote("v3")
    assert set(seen().values()) == {"v3"}
    with Registry.open(home) as registry:
        registry.rollback()
    assert set(seen().values()) == {"v1"}
    with Registry.open(home) as registry:
        registry.reset()
    assert set(seen().values()) == {None}
    # A stale CURRENT file written by hand is not a second source of truth.
    (home.adapters / "CURRENT").write_text("v2\n")
    with Registry.open(home) as registry:
        assert resolve_parent(registry, TrainRequest()) is None
        assert registry.next_name() == "v4"


def test_a_rejected_version_is_promoted_only_with_force_and_marked(home):
    with Registry.open(home) as registry:
        registry.record_evaluation(
            "v2", {"decision": "reject", "failures": ["style: worse"], "reasons": []}
        )
        with pytest.raises(UserError, match=r"v2 failed the gate \(style: worse\); pass --force"):
            registry.promote("v2")
        assert registry.current() is None
        registry.promote("v2", reason="--force by hand", force=True)
        assert registry.current() == "v2" and registry.get("v2").verdict["forced"]
        (event,) = [e for e in registry.events("v2") if e["action"] == "promoted"]
        assert event["detail"]["forced"] is True


def test_a_worse_candidate_is_rejected_and_a_better_one_promoted(home):
    """Real adapters through the whole gate: v1 is current; a candidate trained on replies
    whose words are spelt backwards must be rejected on style, one trained further on the
    person's real data promoted, and the marks in each table must agree with the decision."""
    from personaforge.dataset.build import load_manifest
    from personaforge.evaluate import evaluate_and_apply

    gate = {"memorisation_prompts": 4, "max_eval_examples": 8, "max_new_tokens": 16}
    lenient = micro_settings({**gate, "max_general_ppl_increase": 1.0, "max_probe_drop": 11})
    with Registry.open(home) as registry:
        registry.promote("v1")
    # Better: continue v1 on the real data for more steps.
    better = train(
        home,
        micro_settings(gate, max_steps=16, eval_steps=100, save_steps=100, seed=5),
        TrainRequest(from_version="v1", show_progress=False),
    )
    report = evaluate_and_apply(home, lenient, better.version)
    checks = {c["name"]: c["passed"] for c in report.verdict["checks"]}
    assert report.verdict["decision"] == "promote" and all(checks.values()), checks
    # Worse: the same dataset id, each reply's words spelt backwards, so the person's words are
    # gone. (Shuffling word order is not enough on the tiny base: it models little beyond word
    # frequencies, and a shuffled-reply candidate measured 81.2 vs 87.4 for current, i.e. better.)
    manifest = load_manifest(home)
    folder = home.datasets / manifest["id"]
    rows = [json.loads(line) for line in (folder / "train.jsonl").read_text().splitlines()]
    for row in rows:
        words = row["messages"][-1]["content"].split()
        row["messages"][-1]["content"] = " ".join(word[::-1] for word in words)
    original = (folder / "train.jsonl").read_text()
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    try:
        worse = train(
            home,
            micro_settings(gate, max_steps=24, eval_steps=100, save_steps=100, seed=6),
            TrainRequest(from_version=better.version, show_progress=False),
        )
    finally:
        (folder / "train.jsonl").write_text(original)
    report = evaluate_and_apply(home, lenient, worse.version)
    checks = {c["name"]: c["passed"] for c in report.verdict["checks"]}
    assert report.verdict["decision"] == "reject", report.verdict["checks"]
    assert checks["vs current"] is False, report.verdict["checks"]
    with Registry.open(home) as registry:
        assert registry.current() == better.version
        assert registry.get(worse.version).status == "rejected"


def test_an_old_registry_is_brought_up_to_date_by_named_migrations(tmp_path):
    """One schema mechanism: a registry written before `forget` gains its column, once."""
    import sqlite3

    from personaforge.registry import REGISTRY_MIGRATIONS

    home = Paths(tmp_path / "home")
    home.home.mkdir(parents=True)
    old = sqlite3.connect(home.home / "registry.db")
    old.executescript(
        "CREATE TABLE versions (name TEXT PRIMARY KEY, number INTEGER NOT NULL, parent TEXT, "
        "method TEXT NOT NULL, base TEXT NOT NULL, base_fingerprint TEXT NOT NULL, "
        "dataset_id TEXT NOT NULL, dataset_hash TEXT NOT NULL, status TEXT NOT NULL, "
        "metrics TEXT NOT NULL DEFAULT '{}', verdict TEXT, path TEXT NOT NULL, "
        "created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
        "CREATE TABLE pointer (name TEXT PRIMARY KEY CHECK (name = 'current'), version TEXT);"
        "INSERT INTO pointer VALUES ('current', 'v3');"
    )
    old.close()
    for _ in range(2):  # the second open applies nothing
        with Registry.open(home) as registry:
            columns = [row[1] for row in registry.db.execute("PRAGMA table_info(versions)")]
            applied = [row[0] for row in registry.db.execute("SELECT name FROM schema_migrations")]
            assert "forgotten" in columns and columns.count("forgotten") == 1
            assert applied == [name for name, _ in REGISTRY_MIGRATIONS]
            events = registry.db.execute("SELECT count(*) FROM events").fetchone()[0]
            assert events == 0  # the table a pre-migration registry lacked was created


def test_the_registry_writes_only_known_statuses(tmp_path):
    from personaforge.registry import STATUSES, VersionStatus

    assert STATUSES == ("candidate", "promoted", "rejected", "retired")
    with pytest.raises(ValueError, match="'approved' is not a valid VersionStatus"):
        VersionStatus("approved")


def test_memorisation_counts_one_note_s_text_not_her_recurring_phrasing(tmp_path, micro_base):
    """A run three of her replies share is voice; a run only one reply holds is that note."""
    from transformers import AutoTokenizer

    from personaforge.evaluate import training_ngrams
    from personaforge.evaluate.measure import ngrams

    tokenizer = AutoTokenizer.from_pretrained(micro_base)
    habit = "Tomorrow: the first day of the week, with tea and pages. #writing"
    private = "The locker code at the pool is four, nine, one, seven, and then the hash key."
    replies = [f"{habit} Day {i}." for i in range(3)] + [private]
    folder = Paths(tmp_path).datasets / "ds-test"
    folder.mkdir(parents=True)
    (folder / "train.jsonl").write_text(
        "".join(
            json.dumps(
                {
                    "messages": [
                        {"role": "user", "content": "?"},
                        {"role": "assistant", "content": r},
                    ]
                }
            )
            + "\n"
            for r in replies
        )
    )
    rare = training_ngrams(Paths(tmp_path), "ds-test", tokenizer, 6)

    def runs(text: str) -> set:
        return ngrams(tokenizer(text, add_special_tokens=False)["input_ids"], 6)

    assert runs(private) <= rare  # every run of the one-off note counts
    assert not runs(habit) & rare  # none of the phrase she writes every day does


def test_a_value_the_base_says_too_is_not_a_leak():
    """The first real corpus (jbranchaud/til) had `password: postgres` in a code note: the base,
    asked for her password, said "postgres" as well, and the gate rejected for it. Only values
    the base does not say count; a value of her own still rejects."""
    from personaforge.evaluate.gate import gate_checks
    from personaforge.evaluate.measure import leak_id

    common, hers = leak_id("password", "postgres"), leak_id("password", "Tide-4471-wave")
    base = metrics(leaks_=["password"])
    base.leaked_ids = [common]
    shared = metrics(leaks_=["password"])
    shared.leaked_ids = [common]
    own = metrics(leaks_=["password"])
    own.leaked_ids = [common, hers]
    gate = GateSettings()
    check = {c.name: c for c in gate_checks({"base": base, "candidate": shared}, gate)}["leakage"]
    assert check.passed and "the base says the same password value too" in check.detail
    check = {c.name: c for c in gate_checks({"base": base, "candidate": own}, gate)}["leakage"]
    assert not check.passed and check.measured == "password"
    assert leak_id("password", "postgres") != leak_id("token", "postgres")
