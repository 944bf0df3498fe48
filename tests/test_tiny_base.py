"""The built-in tiny base: deterministic, a standard HF folder, a usable chat model."""

from __future__ import annotations

import json

import pytest

from personaforge.bases.tiny import build
from personaforge.bases.tiny.corpus import generate_corpus, split_heldout
from personaforge.bases.tiny.tables import COUNTRIES


def test_corpus_is_deterministic_and_split_is_disjoint():
    first, second = generate_corpus(3, 500), generate_corpus(3, 500)
    assert first == second
    assert generate_corpus(4, 500) != first
    train, heldout = split_heldout(first, 0.1, 3)
    assert len(train) + len(heldout) == 500
    assert 20 <= len(heldout) <= 80
    assert not {id(d) for d in train} & {id(d) for d in heldout}


def test_corpus_facts_match_the_tables():
    capitals = {country: capital for country, capital, _ in COUNTRIES}
    stated = []
    for document in generate_corpus(11, 3000):
        for message in document.messages:
            text = message["content"]
            if text.startswith("The capital of ") and message["role"] == "assistant":
                country, capital = text[len("The capital of ") : -1].split(" is ", 1)
                stated.append((country, capital))
    # The corpus states capitals often, for many countries, and every one is right.
    assert len(stated) >= 100 and len({country for country, _ in stated}) >= len(capitals) // 2
    assert [(c, capitals.get(c)) for c, _ in stated] == stated


def test_micro_build_is_deterministic(tmp_path):
    spec = build.get_spec("micro")
    card_a = build.build_tiny_base(spec, tmp_path / "a")
    card_b = build.build_tiny_base(spec, tmp_path / "b")
    assert card_a["weights_sha256"] == card_b["weights_sha256"]
    assert card_a["corpus_sha256"] == card_b["corpus_sha256"]
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_folder_is_a_standard_hugging_face_model(micro_base):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    names = {p.name for p in micro_base.iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "generation_config.json",
        "chat_template.jinja",
        "personaforge-base.json",
        "heldout.jsonl",
    } <= names
    tokenizer = AutoTokenizer.from_pretrained(micro_base)
    model = AutoModelForCausalLM.from_pretrained(micro_base)
    assert model.config.model_type == "llama"
    assert model.config.num_key_value_heads < model.config.num_attention_heads  # GQA like Llama 3
    assert tokenizer.eos_token == build.IM_END and tokenizer.bos_token == build.BOS
    generation = json.loads((micro_base / "generation_config.json").read_text())
    assert tokenizer.convert_tokens_to_ids(build.IM_END) in generation["eos_token_id"]


def test_plain_text_gets_exactly_one_bos(micro_base):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(micro_base)
    ids = tokenizer("hello world")["input_ids"]
    assert ids[0] == tokenizer.bos_token_id and ids.count(tokenizer.bos_token_id) == 1
    chat = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=True, return_dict=True
    )["input_ids"]
    assert chat.count(tokenizer.bos_token_id) == 1


def test_chat_template_marks_only_assistant_content_for_loss(micro_base):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(micro_base)
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is 2 + 2?"},
        {"role": "assistant", "content": "2 + 2 = 4."},
        {"role": "user", "content": "Thanks."},
        {"role": "assistant", "content": "You are welcome."},
    ]
    encoded = tokenizer.apply_chat_template(
        messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    ids, mask = encoded["input_ids"], encoded["assistant_masks"]
    trained = tokenizer.decode([t for t, m in zip(ids, mask, strict=True) if m])
    assert trained == "2 + 2 = 4.<|im_end|>You are welcome.<|im_end|>"
    rendered = tokenizer.apply_chat_template(messages, tokenize=False)
    assert rendered.count("<|im_start|>") == 5 and "\n<|im_start|>user" in rendered


def test_card_records_build_and_perplexity_far_below_uniform(micro_base):
    card = build.read_card(micro_base)
    assert card["parameters"] > 0 and card["build_seconds"] > 0
    heldout = card["heldout"]
    assert heldout["uniform_perplexity"] == card["vocab_size"]
    assert heldout["perplexity"] < heldout["uniform_perplexity"] / 5
    log = (micro_base / build.LOG_FILE).read_text().splitlines()
    assert len(log) == card["spec"]["steps"]
    first, last = json.loads(log[0]), json.loads(log[-1])
    assert last["loss"] < first["loss"] - 1.0  # pretraining actually learned


def test_generation_stops_at_eos(micro_base):
    """generate() must treat <|im_end|> as the end of a reply, or every answer runs to max_new_tokens.

    The 60-step micro base is too weak to end its turns by itself, so the test
    forces the token through a logits processor and checks that generation stops on it.
    """
    import torch
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        LogitsProcessor,
        LogitsProcessorList,
    )

    tokenizer = AutoTokenizer.from_pretrained(micro_base)
    model = AutoModelForCausalLM.from_pretrained(micro_base)
    im_end = tokenizer.convert_tokens_to_ids(build.IM_END)
    assert tokenizer.eos_token == build.IM_END
    assert im_end in (
        [model.generation_config.eos_token_id]
        if isinstance(model.generation_config.eos_token_id, int)
        else model.generation_config.eos_token_id
    )

    class EndAfterThree(LogitsProcessor):
        def __init__(self, prompt_length: int):
            self.prompt_length = prompt_length

        def __call__(self, input_ids, scores):
            if input_ids.shape[1] - self.prompt_length >= 3:
                scores[:] = -torch.inf
                scores[:, im_end] = 0.0
            return scores

    inputs = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is 3 + 4?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    prompt_length = inputs["input_ids"].shape[1]
    output = model.generate(
        **inputs,
        max_new_tokens=32,
        do_sample=False,
        logits_processor=LogitsProcessorList([EndAfterThree(prompt_length)]),
    )
    assert output[0, prompt_length:].tolist()[-1] == im_end
    assert output.shape[1] - prompt_length == 4


def test_cache_is_reused_and_force_rebuilds(tmp_path):
    folder = build.ensure_tiny_base(tmp_path, "micro")
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert build.ensure_tiny_base(tmp_path, "micro") == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp
    build.ensure_tiny_base(tmp_path, "micro", force=True)
    assert (folder / "model.safetensors").stat().st_mtime_ns != stamp


def test_failed_build_leaves_nothing_that_looks_finished(tmp_path, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("power cut")

    monkeypatch.setattr(build, "heldout_perplexity", crash)
    with pytest.raises(RuntimeError):
        build.ensure_tiny_base(tmp_path, "micro")
    assert build.read_card(build.tiny_folder(tmp_path, "micro")) is None
    assert not build.tiny_folder(tmp_path, "micro").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_unknown_preset_is_a_user_error(tmp_path):
    from personaforge.errors import UserError

    with pytest.raises(UserError, match="unknown tiny preset 'huge'"):
        build.ensure_tiny_base(tmp_path, "huge")
