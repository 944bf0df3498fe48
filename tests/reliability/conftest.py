"""Shared fixtures for the reliability suite, and how a test reports what it tried.

Every test here ends up as a row of docs/reliability.md (`bench/reliability_table.py`
runs this folder with --junitxml and renders the table). A row shows the test's
docstring (first line), how many trials it ran and what held. Record them with the
`trials` fixture:

    def test_x(trials):
        for case in cases:
            ...
            trials.add()                      # one more trial (or trials.add(n))
        trials.held("no 5xx; every error in the OpenAI shape")

Both end up as junit `<property>`s (pytest's record_property), so any test in this
folder, whatever it exercises, is counted the same way. A test that records nothing
counts as one trial.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from personaforge.paths import Paths


class Trials:
    def __init__(self):
        self.count = 0
        self.summary: str | None = None

    def add(self, count: int = 1) -> None:
        self.count += count

    def held(self, summary: str) -> None:
        self.summary = summary


@pytest.fixture
def trials(record_property):
    recorder = Trials()
    yield recorder
    record_property("trials", recorder.count or 1)
    if recorder.summary:
        record_property("held", recorder.summary)


@pytest.fixture(autouse=True)
def _describe(request, record_property):
    """The docstring's first line is the row's description."""
    doc = (getattr(request.function, "__doc__", None) or "").strip().splitlines()
    if doc:
        record_property("checks", doc[0])


# -- a home with adapters, without training ------------------------------------------------------------------


def make_adapter(
    paths: Paths,
    version: str,
    base_location: str,
    card_base: dict,
    rank: int = 4,
    seed: int = 0,
) -> Path:
    """A real PEFT LoRA folder with random (non-zero) weights and a version card.

    The weights' values do not matter to the machinery under test; random LoRA B
    matrices make each adapter's output differ from the base and from the others.
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(seed)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(base_location),
        LoraConfig(
            r=rank,
            lora_alpha=2 * rank,
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
            init_lora_weights=False,
            task_type="CAUSAL_LM",
        ),
    )
    folder = paths.adapters / version
    model.save_pretrained(str(folder))
    AutoTokenizer.from_pretrained(base_location).save_pretrained(str(folder))
    card = {
        "version": version,
        "method": "sft",
        "status": "candidate",
        "created_at": "2026-01-01T00:00:00+00:00",
        "parent": None,
        "base": card_base,
        "dataset": {"id": "reliability", "manifest_sha256": "none"},
        "metrics": {},
    }
    (folder / "personaforge.json").write_text(json.dumps(card, indent=2))
    return folder


@pytest.fixture(scope="session")
def micro_card_base(micro_models_dir, tmp_path_factory) -> dict:
    """The `base` block a version card trained on the session's micro base carries."""
    from personaforge.bases import base_fingerprint, resolve_base

    paths = Paths(tmp_path_factory.mktemp("fingerprint"))
    paths.home.mkdir(parents=True, exist_ok=True)
    paths.models.symlink_to(micro_models_dir, target_is_directory=True)
    ref = resolve_base("tiny:micro", paths)
    return {
        "name": "tiny:micro",
        "kind": ref.kind,
        "location": ref.location,
        "revision": None,
        "fingerprint": base_fingerprint(ref),
    }


@pytest.fixture(scope="session")
def adapter_home_factory(tmp_path_factory, micro_models_dir, micro_card_base):
    """Make a fresh home with the micro base and versions v1..vN (v1 promoted)."""
    from personaforge.registry import Registry

    def make(versions: int = 3) -> Paths:
        paths = Paths(tmp_path_factory.mktemp("reliability") / "home")
        paths.home.mkdir(parents=True)
        paths.models.symlink_to(micro_models_dir, target_is_directory=True)
        for index in range(1, versions + 1):
            make_adapter(
                paths, f"v{index}", micro_card_base["location"], micro_card_base, seed=index
            )
        with Registry.open(paths) as registry:
            registry.promote("v1")
        return paths

    return make


def read_log(paths: Paths) -> list[str]:
    """The server's access log lines."""
    from personaforge.serve.guard import access_log_path

    path = access_log_path(paths)
    return path.read_text().splitlines() if path.exists() else []
