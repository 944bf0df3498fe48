"""The built-in real base: its template, its build inputs, its place among the bases.

Building it needs a 93 MB download and about a minute, so the build itself runs
in `make test-full` (marked slow); these tests check what can be checked
without it.
"""

from __future__ import annotations

import os

import pytest
from transformers.utils.chat_template_utils import render_jinja_template

from personaforge import bases
from personaforge.bases import smollm2
from personaforge.errors import UserError

CONVERSATIONS = [
    [{"role": "user", "content": "What is 3 + 4?"}],
    [
        {"role": "system", "content": "You are Maren."},
        {"role": "user", "content": "How was your week?"},
        {"role": "assistant", "content": "Busy. Net: fine."},
        {"role": "user", "content": "And the run?"},
    ],
    [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello — how can I help?\nTwo lines."},
    ],
]


def render(template: str, messages, add_generation_prompt: bool) -> str:
    rendered, _ = render_jinja_template(
        conversations=[messages],
        chat_template=template,
        add_generation_prompt=add_generation_prompt,
        return_assistant_tokens_mask=False,
    )
    return rendered[0]


@pytest.mark.parametrize("messages", CONVERSATIONS)
@pytest.mark.parametrize("add_generation_prompt", [True, False])
def test_generation_template_renders_exactly_the_gguf_template(messages, add_generation_prompt):
    """Marking assistant turns for TRL must not change one byte the model sees."""
    expected = render(smollm2.GGUF_TEMPLATE, messages, add_generation_prompt)
    assert render(smollm2.GENERATION_TEMPLATE, messages, add_generation_prompt) == expected
    assert "{% generation %}" in smollm2.GENERATION_TEMPLATE


def test_generation_markers_cover_the_reply_and_its_stop_token():
    messages = CONVERSATIONS[2]
    rendered, masks = render_jinja_template(
        conversations=[messages],
        chat_template=smollm2.GENERATION_TEMPLATE,
        return_assistant_tokens_mask=True,
    )
    text = rendered[0]
    (start, end), *_ = masks[0]
    assert text[start:end] == "Hello — how can I help?\nTwo lines.<|im_end|>"


def test_smollm2_is_a_builtin_sized_without_building(paths):
    ref = bases.resolve_base("smollm2-135m", paths, build=False)
    # Built once per machine: the shared cache, not the home (paths.py).
    assert ref.kind == "builtin" and ref.location.startswith(str(paths.bases))
    info = bases.describe_base(ref)
    # 134,515,008 parameters when built (tied embeddings), from its known shape.
    assert info.parameters == 134_515_008 and not info.available_locally
    assert "smollm2-135m" in bases.available_locally(paths)


def test_unknown_bases_name_the_builtins(paths):
    with pytest.raises(UserError, match="built-in bases: smollm2-135m, tiny, tiny:micro"):
        bases.resolve_base("smollm3", paths)


def test_a_wheel_that_is_not_the_published_one_is_refused(tmp_path, monkeypatch):
    fake = tmp_path / smollm2.WHEEL
    fake.write_bytes(b"not the wheel")
    monkeypatch.setenv(smollm2.WHEEL_ENV, str(fake))
    with pytest.raises(UserError, match="sha256 differs"):
        smollm2.locate_wheel(tmp_path / "cache")
    monkeypatch.setenv(smollm2.WHEEL_ENV, str(tmp_path / "missing.whl"))
    with pytest.raises(UserError, match="not a file"):
        smollm2.locate_wheel(tmp_path / "cache")


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("PERSONAFORGE_TEST_FULL") != "1", reason="builds the real base (make test-full)"
)
def test_build_from_the_package_gives_a_working_chat_model(tmp_path):
    from personaforge.bases import greedy_reply, load_model, load_tokenizer
    from personaforge.paths import Paths

    paths = Paths(tmp_path / "home")
    ref = bases.resolve_base("smollm2-135m", paths)
    card = bases.read_builtin_card(ref.folder)
    assert card["parameters"] == 134_515_008 and card["licence"] == "Apache-2.0"
    assert card["source"]["gguf_sha256"] == smollm2.GGUF_SHA256
    assert 10 < card["heldout"]["perplexity"] < 60
    tokenizer, model = load_tokenizer(ref), load_model(ref)
    assert tokenizer.chat_template == smollm2.GENERATION_TEMPLATE
    answer = greedy_reply(
        model, tokenizer, [{"role": "user", "content": "What is the capital of France?"}]
    )
    assert "Paris" in answer
