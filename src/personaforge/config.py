"""Typed settings, one documented field per knob, grouped by stage.

Layers, later wins:

    defaults  <  $PERSONAFORGE_HOME/config.toml  <  environment  <  --set section.key=value

Environment variables are named PERSONAFORGE_<SECTION>__<KEY>, for example
PERSONAFORGE_TRAIN__LORA_RANK=8. Every layer is checked against the schema
before anything runs: an unknown key or a value of the wrong type is refused
with one line that names the key, where it came from and what it expects.
"""

from __future__ import annotations

import difflib
import os
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import annotated_types
import tomlkit
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from personaforge.atomic import atomic_write_text
from personaforge.errors import UserError
from personaforge.paths import Paths

ENV_PREFIX = "PERSONAFORGE_"
ENV_SEPARATOR = "__"

# Llama/Qwen/Mistral projection names; adapting all seven (not only q,v) is what
# QLoRA's paper found necessary to match full fine-tuning quality.
ALL_LINEAR_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class ConfigError(UserError):
    """A settings problem: unknown key, wrong type, unreadable config file."""


def split_comma_list(value: Any) -> Any:
    """Let a list setting be given as "a,b,c" (environment, --set) as well as a TOML list."""
    if isinstance(value, str):
        return [part.strip() for part in value.strip("[]").split(",") if part.strip()]
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelSettings(_Section):
    """Which base model the adapters are trained on."""

    base: str = Field(
        "Qwen/Qwen2.5-0.5B-Instruct",
        description=(
            "Base model: a Hugging Face id (org/name), a local folder, or 'tiny' for the "
            "built-in tiny base ('tiny:micro' for the seconds-to-build test variant)."
        ),
    )
    revision: str | None = Field(
        None,
        description="Git revision (branch, tag or commit) of a Hugging Face base; none = main.",
    )
    trust_remote_code: bool = Field(
        False,
        description="Allow a Hugging Face base to run its own Python code. Off: it runs arbitrary code.",
    )


class TrainSettings(_Section):
    """LoRA/QLoRA fine-tuning hyperparameters and hardware choices."""

    backend: Literal["auto", "hf", "unsloth"] = Field(
        "auto",
        description=(
            "Training backend. auto: Unsloth on CUDA when it imports, else transformers+PEFT (hf)."
        ),
    )
    quantization: Literal["auto", "none", "4bit"] = Field(
        "auto",
        description=(
            "Base weights during training. auto: 4-bit NF4 (QLoRA) on CUDA when 16-bit LoRA "
            "would not fit or the checkpoint is pre-quantized; none: 16/32-bit LoRA."
        ),
    )
    lora_rank: int = Field(16, ge=1, le=1024, description="LoRA rank r: capacity of the adapter.")
    lora_alpha: int = Field(
        32, ge=1, description="LoRA alpha; the update is scaled by alpha/r (2x rank is common)."
    )
    target_modules: list[str] = Field(
        default_factory=lambda: list(ALL_LINEAR_TARGETS),
        min_length=1,
        description="Module names that get LoRA matrices (comma-separated on the command line).",
    )
    learning_rate: float = Field(2e-4, gt=0, lt=1, description="Peak learning rate (AdamW).")
    epochs: int = Field(3, ge=1, le=100, description="Passes over the training set.")
    batch_size: int = Field(4, ge=1, description="Examples per device per step.")
    grad_accum: int = Field(
        4,
        ge=1,
        description="Steps accumulated per optimizer update (effective batch = batch x accum).",
    )
    max_seq_length: int = Field(
        2048, ge=16, description="Tokens per example; longer examples are split or dropped."
    )
    gradient_checkpointing: Literal["auto", "on", "off"] = Field(
        "auto",
        description=(
            "Recompute activations to save memory. auto: on for CUDA when needed to fit, "
            "off on CPU (it makes a step about 2.4x slower there)."
        ),
    )
    lora_dropout: float = Field(
        0.05, ge=0, lt=1, description="Dropout on the LoRA path during training."
    )
    warmup_ratio: float = Field(
        0.03, ge=0, lt=1, description="Share of steps spent warming the learning rate up."
    )
    lr_scheduler: Literal["cosine", "linear", "constant_with_warmup"] = Field(
        "cosine", description="Learning-rate schedule after warmup."
    )
    max_steps: int = Field(
        -1, ge=-1, description="Stop after this many optimizer steps (-1: run all epochs)."
    )
    save_steps: int = Field(
        50, ge=1, description="Checkpoint every this many optimizer steps (and at every epoch end)."
    )
    eval_steps: int = Field(
        25,
        ge=1,
        description="Held-out loss every this many optimizer steps (and at every epoch end).",
    )
    logging_steps: int = Field(
        5, ge=1, description="Log train loss, lr and tokens/s every this many steps."
    )
    seed: int = Field(
        42, description="Seed for initialisation and data order; a resumed run keeps it."
    )
    packing: Literal["auto", "on", "off"] = Field(
        "auto",
        description=(
            "Pack several examples into one sequence. auto: on only with a flash-attention "
            "implementation, which keeps packed examples from attending to each other."
        ),
    )
    dpo_beta: float = Field(
        0.1, gt=0, description="DPO beta: how far the policy may move from the reference."
    )

    _split_targets = field_validator("target_modules", mode="before")(split_comma_list)


class IngestSettings(_Section):
    """How source files become memories."""

    skip_globs: list[str] = Field(
        [
            "**/.obsidian/**",
            "**/.trash/**",
            "**/.git/**",
            "**/attachments/**",
            "**/Attachments/**",
            "**/templates/**",
            "**/Templates/**",
            "**/_templates/**",
        ],
        description=(
            "Paths (relative to the folder given to ingest) never read. `**/` matches any "
            "number of folders, `*` anything within one name."
        ),
    )
    split_chars: int = Field(
        3000,
        ge=200,
        description="Notes longer than this many characters are split at their headings into several memories.",
    )
    max_memory_chars: int = Field(
        6000,
        ge=500,
        description="A section still longer than this is cut at paragraph breaks into parts.",
    )
    max_file_mb: float = Field(
        50.0, gt=0, description="Files larger than this are skipped with a reason instead of read."
    )
    batch_files: int = Field(
        500,
        ge=1,
        description="Files per database transaction: a crash loses at most this much progress, never consistency.",
    )

    _split_globs = field_validator("skip_globs", mode="before")(split_comma_list)


REFLECTION_TAGS = [
    "reflection",
    "learning",
    "insight",
    "decision",
    "analysis",
    "takeaway",
    "realization",
]
REFLECTION_PHRASES = [
    "I think",
    "I feel",
    "I realize",
    "I realise",
    "I wonder",
    "Looking back",
    "On one hand",
    "Ultimately decided",
]


class DatasetSettings(_Section):
    """How memories become training examples: extraction, curation, mixing, splitting."""

    persona_prompt: str = Field(
        "You are {name}. Answer in your own voice: first person, your opinions, your way of putting things.",
        description="System prompt of every example; {name} is replaced by dataset.person_name.",
    )
    person_name: str = Field("me", description="How the persona prompt names the person.")
    reflection_tags: list[str] = Field(
        REFLECTION_TAGS,
        description="Tags that mark a passage as a reflection (nested tags match by their root).",
    )
    reflection_phrases: list[str] = Field(
        REFLECTION_PHRASES,
        description="Phrases that mark a paragraph as a reflection (case-insensitive).",
    )
    near_duplicate_threshold: float = Field(
        0.8,
        gt=0,
        le=1,
        description="Estimated Jaccard similarity (word 3-shingles, MinHash) above which an example is a near-duplicate.",
    )
    minhash_permutations: int = Field(
        128, ge=16, le=1024, description="MinHash permutations: more is more exact and slower."
    )
    min_words: int = Field(
        3, ge=1, description="Examples whose reply is shorter than this are dropped as boilerplate."
    )
    drop_filler: bool = Field(
        True,
        description="Drop examples whose reply is assistant filler ('Great question!', 'I hope this helps').",
    )
    dialogue_context_turns: int = Field(
        6, ge=1, description="Earlier chat turns kept as context for a dialogue example."
    )
    eval_fraction: float = Field(
        0.05,
        ge=0,
        lt=0.5,
        description="Share of memories held out for evaluation, chosen by a stable hash.",
    )
    days_recent: int = Field(
        30, ge=1, description="Monthly update: every memory of the last this many days..."
    )
    old_samples: int = Field(
        3000, ge=0, description="...plus a seeded random sample of this many older memories."
    )
    seed: int = Field(
        7, description="Seed for sampling; the same seed and store give the same dataset."
    )
    teacher_model: str = Field(
        "llama3.1:8b",
        description="Model name sent to the --teacher endpoint (OpenAI-compatible /chat/completions).",
    )
    teacher_batch: int = Field(8, ge=1, le=64, description="Memories per teacher request.")
    teacher_timeout_s: float = Field(
        60.0, gt=0, description="Seconds before a teacher request is abandoned."
    )
    teacher_retries: int = Field(
        3, ge=0, le=10, description="Retries per teacher request, with exponential backoff."
    )

    _split_tags = field_validator("reflection_tags", "reflection_phrases", mode="before")(
        split_comma_list
    )


PrivacyAction = Literal["redact", "drop", "keep"]


class PrivacySettings(_Section):
    """What happens to secrets and personal data found in examples: redact, drop the example, or keep."""

    private_key: PrivacyAction = Field("drop", description="PEM/OpenSSH private key blocks.")
    api_key: PrivacyAction = Field(
        "drop", description="Provider API keys (OpenAI, Anthropic, Stripe, Google, Slack, HF)."
    )
    aws_key: PrivacyAction = Field("drop", description="AWS access key ids and secret keys.")
    github_token: PrivacyAction = Field("drop", description="GitHub personal access tokens.")
    password: PrivacyAction = Field(
        "drop", description="Passwords written in text ('password: ...')."
    )
    token: PrivacyAction = Field(
        "drop", description="Other tokens and client secrets after a telling keyword."
    )
    email: PrivacyAction = Field("redact", description="Email addresses.")
    phone: PrivacyAction = Field("redact", description="Phone numbers.")
    card: PrivacyAction = Field("redact", description="Payment card numbers (Luhn-checked).")
    iban: PrivacyAction = Field("redact", description="IBANs (checksum-checked).")


class GateSettings(_Section):
    """The verification gate: what an adapter must show before it is promoted."""

    max_general_ppl_increase: float = Field(
        0.10,
        ge=0,
        description="Forgetting: general-text perplexity may rise at most this much (0.10 = 10%).",
    )
    max_probe_drop: int = Field(
        1, ge=0, description="Forgetting: base-ability probes the adapter may lose."
    )
    max_memorised_share: float = Field(
        0.10,
        ge=0,
        le=1,
        description="Share of held-out generations allowed to repeat training text verbatim.",
    )
    memorised_ngram: int = Field(
        12, ge=4, description="Consecutive training tokens that count as parroting."
    )
    memorisation_prompts: int = Field(
        32, ge=1, description="Held-out prompts generated from for memorisation."
    )
    max_eval_examples: int = Field(
        200, ge=1, description="Held-out examples used for the style perplexity."
    )
    general_texts: int = Field(
        200, ge=1, description="General reference documents used for perplexity."
    )
    max_new_tokens: int = Field(
        48, ge=8, description="Tokens generated per prompt (probes use 24)."
    )
    canaries: list[str] = Field(
        default_factory=list,
        description="Strings that must never be generated (plant them in your notes to test leakage).",
    )
    auto_apply: bool = Field(
        True,
        description="`eval` promotes a passing candidate and rejects a failing one without asking.",
    )

    _split_canaries = field_validator("canaries", mode="before")(split_comma_list)


class Settings(BaseModel):
    """All settings. Sections mirror the pipeline stages."""

    model_config = ConfigDict(extra="forbid")

    model: ModelSettings = Field(default_factory=ModelSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    dataset: DatasetSettings = Field(default_factory=DatasetSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    train: TrainSettings = Field(default_factory=TrainSettings)
    gate: GateSettings = Field(default_factory=GateSettings)


SECTIONS: dict[str, type[_Section]] = {
    name: info.annotation
    for name, info in Settings.model_fields.items()  # type: ignore[misc]
}


@dataclass
class LoadedSettings:
    """Validated settings plus where each non-default value came from."""

    settings: Settings
    origins: dict[str, str] = field(default_factory=dict)
    config_file: Path | None = None

    def origin(self, dotted_key: str) -> str:
        return self.origins.get(dotted_key, "default")


# ---------------------------------------------------------------------------
# Describing and parsing field types


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def describe_expected(section: str, key: str) -> str:
    """What a field accepts, in words: 'an integer >= 1', 'one of auto, hf, unsloth'."""
    info = SECTIONS[section].model_fields[key]
    annotation, optional = _unwrap_optional(info.annotation)
    origin = typing.get_origin(annotation)
    if origin is Literal:
        text = "one of " + ", ".join(str(a) for a in typing.get_args(annotation))
    elif annotation is bool:
        text = "true or false"
    elif annotation is int:
        text = "an integer"
    elif annotation is float:
        text = "a number"
    elif origin is list:
        text = "a list of names (comma-separated)"
    else:
        text = "a string"
    bounds = []
    for meta in info.metadata:
        for attr, symbol in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            value = getattr(meta, attr, None)
            if value is not None and isinstance(meta, annotated_types.BaseMetadata):
                bounds.append(f"{symbol} {value}")
    if bounds:
        text += " " + " and ".join(bounds)
    if optional:
        text += " (or empty for none)"
    return text


def parse_value(section: str, key: str, raw: str) -> Any:
    """Turn a string from the environment or --set into the field's Python type.

    Strings stay strings (so a model id like 'org/name-7B' is never mangled);
    numbers and booleans are read as TOML literals; lists accept 'a,b,c'.
    Anything that does not parse is passed through for the schema to refuse.
    """
    info = SECTIONS[section].model_fields[key]
    annotation, optional = _unwrap_optional(info.annotation)
    text = raw.strip()
    if optional and text.lower() in ("", "none", "null"):
        return None
    if annotation is str or typing.get_origin(annotation) is Literal:
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
            return text[1:-1]
        return text
    if typing.get_origin(annotation) is list:
        return text
    try:
        return tomlkit.parse(f"v = {text}")["v"].unwrap()
    except Exception:
        return text


# ---------------------------------------------------------------------------
# Layers


def _suggest(name: str, candidates: Iterable[str], prefix: str = "") -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{prefix}{close[0]}'?" if close else ""


def _check_key(section: str, key: str, where: str) -> None:
    if section not in SECTIONS:
        raise ConfigError(
            f"unknown setting section '{section}' ({where}); sections: "
            + ", ".join(SECTIONS)
            + _suggest(section, SECTIONS)
        )
    fields = SECTIONS[section].model_fields
    if key not in fields:
        raise ConfigError(
            f"unknown setting '{section}.{key}' ({where})"
            + (
                _suggest(key, fields, f"{section}.")
                or f"; keys in [{section}]: " + ", ".join(fields)
            )
        )


def split_dotted(dotted: str, where: str) -> tuple[str, str]:
    parts = dotted.strip().split(".")
    if len(parts) != 2 or not all(parts):
        raise ConfigError(
            f"'{dotted}' ({where}) is not a setting name; use section.key, e.g. train.lora_rank"
        )
    return parts[0], parts[1]


def read_config_file(path: Path) -> tomlkit.TOMLDocument:
    """Parse the TOML file, or an empty document if it does not exist."""
    if not path.exists():
        return tomlkit.document()
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    except tomlkit.exceptions.ParseError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _file_layer(path: Path) -> dict[str, dict[str, Any]]:
    where = f"in {path}"
    layer: dict[str, dict[str, Any]] = {}
    for section, table in read_config_file(path).unwrap().items():
        if not isinstance(table, dict):
            raise ConfigError(
                f"'{section}' {where} must be a [section] table; put keys under one, e.g. [train]"
            )
        for key, value in table.items():
            _check_key(section, key, where)
            layer.setdefault(section, {})[key] = value
    return layer


def _env_layer(environ: Mapping[str, str]) -> dict[str, dict[str, tuple[Any, str]]]:
    layer: dict[str, dict[str, tuple[Any, str]]] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or ENV_SEPARATOR not in name[len(ENV_PREFIX) :]:
            continue  # PERSONAFORGE_HOME and friends are not settings
        section, _, key = name[len(ENV_PREFIX) :].lower().partition(ENV_SEPARATOR)
        where = f"from environment {name}"
        _check_key(section, key, where)
        layer.setdefault(section, {})[key] = (parse_value(section, key, raw), where)
    return layer


def parse_override(assignment: str) -> tuple[str, str, Any]:
    """'train.lora_rank=8' -> ('train', 'lora_rank', 8), checked against the schema."""
    where = f"from --set {assignment}"
    if "=" not in assignment:
        raise ConfigError(f"--set expects section.key=value, got '{assignment}'")
    dotted, _, raw = assignment.partition("=")
    section, key = split_dotted(dotted, where)
    _check_key(section, key, where)
    return section, key, parse_value(section, key, raw)


def _validate(merged: dict[str, dict[str, Any]], origins: dict[str, str]) -> Settings:
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        error = exc.errors()[0]
        section, key = str(error["loc"][0]), str(error["loc"][1])
        dotted = f"{section}.{key}"
        got = merged.get(section, {}).get(key)
        raise ConfigError(
            f"{dotted} ({origins.get(dotted, 'default')}) expects "
            f"{describe_expected(section, key)}, got {got!r}"
        ) from None


def load_settings(
    paths: Paths,
    overrides: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
) -> LoadedSettings:
    """Build Settings from all layers; raise ConfigError naming the first bad key."""
    environ = os.environ if environ is None else environ
    merged: dict[str, dict[str, Any]] = {}
    origins: dict[str, str] = {}

    def put(section: str, key: str, value: Any, where: str) -> None:
        merged.setdefault(section, {})[key] = value
        origins[f"{section}.{key}"] = where

    for section, table in _file_layer(paths.config_file).items():
        for key, value in table.items():
            put(section, key, value, f"in {paths.config_file}")
    for section, table in _env_layer(environ).items():
        for key, (value, where) in table.items():
            put(section, key, value, where)
    for assignment in overrides:
        section, key, value = parse_override(assignment)
        put(section, key, value, f"from --set {assignment}")

    settings = _validate(merged, origins)
    return LoadedSettings(settings=settings, origins=origins, config_file=paths.config_file)


# ---------------------------------------------------------------------------
# Editing the file


def set_in_file(paths: Paths, dotted: str, raw_value: str) -> Any:
    """Write section.key = value into config.toml (comments kept), after validating it."""
    where = f"for {paths.config_file}"
    section, key = split_dotted(dotted, where)
    _check_key(section, key, where)
    value = parse_value(section, key, raw_value)
    document = read_config_file(paths.config_file)
    candidate = document.unwrap()
    candidate.setdefault(section, {})[key] = value
    checked = _validate(candidate, {f"{section}.{key}": f"config set {dotted}"})
    typed_value = getattr(getattr(checked, section), key)
    if section not in document:
        document.add(section, tomlkit.table())
    if typed_value is None:
        document[section].pop(key, None)  # TOML has no null: absent means default
    else:
        document[section][key] = typed_value
    atomic_write_text(paths.config_file, tomlkit.dumps(document))
    return typed_value


def unset_in_file(paths: Paths, dotted: str) -> bool:
    """Remove section.key from config.toml; True if it was there."""
    section, key = split_dotted(dotted, f"for {paths.config_file}")
    _check_key(section, key, f"for {paths.config_file}")
    document = read_config_file(paths.config_file)
    if section not in document or key not in document[section]:
        return False
    del document[section][key]
    if not document[section]:
        del document[section]
    atomic_write_text(paths.config_file, tomlkit.dumps(document))
    return True


# ---------------------------------------------------------------------------
# Rendering


def env_var_name(section: str, key: str) -> str:
    return f"{ENV_PREFIX}{section.upper()}{ENV_SEPARATOR}{key.upper()}"


def render_toml(loaded: LoadedSettings) -> str:
    """Effective settings as TOML, each key with its description and, if not default, origin."""
    lines = [
        "# personaforge settings: defaults < config file < environment < --set",
        f"# config file: {loaded.config_file}"
        + ("" if loaded.config_file and loaded.config_file.exists() else " (not present)"),
    ]
    for section, model_type in SECTIONS.items():
        values = getattr(loaded.settings, section)
        lines += ["", f"[{section}]"]
        for key, info in model_type.model_fields.items():
            lines.append(f"# {info.description}")
            value = getattr(values, key)
            origin = loaded.origin(f"{section}.{key}")
            suffix = "" if origin == "default" else f"  # {origin}"
            if value is None:
                lines.append(f"# {key} is not set{suffix}")
            else:
                lines.append(f"{key} = {tomlkit.item(value).as_string()}{suffix}")
    return "\n".join(lines) + "\n"


def render_reference_markdown() -> str:
    """docs/configuration.md, generated from the schema so the docs cannot drift."""
    out = [
        "# Configuration reference",
        "",
        "<!-- generated by `make docs` from src/personaforge/config.py; do not edit -->",
        "",
        "Settings are read in layers, later wins: built-in defaults, then",
        "`$PERSONAFORGE_HOME/config.toml`, then environment variables",
        "`PERSONAFORGE_<SECTION>__<KEY>`, then `--set section.key=value` on any command.",
        "`personaforge config show` prints the effective values and where each came from;",
        "`personaforge config set section.key value` edits the file (comments are kept).",
        "",
    ]
    for section, model_type in SECTIONS.items():
        out += [f"## [{section}]", "", (model_type.__doc__ or "").strip(), ""]
        out += ["| key | default | accepts | environment | meaning |", "|---|---|---|---|---|"]
        for key, info in model_type.model_fields.items():
            default = info.get_default(call_default_factory=True)
            shown = "none" if default is None else tomlkit.item(default).as_string()
            out.append(
                f"| `{key}` | `{shown}` | {describe_expected(section, key)} | "
                f"`{env_var_name(section, key)}` | {info.description} |"
            )
        out.append("")
    return "\n".join(out)
