"""Does an Ollama Modelfile's TEMPLATE give the model the text its tokenizer's chat template does?

    lines = check_template(tokenizer, template, system)

Ollama fills a Go text/template with values it builds from a chat (`ollama_values`: a
Modelfile SYSTEM goes first when the chat has no system turn, every system turn is also
joined into `.System`, consecutive turns of one role are merged). `render` executes the
subset of text/template the exported templates use — text, `{{ .Field }}`,
`{{ if }}`/`{{ else if }}`/`{{ else }}`/`{{ end }}` on a field or `eq`/`ne` of a field and
a string, `{{ range .Messages }}`, and the `{{-`/`-}}` trim markers — and refuses anything
else, so a template it cannot read is never called equal. `check_template` renders the
real TEMPLATE text for a few conversations and compares it with
`tokenizer.apply_chat_template`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from personaforge.errors import UserError

# Go's text/template: "{{- " trims the space before the action, " -}}" the space after it.
ACTION = re.compile(r"\{\{(- )?(.*?)( -)?\}\}", re.DOTALL)
GO_SPACE = " \t\r\n"


class TemplateError(ValueError):
    """The template uses something outside the supported subset, or is malformed."""


@dataclass
class _Node:
    kind: str  # text, field, if, range
    value: Any = None  # the text, the field path, or the condition
    body: list[_Node] = field(default_factory=list)
    otherwise: list[_Node] = field(default_factory=list)


def _tokens(template: str) -> list[tuple[str, str]]:
    """("text", text) and ("action", inner) pairs, trim markers applied to the text."""
    out: list[tuple[str, str]] = []
    position, trim_next = 0, False
    for match in ACTION.finditer(template):
        text = template[position : match.start()]
        if trim_next:
            text = text.lstrip(GO_SPACE)
        if match.group(1):
            text = text.rstrip(GO_SPACE)
        out.append(("text", text))
        out.append(("action", match.group(2).strip()))
        position, trim_next = match.end(), bool(match.group(3))
    tail = template[position:]
    out.append(("text", tail.lstrip(GO_SPACE) if trim_next else tail))
    return out


FIELD = re.compile(r"\.[A-Z][A-Za-z]*")
CONDITION = re.compile(r'(?:(eq|ne) (\.[A-Z][A-Za-z]*) "([^"\\]*)"|(\.[A-Z][A-Za-z]*))')


def _condition(text: str) -> tuple:
    match = CONDITION.fullmatch(text.strip())
    if not match:
        raise TemplateError(f"unsupported condition: {text!r}")
    if match.group(4):
        return ("truthy", match.group(4)[1:])
    return (match.group(1), match.group(2)[1:], match.group(3))


def parse(template: str) -> list[_Node]:
    """The template as a tree; TemplateError for anything outside the subset."""
    tokens = _tokens(template)
    nodes, end = _parse(tokens, 0, ())
    if end != len(tokens):
        raise TemplateError(f"unexpected {{{{ {tokens[end][1]} }}}}")
    return nodes


def _parse(tokens: list[tuple[str, str]], i: int, stops: tuple[str, ...]) -> tuple[list, int]:
    nodes: list[_Node] = []
    while i < len(tokens):
        kind, text = tokens[i]
        if kind == "text":
            if text:
                nodes.append(_Node("text", text))
            i += 1
            continue
        word = text.split(" ", 1)[0]
        if word in stops:
            return nodes, i
        if FIELD.fullmatch(text):
            nodes.append(_Node("field", text[1:]))
            i += 1
        elif word == "if":
            node, i = _parse_if(tokens, i, text[3:])
            nodes.append(node)
        elif word == "range":
            target = text[6:].strip()
            if not FIELD.fullmatch(target):
                raise TemplateError(f"unsupported range: {text!r}")
            body, i = _parse(tokens, i + 1, ("end",))
            if i >= len(tokens) or tokens[i][1] != "end":
                raise TemplateError("range without end")
            nodes.append(_Node("range", target[1:], body))
            i += 1
        else:
            raise TemplateError(f"unsupported action: {{{{ {text} }}}}")
    if stops:
        raise TemplateError(f"missing {{{{ {stops[-1]} }}}}")
    return nodes, i


def _parse_if(tokens: list[tuple[str, str]], i: int, condition: str) -> tuple[_Node, int]:
    node = _Node("if", _condition(condition))
    node.body, i = _parse(tokens, i + 1, ("else", "end"))
    if i >= len(tokens):
        raise TemplateError("if without end")
    text = tokens[i][1]
    if text.startswith("else if "):
        inner, i = _parse_if(tokens, i, text[8:])
        node.otherwise = [inner]
        return node, i  # the inner if consumed the shared end
    if text == "else":
        node.otherwise, i = _parse(tokens, i + 1, ("end",))
        if i >= len(tokens):
            raise TemplateError("else without end")
    elif text != "end":
        raise TemplateError(f"unsupported action: {{{{ {text} }}}}")
    return node, i + 1


def _lookup(scope: dict[str, Any], name: str) -> Any:
    if name not in scope:
        raise TemplateError(f".{name} is not among the values Ollama passes ({', '.join(scope)})")
    return scope[name]


def _holds(condition: tuple, scope: dict[str, Any]) -> bool:
    if condition[0] == "truthy":
        return bool(_lookup(scope, condition[1]))  # Go: "", empty list and nil are false
    equal = _lookup(scope, condition[1]) == condition[2]
    return equal if condition[0] == "eq" else not equal


def _run(nodes: list[_Node], scope: dict[str, Any], out: list[str]) -> None:
    for node in nodes:
        if node.kind == "text":
            out.append(node.value)
        elif node.kind == "field":
            out.append(str(_lookup(scope, node.value)))
        elif node.kind == "if":
            _run(node.body if _holds(node.value, scope) else node.otherwise, scope, out)
        else:
            for item in _lookup(scope, node.value):
                _run(node.body, item, out)


def render(template: str, values: dict[str, Any]) -> str:
    """Execute `template` with `values` as Go's text/template does, for the supported subset."""
    out: list[str] = []
    _run(parse(template), values, out)
    return "".join(out)


def ollama_values(messages: list[dict[str, str]], system: str | None = None) -> dict[str, Any]:
    """What Ollama's chat endpoint passes a TEMPLATE that uses .Messages: the Modelfile's
    SYSTEM goes first when the chat does not start with a system turn; system turns stay
    in .Messages and are also joined (blank line between) into .System; consecutive turns
    of one role are merged with a blank line (ollama/ollama template/template.go, collate)."""
    chat = [dict(m) for m in messages]
    if system and (not chat or chat[0]["role"] != "system"):
        chat.insert(0, {"role": "system", "content": system})
    collated: list[dict[str, str]] = []
    for message in chat:
        if collated and collated[-1]["Role"] == message["role"] and message["role"] != "tool":
            collated[-1]["Content"] += "\n\n" + message["content"]
        else:
            collated.append({"Role": message["role"], "Content": message["content"]})
    joined = "\n\n".join(m["content"] for m in chat if m["role"] == "system")
    return {"System": joined, "Messages": collated, "Response": "", "Tools": None}


# Conversations the check renders both ways: no system turn, a system turn, and history
# with an earlier answer (the exported templates render assistant turns like any other).
CONVERSATIONS = [
    [{"role": "user", "content": "How was your week?"}],
    [
        {"role": "system", "content": "You are me."},
        {"role": "user", "content": "What are you working on?"},
    ],
    [
        {"role": "user", "content": "What is 3 + 4?"},
        {"role": "assistant", "content": "7, last I checked."},
        {"role": "user", "content": "And doubled?"},
    ],
]


def check_template(tokenizer, template: str, system: str | None = None) -> list[str]:
    """Render `template` as Ollama would for each of CONVERSATIONS and compare with the
    tokenizer's chat template; UserError naming the first conversation that differs.

    A leading bos in the tokenizer's text is left to the runtime (llama.cpp adds it from
    the GGUF's tokenizer.ggml.add_bos_token), so it is allowed to be missing from ours."""
    bos = tokenizer.bos_token or ""
    for number, messages in enumerate(CONVERSATIONS, 1):
        expected = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=False
        )
        try:
            ours = render(template, ollama_values(messages, system))
        except TemplateError as error:
            raise UserError(f"Ollama template check failed: {error}") from None
        if expected not in (ours, bos + ours):
            raise UserError(
                f"Ollama template check failed: conversation {number} renders as {ours!r}, "
                f"the tokenizer's chat template as {expected!r}"
            )
    return [
        f"TEMPLATE, executed as Ollama fills it, gives the tokenizer's chat-template text on "
        f"{len(CONVERSATIONS)} conversations (no system turn, a system turn, earlier answers)"
        + (", with the default system prompt as SYSTEM" if system else "")
    ]
