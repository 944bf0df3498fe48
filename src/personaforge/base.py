"""Resolve and load a base model: the built-in tiny base, a local folder, or a Hugging Face id.

All three end in the same call, `from_pretrained(location)`: "tiny" is only a
name for a local folder that personaforge builds on first use. Inspection
(`describe_base`) reads config.json and safetensors headers from disk, never the
network, so `doctor` can size a model it has not downloaded yet when the
Hugging Face cache already holds its config.
"""

from __future__ import annotations

import json
import math
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from personaforge.errors import UserError, require
from personaforge.paths import Paths
from personaforge.tiny import build as tiny_build

TINY = "tiny"
# org/name, as the hub spells repository ids (letters, digits, - _ .)
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# "Llama-3.1-8B", "Qwen2.5-0.5B", "SmolLM2-360M": the size most model names carry
_SIZE_IN_NAME = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*([BbMm])(?![a-zA-Z])")


@dataclass(frozen=True)
class BaseRef:
    """A base model the rest of the code can load, whatever the user called it."""

    name: str  # what the user configured: "tiny", "tiny:micro", "org/name", "/a/folder"
    kind: Literal["tiny", "local", "hub"]
    location: str  # a folder for tiny and local, a repository id for hub
    revision: str | None = None

    @property
    def is_local(self) -> bool:
        return self.kind != "hub"

    @property
    def folder(self) -> Path | None:
        return Path(self.location) if self.is_local else None


def tiny_preset(name: str) -> str | None:
    """'tiny' -> 'tiny', 'tiny:micro' -> 'micro', anything else -> None."""
    if name == TINY:
        return TINY
    if name.startswith(TINY + ":"):
        return name.split(":", 1)[1]
    return None


def resolve_base(
    name: str, paths: Paths, revision: str | None = None, build: bool = True
) -> BaseRef:
    """Classify `name` and, for the tiny base, build it if `build` and not cached yet."""
    preset = tiny_preset(name)
    if preset is not None:
        if build:
            folder = tiny_build.ensure_tiny_base(paths.models, preset)
        else:
            folder = tiny_build.tiny_folder(paths.models, preset)
        return BaseRef(name=name, kind="tiny", location=str(folder))
    candidate = Path(name).expanduser()
    if candidate.is_dir():
        if not (candidate / "config.json").exists():
            raise UserError(
                f"base model folder {candidate} has no config.json (not a Hugging Face model folder)"
            )
        return BaseRef(name=name, kind="local", location=str(candidate.resolve()))
    if _HUB_ID.match(name) and not name.startswith((".", "/", "~")):
        return BaseRef(name=name, kind="hub", location=name, revision=revision)
    raise UserError(
        f"base model '{name}' is neither a local folder nor a Hugging Face id (org/name); "
        "use 'tiny' for the built-in tiny base"
    )


# ---------------------------------------------------------------------------
# Loading


def _hub_failure(ref: BaseRef, exc: Exception) -> UserError:
    return UserError(
        f"cannot load base model '{ref.name}': {str(exc).splitlines()[0]} "
        "(no network or not in the local Hugging Face cache? set model.base to a local folder or 'tiny')"
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


# ---------------------------------------------------------------------------
# Inspection without loading


@dataclass(frozen=True)
class BaseInfo:
    """What is known about a base model's size without loading its weights."""

    parameters: int | None
    parameters_source: (
        str  # "safetensors headers", "config.json", "model name", "tiny spec", "unknown"
    )
    hidden_size: int | None = None
    num_layers: int | None = None
    vocab_size: int | None = None
    prequantized_bits: int | None = None  # 4 for bnb-4bit checkpoints
    available_locally: bool = False
    config: dict[str, Any] | None = None


def count_from_config(config: dict[str, Any]) -> int | None:
    """Parameters of a Llama-like decoder from its config (Llama, Mistral, Qwen2, Gemma...)."""
    try:
        hidden = config["hidden_size"]
        layers = config["num_hidden_layers"]
        vocab = config["vocab_size"]
        inter = config["intermediate_size"]
        heads = config["num_attention_heads"]
    except KeyError:
        return None
    kv_heads = config.get("num_key_value_heads") or heads
    head_dim = config.get("head_dim") or hidden // heads
    attention = hidden * heads * head_dim * 2 + hidden * kv_heads * head_dim * 2  # q,o + k,v
    mlp = 3 * hidden * inter  # gate, up, down
    per_layer = attention + mlp + 2 * hidden  # two RMSNorm weight vectors
    embeddings = vocab * hidden
    head = 0 if config.get("tie_word_embeddings", False) else vocab * hidden
    return embeddings + layers * per_layer + hidden + head


def count_from_safetensors(folder: Path) -> int | None:
    """Sum of tensor sizes in the safetensors headers: exact, reads a few KB per file."""
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        return None
    total = 0
    for file in files:
        with file.open("rb") as handle:
            (header_length,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(header_length))
        for name, entry in header.items():
            if name != "__metadata__":
                total += math.prod(entry["shape"])
    return total


def count_from_name(name: str) -> int | None:
    """'Meta-Llama-3.1-8B-Instruct' -> 8e9. A last resort: names can lie."""
    matches = _SIZE_IN_NAME.findall(name.split("/")[-1])
    if not matches:
        return None
    number, unit = matches[-1]
    return int(float(number) * (1e9 if unit in "Bb" else 1e6))


def _cached_hub_config(ref: BaseRef) -> tuple[dict[str, Any] | None, Path | None]:
    """config.json from the local Hugging Face cache, and the snapshot folder, if present."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None, None
    cached = try_to_load_from_cache(ref.location, "config.json", revision=ref.revision)
    if not isinstance(cached, str):
        return None, None
    path = Path(cached)
    return json.loads(path.read_text()), path.parent


def _prequantized_bits(config: dict[str, Any] | None) -> int | None:
    quant = (config or {}).get("quantization_config") or {}
    if quant.get("load_in_4bit") or quant.get("bits") == 4:
        return 4
    if quant.get("load_in_8bit") or quant.get("bits") == 8:
        return 8
    return None


def describe_base(ref: BaseRef) -> BaseInfo:
    """Size and shape of a base from whatever is on disk; never downloads."""
    config: dict[str, Any] | None = None
    folder: Path | None = None
    if ref.kind == "tiny" and not (Path(ref.location) / "config.json").exists():
        spec = tiny_build.get_spec(tiny_preset(ref.name) or TINY)
        config = {
            "hidden_size": spec.hidden_size,
            "num_hidden_layers": spec.num_layers,
            "vocab_size": spec.vocab_size,
            "intermediate_size": spec.intermediate_size,
            "num_attention_heads": spec.num_heads,
            "num_key_value_heads": spec.num_kv_heads,
        }
        return BaseInfo(
            count_from_config(config),
            "tiny spec (not built yet)",
            spec.hidden_size,
            spec.num_layers,
            spec.vocab_size,
            None,
            False,
            config,
        )
    if ref.is_local:
        folder = Path(ref.location)
        config = json.loads((folder / "config.json").read_text())
    else:
        config, folder = _cached_hub_config(ref)
    config_text = (config or {}).get("text_config", config)  # multimodal configs nest the LM
    bits = _prequantized_bits(config)
    parameters, source = None, "unknown"
    if folder is not None and bits is None:
        parameters, source = count_from_safetensors(folder), "safetensors headers"
    if parameters is None and config_text:
        parameters, source = count_from_config(config_text), "config.json"
    if parameters is None:
        parameters, source = count_from_name(ref.name), "model name"
        if parameters is None:
            source = "unknown"
    return BaseInfo(
        parameters=parameters,
        parameters_source=source,
        hidden_size=(config_text or {}).get("hidden_size"),
        num_layers=(config_text or {}).get("num_hidden_layers"),
        vocab_size=(config_text or {}).get("vocab_size"),
        prequantized_bits=bits if bits is not None else (4 if "bnb-4bit" in ref.name else None),
        available_locally=folder is not None and any(folder.glob("*.safetensors")),
        config=config,
    )


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
