"""The Ollama Modelfile's TEMPLATE, SYSTEM and PARAMETER lines for a version.

The TEMPLATE is chosen by the tokenizer's chat-template family and then executed as
Ollama fills it (template_check.py) against the tokenizer's own rendering; the PARAMETER
lines are the decode settings serve and the gate use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from personaforge.config import DecodeSettings
from personaforge.errors import UserError
from personaforge.export.template_check import CONVERSATIONS, check_template

# Ollama passes system turns both in .Messages and joined in .System (ollama_template), so
# the system turn is written once, from .System, and skipped in the range.
CHATML_TEMPLATE = """{{- if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}{{- range .Messages }}{{- if ne .Role "system" }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}{{- end }}<|im_start|>assistant
"""
LLAMA3_TEMPLATE = """{{- if .System }}<|start_header_id|>system<|end_header_id|>

{{ .System }}<|eot_id|>{{ end }}{{- range .Messages }}{{- if ne .Role "system" }}<|start_header_id|>{{ .Role }}<|end_header_id|>

{{ .Content }}<|eot_id|>{{ end }}{{- end }}<|start_header_id|>assistant<|end_header_id|>

"""


@dataclass(frozen=True)
class TemplateFamily:
    name: str
    marker: str  # in the HF chat template
    template: str  # the Modelfile's TEMPLATE
    stops: tuple[str, ...]
    system_open: str  # the text of a system turn around its content
    system_close: str

    @property
    def system_turn(self) -> str:
        """A pattern for the tokenizer's system turn; group 1 is its content."""
        return re.escape(self.system_open) + "(.*?)" + re.escape(self.system_close)

    def with_system_prefix(self, prefix: str) -> str:
        """The TEMPLATE for a chat template that always writes a system turn starting with
        `prefix` (Llama 3.1: its knowledge-cutoff and date lines) and the chat's own system
        prompt after it: the system turn is unconditional and carries the prefix."""
        block = self.system_open + "{{ .System }}" + self.system_close
        conditional = "{{- if .System }}" + block + "{{ end }}"
        if not self.template.startswith(conditional) or "{{" in prefix or '"""' in prefix:
            raise UserError(
                f"Ollama template check failed: cannot carry the system prefix {prefix!r}"
            )
        rest = self.template[len(conditional) :].replace("{{- range", "{{ range", 1)
        return self.system_open + prefix + "{{ .System }}" + self.system_close + rest


TEMPLATE_FAMILIES = [
    TemplateFamily(
        "ChatML",
        "<|im_start|>",
        CHATML_TEMPLATE,
        ("<|im_end|>", "<|im_start|>"),
        "<|im_start|>system\n",
        "<|im_end|>\n",
    ),
    TemplateFamily(
        "Llama 3",
        "<|start_header_id|>",
        LLAMA3_TEMPLATE,
        ("<|eot_id|>", "<|start_header_id|>"),
        "<|start_header_id|>system<|end_header_id|>\n\n",
        "<|eot_id|>",
    ),
]


@dataclass(frozen=True)
class OllamaTemplate:
    family: TemplateFamily
    template: str  # the Modelfile's TEMPLATE text
    system: str | None  # its SYSTEM line, if any
    checks: list[str]


def ollama_template(tokenizer) -> OllamaTemplate:
    """The Modelfile TEMPLATE and SYSTEM for this tokenizer, checked.

    Ollama's TEMPLATE must render the very text the model was trained on. Some templates
    add a default system turn when a chat has none and replace it with the chat's own
    (SmolLM2: "You are a helpful AI assistant named SmolLM, ..."): the Modelfile carries
    it as SYSTEM. Some always write a system turn and put the chat's system prompt after a
    fixed text (Llama 3.1's cutoff and date lines): the TEMPLATE carries that text. The
    TEMPLATE is then executed as Ollama would for a few conversations and compared with the
    tokenizer's chat template (ollama_template.check_template); anything that differs is
    refused rather than exported with a wrong prompt.
    """
    template = tokenizer.chat_template or ""
    family = next((f for f in TEMPLATE_FAMILIES if f.marker in template), None)
    if family is None:
        raise UserError(
            "no Ollama TEMPLATE for this chat template family (known: "
            + ", ".join(f.name for f in TEMPLATE_FAMILIES)
            + "); export --format gguf and write the Modelfile's TEMPLATE by hand"
        )

    def system_of(messages: list[dict[str, str]]) -> str | None:
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        found = re.search(family.system_turn, text, re.DOTALL)
        return found.group(1) if found else None

    default = system_of(CONVERSATIONS[0])  # no system turn of its own
    with_system = CONVERSATIONS[1]  # starts with one
    text, system = family.template, default
    if default and system_of(with_system) == default + with_system[0]["content"]:
        text, system = family.with_system_prefix(default), None
    return OllamaTemplate(family, text, system, check_template(tokenizer, text, system))


def modelfile_parameters(decoding: DecodeSettings) -> str:
    """PARAMETER lines that make Ollama decode as `serve` and the gate do (settings `decode`).

    Ollama adds top_k 40 when none is given; ours has no top-k, so it is switched off (0).
    llama.cpp's penalties also count prompt tokens within repeat_last_n, ours only the
    reply's; no_repeat_ngram_size has no llama.cpp counterpart and is named in a comment.
    """
    lines = [
        f"PARAMETER temperature {decoding.temperature:g}",
        f"PARAMETER top_p {decoding.top_p:g}",
        "PARAMETER top_k 0",
        f"PARAMETER repeat_penalty {decoding.repetition_penalty:g}",
        f"PARAMETER repeat_last_n {decoding.repeat_last_n}",
    ]
    lines += [
        f"PARAMETER {name} {getattr(decoding, name):g}"
        for name in ("frequency_penalty", "presence_penalty")
        if getattr(decoding, name)
    ]
    if decoding.no_repeat_ngram_size:
        lines.append(
            f"# decode.no_repeat_ngram_size {decoding.no_repeat_ngram_size}: Ollama has no such "
            "parameter"
        )
    return "".join(line + "\n" for line in lines)
