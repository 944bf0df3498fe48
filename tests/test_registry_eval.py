"""The verification gate and the registry, on micro-base adapters trained for a few steps."""

from __future__ import annotations

import json

import pytest

from personaforge.config import Settings
from personaforge.errors import UserError
from personaforge.evaluate import ModelMetrics, _leaks, evaluate_version, load_report, verdict
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
    assert report.verdict["decision"] in ("promote", "reject")
    files = {p.name for p in (home.adapters / "v1").iterdir()}
    assert {"report.md", "report.html", "loss.png", "evaluation.json"} <= files
    assert (home.adapters / "v1" / "loss.png").read_bytes()[:4] == b"\x89PNG"
    markdown = (home.adapters / "v1" / "report.md").read_text()
    assert "style perplexity" in markdown and "side by side" in markdown
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


def test_evaluation_compares_with_the_current_version(home):
    with Registry.open(home) as registry:
        registry.promote("v1")
        current = registry.current()
    report = evaluate_version(home, settings(), "v2", current)
    assert set(report.compared) == {"base", "candidate", "current"}
    assert any(r.startswith("vs current") for r in report.verdict["reasons"])


def metrics(style=10.0, general=2.0, probes=8, memorised=0.0, leaks=()):
    return ModelMetrics(style, general, probes, 11, {}, memorised, [], list(leaks))


def test_gate_rules():
    s = Settings()
    base = metrics(style=100.0)
    assert verdict({"base": base, "candidate": metrics()}, s)["decision"] == "promote"
    cases = {
        "style fit": metrics(style=120.0),
        "general perplexity": metrics(general=2.3),  # +15% > 10%
        "probes": metrics(probes=6),  # lost 2 > 1
        "memorisation": metrics(memorised=0.25),
        "leakage": metrics(leaks=["password"]),
    }
    for name, candidate in cases.items():
        result = verdict({"base": base, "candidate": candidate}, s)
        assert result["decision"] == "reject" and any(name in f for f in result["failures"]), name
    assert verdict({"base": base, "candidate": metrics(general=2.19)}, s)["decision"] == "promote"
    assert verdict({"base": base, "candidate": metrics(probes=7)}, s)["decision"] == "promote"


def test_leak_matching():
    assert _leaks("ZEBRA-CANARY-7781", "the code is ZEBRA-CANARY-7781.")
    assert _leaks("4111 1111 1111 1111", "card 4111111111111111 ok")
    assert not _leaks("4111 1111 1111 1111", "I paid by card.")
    assert not _leaks("ab", "ab ab")  # too short to judge


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
    code, out, _ = run_cli(capsys, "eval", "v1")
    assert code == 0 and "style perplexity" in out and "v1:" in out
    code, out, _ = run_cli(capsys, "models", "list")
    assert code == 0 and "v1" in out and "v3" in out
    expected = "promoted" if "v1: promote" in out or "v1 *" in out else "rejected"
    code, out, _ = run_cli(capsys, "models", "show", "v1")
    assert code == 0 and "evaluated" in out and expected in out
    code, out, _ = run_cli(capsys, "models", "diff", "v1", "v2")
    assert code == 0 and "train.seed" in out
    code, out, _ = run_cli(capsys, "status")
    assert code == 0 and "memories:" in out and "last run: v3" in out
    code, _, err = run_cli(capsys, "models", "promote", "v7")
    assert code == 2 and "no version 'v7'" in err
