"""Exports round-trip: the adapter and merged weights always; GGUF where llama-cpp-python is installed."""

from __future__ import annotations

import json

import pytest

from personaforge.config import Settings
from personaforge.errors import UserError
from personaforge.export import export_version
from personaforge.export.ollama import CHATML_TEMPLATE
from personaforge.train.run import TrainRequest, train
from tests.helpers import micro_home, micro_settings

try:
    import llama_cpp  # noqa: F401

    HAVE_LLAMA_CPP = True
except ImportError:
    HAVE_LLAMA_CPP = False
needs_llama_cpp = pytest.mark.skipif(
    not HAVE_LLAMA_CPP, reason="llama-cpp-python not installed (`make test` builds it)"
)


@pytest.fixture(scope="module")
def exported_home(tmp_path_factory, micro_models_dir, sample_data):
    paths = micro_home(tmp_path_factory.mktemp("export"), micro_models_dir, sample_data)
    train(paths, micro_settings(max_steps=6), TrainRequest(fresh=True, show_progress=False))
    return paths


def test_adapter_export_reloads_identically(exported_home, tmp_path):
    result = export_version(exported_home, "v1", "adapter", out=tmp_path / "adapter")
    assert {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json"} <= set(
        result.files
    )
    assert "logits identical" in result.checks[0] and "no modules_to_save" in result.checks[1]
    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert not config.get("modules_to_save")


def test_merged_export_matches_base_plus_adapter(exported_home, tmp_path):
    from transformers import AutoModelForCausalLM

    result = export_version(exported_home, "v1", "merged", out=tmp_path / "merged")
    figure = float(result.checks[0].split("max |logit diff| ")[1].split()[0])
    assert figure <= 0.1
    generation = json.loads((tmp_path / "merged" / "generation_config.json").read_text())
    tokenizer_config = json.loads((tmp_path / "merged" / "tokenizer_config.json").read_text())
    assert generation["eos_token_id"] == 3 and tokenizer_config["eos_token"] == "<|im_end|>"
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "merged")
    assert str(model.dtype) == "torch.float16" and not any(
        "lora" in n for n, _ in model.named_parameters()
    )


def test_unknown_format_and_quant_are_refused(exported_home, tmp_path):
    with pytest.raises(UserError, match="unknown export format 'onnx'"):
        export_version(exported_home, "v1", "onnx")
    with pytest.raises(UserError, match="--quant q4_k_m is not one"):
        export_version(exported_home, "v1", "gguf", quant="q4_k_m", out=tmp_path / "x")
    assert not (tmp_path / "x").exists()  # a failed export leaves nothing behind


@needs_llama_cpp
@pytest.mark.parametrize("quant", ["f32", "q8_0"])
def test_gguf_loads_in_llama_cpp_and_continues_like_transformers(exported_home, tmp_path, quant):
    result = export_version(exported_home, "v1", "gguf", quant=quant, out=tmp_path / quant)
    assert any(name.endswith(f"{quant}.gguf") for name in result.files)
    assert any("chat template present" in c for c in result.checks)
    line = next(c for c in result.checks if c.startswith("llama.cpp vs transformers"))
    assert result.verified and result.unchecked == []
    if quant == "f32":
        assert "3/3 greedy continuations identical" in line


def test_a_gguf_check_that_cannot_run_is_unchecked_not_passed(
    exported_home, tmp_path, monkeypatch, capsys
):
    """Without llama-cpp-python the file is converted but its continuations are not compared:
    the result, the CLI and the run's export stage say "unchecked", never passed or done."""
    import sys

    from personaforge.cli.export import print_export
    from personaforge.pipeline import RunContext, RunRequest, stage_export
    from personaforge.registry import Registry
    from personaforge.runs import StageStatus

    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # `import llama_cpp` now fails
    result = export_version(exported_home, "v1", "gguf", quant="f32", out=tmp_path / "gguf")
    assert "v1-f32.gguf" in result.files and not result.verified
    assert len(result.unchecked) == 1 and result.unchecked[0].startswith("not loaded: llama-cpp")
    assert any("chat template present" in c for c in result.checks)
    assert not any("not loaded" in c for c in result.checks)
    print_export(result)
    out = capsys.readouterr().out
    assert "? unchecked: not loaded" in out and "✓ not loaded" not in out

    with Registry.open(exported_home) as registry:
        registry.promote("v1", force=True)
    settings = micro_settings().model_copy(
        update={
            "run": Settings().run.model_copy(
                update={"export_formats": ["gguf"], "export_quant": "f32"}
            )
        }
    )
    outcome = stage_export(RunContext(exported_home, settings, RunRequest(), promoted=["v1"]))
    assert outcome.status == StageStatus.UNCHECKED
    assert "; unchecked: gguf not loaded: llama-cpp-python is not installed" in outcome.summary
    assert outcome.numbers["exports"]["gguf"]["unchecked"] == result.unchecked


@needs_llama_cpp
def test_gguf_check_fails_when_the_file_is_not_the_model(exported_home, tmp_path):
    """The fidelity check can fail: the same GGUF against a perturbed copy of its model."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from personaforge.export.gguf_check import verify_gguf

    export_version(exported_home, "v1", "gguf", quant="f32", out=tmp_path / "gguf")
    export_version(exported_home, "v1", "merged", out=tmp_path / "merged")
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "merged", dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "merged")
    assert verify_gguf(model, tokenizer, tmp_path / "gguf" / "v1-f32.gguf", "f32")  # passes as is
    torch.manual_seed(0)
    with torch.no_grad():
        for weight in model.parameters():  # noise at half each tensor's own spread
            weight.add_(torch.randn_like(weight) * weight.std() * 0.5)
    with pytest.raises(UserError, match="GGUF verification failed"):
        verify_gguf(model, tokenizer, tmp_path / "gguf" / "v1-f32.gguf", "f32")


@needs_llama_cpp
def test_lora_gguf_and_ollama_modelfile(exported_home, tmp_path):
    lora = export_version(exported_home, "v1", "lora-gguf", quant="f32", out=tmp_path / "lora")
    assert any("lora" in name for name in lora.files) and any("identical" in c for c in lora.checks)
    ollama = export_version(
        exported_home, "v1", "ollama", quant="f16", out=tmp_path / "ollama", name="maren"
    )
    modelfile = (tmp_path / "ollama" / "Modelfile").read_text()
    assert "FROM ./v1-f16.gguf" in modelfile and 'PARAMETER stop "<|im_end|>"' in modelfile
    assert f'TEMPLATE """{CHATML_TEMPLATE}"""' in modelfile and ollama.verified
    assert any(c.startswith("TEMPLATE, executed as Ollama fills it") for c in ollama.checks)
    # The home's decode settings, as PARAMETER lines (the defaults: none set in this home).
    assert parameters(modelfile) == expected_parameters(Settings().decode)
    assert "TEMPLATE" in modelfile and ollama.command.endswith(
        "ollama create maren -f ollama/Modelfile"
    )


SMOLLM2_TEMPLATE = (  # SmolLM2-135M-Instruct's template as our smollm2 build saves it
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}{% endif %}{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}"
    "{% endgeneration %}{{ '\n' }}{% else %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


# Meta-Llama-3-8B-Instruct's chat template (bos first, content trimmed, no default system).
LLAMA3_HF_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    "+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
    "{% endif %}"
)


# Meta-Llama-3.1-8B-Instruct's chat template without its tool-calling branches: a system
# turn always, its knowledge-cutoff and date lines first, the chat's system prompt after them.
LLAMA31_HF_TEMPLATE = (
    "{{- bos_token }}{%- if not date_string is defined %}{%- set date_string = '26 Jul 2024' %}"
    "{%- endif %}{%- if messages[0]['role'] == 'system' %}"
    "{%- set system_message = messages[0]['content']|trim %}{%- set messages = messages[1:] %}"
    "{%- else %}{%- set system_message = '' %}{%- endif %}"
    "{{- '<|start_header_id|>system<|end_header_id|>\\n\\n' }}"
    "{{- 'Cutting Knowledge Date: December 2023\\n' }}{{- 'Today Date: ' + date_string + '\\n\\n' }}"
    "{{- system_message }}{{- '<|eot_id|>' }}{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
    "+ message['content'] | trim + '<|eot_id|>' }}{%- endfor %}{%- if add_generation_prompt %}"
    "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)


def test_ollama_template_renders_like_the_tokenizer(micro_base):
    """The Modelfile's TEMPLATE, executed as Ollama fills it, against apply_chat_template:
    plain ChatML (the tiny base), SmolLM2's default system prompt (carried as SYSTEM),
    Llama 3, and Llama 3.1's fixed system lines (carried in the TEMPLATE); a template that
    differs in one newline is refused."""
    from transformers import AutoTokenizer

    from personaforge.export.ollama import CHATML_TEMPLATE, LLAMA3_TEMPLATE, ollama_template

    tokenizer = AutoTokenizer.from_pretrained(micro_base)
    found = ollama_template(tokenizer)
    assert (found.family.name, found.template, found.system) == ("ChatML", CHATML_TEMPLATE, None)
    assert "gives the tokenizer's chat-template text on 3 conversations" in found.checks[0]
    tokenizer.chat_template = SMOLLM2_TEMPLATE
    tokenizer.bos_token = "<|im_start|>"
    found = ollama_template(tokenizer)
    assert found.template == CHATML_TEMPLATE
    assert found.system == "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
    assert found.checks[0].endswith("with the default system prompt as SYSTEM")
    tokenizer.chat_template = SMOLLM2_TEMPLATE.replace(
        "'\n' + message['content']", "': ' + message['content']"
    )
    with pytest.raises(UserError, match="Ollama template check failed: conversation 1"):
        ollama_template(tokenizer)

    llama = AutoTokenizer.from_pretrained(micro_base)
    llama.chat_template = LLAMA3_HF_TEMPLATE
    llama.bos_token = "<|begin_of_text|>"
    found = ollama_template(llama)
    assert (found.family.name, found.template, found.system) == ("Llama 3", LLAMA3_TEMPLATE, None)
    llama.chat_template = LLAMA31_HF_TEMPLATE
    found = ollama_template(llama)
    assert found.system is None and found.template.startswith(
        "<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
        "Today Date: 26 Jul 2024\n\n{{ .System }}<|eot_id|>{{ range .Messages }}"
    )
    llama.chat_template = LLAMA3_HF_TEMPLATE.replace("<|end_header_id|>\n\n", "<|end_header_id|>\n")
    with pytest.raises(UserError, match="Ollama template check failed"):
        ollama_template(llama)


def test_go_template_subset_renders_as_ollama_would():
    """Exact outputs for the text/template subset: trim markers, if/else if/else, range, eq/ne,
    and Ollama's values (system turns both in .System and .Messages; same-role turns merged)."""
    from personaforge.export.template_check import TemplateError, ollama_values, render

    values = ollama_values(
        [
            {"role": "user", "content": "hi"},
            {"role": "user", "content": "again"},
            {"role": "assistant", "content": "yes"},
        ],
        system="be brief",
    )
    assert values["System"] == "be brief"
    assert [m["Role"] for m in values["Messages"]] == ["system", "user", "assistant"]
    assert values["Messages"][1]["Content"] == "hi\n\nagain"
    template = (
        "{{ if .System }}[{{ .System }}]\n{{ end }}"
        '{{- range .Messages }}\n  {{- if eq .Role "user" }}U:{{ .Content }}'
        '{{ else if ne .Role "system" }}A:{{ .Content }}{{ else }}S{{ end }}|\n{{- end }}'
    )
    assert render(template, values) == "[be brief]\nS|U:hi\n\nagain|A:yes|"
    # The template export used to write rendered a system turn twice under Ollama's values.
    doubled = "{{ if .System }}{{ .System }};{{ end }}{{ range .Messages }}{{ .Content }};{{ end }}"
    assert render(doubled, ollama_values([{"role": "system", "content": "s"}])) == "s;s;"
    for unsupported in (
        "{{ .System | trim }}",
        "{{ range $i, $m := .Messages }}{{ end }}",
        "{{ if .System }}x",
        "{{ .Nope }}",
        "{{/* c */}}",
    ):
        with pytest.raises(TemplateError):
            render(unsupported, values)


def test_top1_agreement_leaves_out_near_ties_but_not_confident_flips():
    """16-bit rounding may flip a near-tie (smollm2 f16: 1 in 48 at KL 5e-06); a flip where
    the transformers model was confident is a real disagreement and must count."""
    import torch

    from personaforge.export.gguf_check import NEAR_TIE_NATS, score_positions

    ours = torch.log_softmax(
        torch.tensor([[2.0, 2.0 + NEAR_TIE_NATS / 2, 0.0], [3.0, 0.0, 0.0]]), -1
    )
    tie_flipped = torch.log_softmax(
        torch.tensor([[2.0 + NEAR_TIE_NATS, 2.0, 0.0], [3.0, 0.0, 0.0]]), -1
    )
    assert score_positions(ours, tie_flipped)[:2] == (1, 1)  # the tie is left out
    confident_flip = torch.log_softmax(torch.tensor([[2.0, 2.02, 0.0], [0.0, 3.0, 0.0]]), -1)
    assert score_positions(ours, confident_flip)[:2] == (0, 1)


def parameters(modelfile: str) -> dict[str, str]:
    """PARAMETER name -> value, stop strings left out (they repeat)."""
    found = {}
    for line in modelfile.splitlines():
        if line.startswith("PARAMETER "):
            _, name, value = line.split(None, 2)
            if name not in ("stop", "num_ctx"):
                found[name] = value
    return found


def expected_parameters(decoding) -> dict[str, str]:
    """What Ollama must be told to decode as serve and the gate do, written out by hand."""
    expected = {
        "temperature": f"{decoding.temperature:g}",
        "top_p": f"{decoding.top_p:g}",
        "top_k": "0",  # Ollama's default is 40; ours samples from the whole nucleus
        "repeat_penalty": f"{decoding.repetition_penalty:g}",
        "repeat_last_n": str(decoding.repeat_last_n),
    }
    for name in ("frequency_penalty", "presence_penalty"):
        if getattr(decoding, name):
            expected[name] = f"{getattr(decoding, name):g}"
    return expected


def test_the_modelfile_carries_the_decode_settings():
    """Ollama must decode as serve and the gate do: each decode setting, changed from its
    default, shows up as its PARAMETER line; one Ollama lacks is named, never dropped silently."""
    from personaforge.config import DecodeSettings
    from personaforge.export.ollama import modelfile_parameters

    changed = DecodeSettings(
        temperature=0.55,
        top_p=0.8,
        repetition_penalty=1.25,
        repeat_last_n=32,
        presence_penalty=0.3,
        no_repeat_ngram_size=4,
    )
    text = modelfile_parameters(changed)
    assert parameters(text) == {
        "temperature": "0.55",
        "top_p": "0.8",
        "top_k": "0",
        "repeat_penalty": "1.25",
        "repeat_last_n": "32",
        "presence_penalty": "0.3",
    }
    assert "# decode.no_repeat_ngram_size 4: Ollama has no such parameter" in text
    assert parameters(modelfile_parameters(Settings().decode)) == expected_parameters(
        Settings().decode
    )
