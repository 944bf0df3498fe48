"""Resolving base models and sizing them without loading weights."""

from __future__ import annotations

import json
import shutil

import pytest

from personaforge import base
from personaforge.errors import UserError


def test_tiny_resolves_to_a_local_folder_through_the_same_loader(home_with_micro):
    ref = base.resolve_base("tiny:micro", home_with_micro)
    assert ref.kind == "builtin" and ref.is_local
    model = base.load_model(ref)
    tokenizer = base.load_tokenizer(ref)
    assert model.config.vocab_size == len(tokenizer)


def test_local_folder_and_hub_id_are_classified(micro_base, paths):
    local = base.resolve_base(str(micro_base), paths)
    assert local.kind == "local" and local.location == str(micro_base)
    hub = base.resolve_base("Qwen/Qwen2.5-0.5B-Instruct", paths, revision="main")
    assert hub.kind == "hub" and hub.revision == "main" and not hub.is_local


@pytest.mark.parametrize("name", ["not a model", "./missing-folder", "a/b/c"])
def test_unusable_names_are_user_errors(paths, name):
    with pytest.raises(UserError, match="neither a local folder nor a Hugging Face id"):
        base.resolve_base(name, paths)


def test_folder_without_config_is_refused(paths, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match=r"has no config\.json"):
        base.resolve_base(str(tmp_path / "empty"), paths)


def test_uncached_hub_model_fails_with_one_line(paths):
    ref = base.resolve_base("personaforge-test/does-not-exist", paths)
    base.go_offline_if_possible(ref)  # as every command does first: no minute of hub retries
    with pytest.raises(
        UserError, match="cannot load base model 'personaforge-test/does-not-exist'"
    ):
        base.load_tokenizer(ref)


def test_parameter_counts_agree_with_the_real_model(micro_base):
    from transformers import AutoModelForCausalLM

    actual = sum(p.numel() for p in AutoModelForCausalLM.from_pretrained(micro_base).parameters())
    config = json.loads((micro_base / "config.json").read_text())
    assert base.count_from_safetensors(micro_base) == actual
    assert base.count_from_config(config) == actual
    info = base.describe_base(base.BaseRef("x", "local", str(micro_base)))
    assert info.parameters == actual and info.parameters_source == "safetensors headers"
    assert info.available_locally


def test_config_count_handles_tied_embeddings(micro_base, tmp_path):
    folder = tmp_path / "tied"
    shutil.copytree(micro_base, folder)
    config = json.loads((folder / "config.json").read_text())
    untied = base.count_from_config(config)
    config["tie_word_embeddings"] = True
    assert untied - base.count_from_config(config) == config["vocab_size"] * config["hidden_size"]


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
    assert base.count_from_name(name) == expected


def test_unbuilt_tiny_is_sized_from_its_spec(paths):
    ref = base.resolve_base("tiny", paths, build=False)
    info = base.describe_base(ref)
    assert info.parameters and info.parameters_source.startswith("built-in spec")
    assert not (paths.models).exists()  # describing never builds


def test_prequantized_names_are_detected(paths):
    info = base.describe_base(
        base.resolve_base("unsloth/Meta-Llama-3.1-8B-Instruct-bnb-4bit", paths)
    )
    assert info.prequantized_bits == 4 and info.parameters == 8e9
