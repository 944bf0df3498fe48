"""Resolving base models and sizing them without loading weights."""

from __future__ import annotations

import json
import shutil

import pytest

from personaforge import bases
from personaforge.errors import UserError


def test_tiny_resolves_to_a_local_folder_through_the_same_loader(home_with_micro):
    ref = bases.resolve_base("tiny:micro", home_with_micro)
    assert ref.kind == "builtin" and ref.is_local
    model = bases.load_model(ref)
    tokenizer = bases.load_tokenizer(ref)
    assert model.config.vocab_size == len(tokenizer)


def test_local_folder_and_hub_id_are_classified(micro_base, paths):
    local = bases.resolve_base(str(micro_base), paths)
    assert local.kind == "local" and local.location == str(micro_base)
    hub = bases.resolve_base("Qwen/Qwen2.5-0.5B-Instruct", paths, revision="main")
    assert hub.kind == "hub" and hub.revision == "main" and not hub.is_local


@pytest.mark.parametrize("name", ["not a model", "./missing-folder", "a/b/c"])
def test_unusable_names_are_user_errors(paths, name):
    with pytest.raises(UserError, match="neither a local folder nor a Hugging Face id"):
        bases.resolve_base(name, paths)


def test_folder_without_config_is_refused(paths, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match=r"has no config\.json"):
        bases.resolve_base(str(tmp_path / "empty"), paths)


def test_uncached_hub_model_fails_with_one_line(paths):
    ref = bases.resolve_base("personaforge-test/does-not-exist", paths)
    bases.go_offline_if_possible(ref)  # as every command does first: no minute of hub retries
    with pytest.raises(
        UserError, match="cannot load base model 'personaforge-test/does-not-exist'"
    ):
        bases.load_tokenizer(ref)


def test_parameter_counts_agree_with_the_real_model(micro_base):
    from transformers import AutoModelForCausalLM

    actual = sum(p.numel() for p in AutoModelForCausalLM.from_pretrained(micro_base).parameters())
    config = json.loads((micro_base / "config.json").read_text())
    assert bases.count_from_safetensors(micro_base) == actual
    assert bases.count_from_config(config) == actual
    info = bases.describe_base(bases.BaseRef("x", "local", str(micro_base)))
    assert info.parameters == actual and info.parameters_source == "safetensors headers"
    assert info.available_locally


def test_config_count_handles_tied_embeddings(micro_base, tmp_path):
    folder = tmp_path / "tied"
    shutil.copytree(micro_base, folder)
    config = json.loads((folder / "config.json").read_text())
    untied = bases.count_from_config(config)
    config["tie_word_embeddings"] = True
    assert untied - bases.count_from_config(config) == config["vocab_size"] * config["hidden_size"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("unsloth/Meta-Llama-3.1-8B-Instruct-bnb-4bit", 8e9),
        ("Qwen/Qwen2.5-0.5B-Instruct", 0.5e9),
        ("HuggingFaceTB/SmolLM2-360M-Instruct", 360e6),
        ("mistralai/Mistral-7B-v0.3", 7e9),
        ("org/no-size-here", None),
    ],
)
def test_size_from_name(name, expected):
    assert bases.count_from_name(name) == expected


def test_unbuilt_tiny_is_sized_from_its_spec(paths):
    ref = bases.resolve_base("tiny", paths, build=False)
    info = bases.describe_base(ref)
    assert info.parameters and info.parameters_source.startswith("built-in spec")
    assert not (paths.models).exists()  # describing never builds


def test_prequantized_names_are_detected(paths):
    info = bases.describe_base(
        bases.resolve_base("unsloth/Meta-Llama-3.1-8B-Instruct-bnb-4bit", paths)
    )
    assert info.prequantized_bits == 4 and info.parameters == 8e9


# -- built once per machine: the shared cache ---------------------------------------------------


def test_the_cache_is_personaforge_cache_then_xdg_then_home(monkeypatch, tmp_path):
    from personaforge.paths import CACHE_ENV, resolve_cache

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert resolve_cache() == tmp_path / "explicit"
    monkeypatch.delenv(CACHE_ENV)
    assert resolve_cache() == tmp_path / "xdg" / "personaforge"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert resolve_cache() == tmp_path / "user" / ".cache" / "personaforge"


def test_a_second_home_uses_the_first_homes_build(tmp_path, micro_base, monkeypatch):
    """The build runs once, into the shared cache; another home resolves to it without building."""
    from personaforge.bases.tiny import build as tiny_build
    from personaforge.paths import Paths

    builds = []

    def copy_instead_of_pretraining(spec, folder):  # the real build takes a minute on 2 cores
        builds.append(folder)
        shutil.copytree(micro_base, folder)
        return bases.read_builtin_card(folder)

    monkeypatch.setattr(tiny_build, "build_tiny_base", copy_instead_of_pretraining)
    first, second = Paths(tmp_path / "first"), Paths(tmp_path / "second")
    built = bases.resolve_base("tiny:micro", first)
    reused = bases.resolve_base("tiny:micro", second)
    assert len(builds) == 1 and builds[0].parent == first.bases
    assert reused.location == built.location == str(builds[0])
    assert not first.models.exists() and not second.models.exists()
    assert bases.available_locally(second)[0] == "tiny:micro"  # built here, listed first


def test_a_home_with_its_own_build_keeps_using_it(home_with_micro, micro_models_dir):
    ref = bases.resolve_base("tiny:micro", home_with_micro)
    assert ref.location.startswith(str(home_with_micro.models))  # not rebuilt in the cache
    assert not home_with_micro.bases.exists()


# -- model.base = auto -------------------------------------------------------------------------------

GIB = 1024**3


@pytest.mark.parametrize(
    ("device", "gib", "expected", "because"),
    [
        ("cpu", 24, "smollm2-135m", "CPU only"),
        ("cuda", 8, "Qwen/Qwen2.5-1.5B-Instruct", "under the 12 GB"),
        ("cuda", 11.5, "Qwen/Qwen2.5-1.5B-Instruct", "under the 12 GB"),
        ("cuda", 12, "unsloth/Meta-Llama-3.1-8B-Instruct-bnb-4bit", "8B instruct model in 4-bit"),
        ("cuda", 80, "unsloth/Meta-Llama-3.1-8B-Instruct-bnb-4bit", "8B instruct model in 4-bit"),
        ("mps", 32, "Qwen/Qwen2.5-1.5B-Instruct", "unified memory"),
        ("mps", 8, "smollm2-135m", "too little"),
        ("xpu", 64, "smollm2-135m", "CPU only"),  # an unknown device is treated as a CPU
    ],
)
def test_auto_chooses_a_base_that_fits_the_hardware(device, gib, expected, because):
    choice = bases.choose_base(device, int(gib * GIB), reachable=lambda name: True)
    assert choice.name == expected and because in choice.why


def test_auto_falls_back_to_the_builtin_real_base_when_the_hub_is_unreachable():
    asked = []
    choice = bases.choose_base("cuda", 24 * GIB, reachable=lambda name: asked.append(name) or False)
    assert choice.name == "smollm2-135m" and "hub does not answer" in choice.why
    assert asked == ["unsloth/Meta-Llama-3.1-8B-Instruct-bnb-4bit"]


def test_auto_keeps_the_current_versions_base(paths):
    """A home with a current version trains on its base, whatever the hardware would pick."""
    from personaforge.config import Settings
    from personaforge.registry import Registry
    from personaforge.train.defaults import with_base_for_machine
    from personaforge.train.plan import Accelerator

    cpu = Accelerator("cpu", "test cpu", 24 * GIB, cpu_cores=2)
    fresh, line = with_base_for_machine(paths, Settings(), cpu)
    assert fresh.model.base == "smollm2-135m" and "CPU only" in line
    card = {
        "version": "v1",
        "method": "sft",
        "base": {"name": "tiny:micro", "fingerprint": "f"},
        "dataset": {"id": "ds-x", "manifest_sha256": "h"},
        "created_at": "2026-12-01T00:00:00+00:00",
    }
    (paths.adapters / "v1").mkdir(parents=True)
    (paths.adapters / "v1" / "personaforge.json").write_text(json.dumps(card))
    with Registry.open(paths) as registry:
        registry.register("v1")
        registry.promote("v1", force=True)
    kept, line = with_base_for_machine(paths, Settings(), cpu)
    assert kept.model.base == "tiny:micro" and "current version v1" in line
    named, line = with_base_for_machine(paths, Settings(model={"base": "tiny"}), cpu)
    assert named.model.base == "tiny" and line is None  # a named base is never replaced


def test_offline_load_failure_names_the_builtin_real_base(paths):
    ref = bases.resolve_base("personaforge-test/does-not-exist", paths)
    bases.go_offline_if_possible(ref)
    with pytest.raises(UserError, match=r"fix: `personaforge config set model\.base smollm2-135m`"):
        bases.load_tokenizer(ref)
