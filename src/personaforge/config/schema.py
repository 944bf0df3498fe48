"""The settings schema: one section class per pipeline stage, one documented field per knob.

The field descriptions are the documentation: `config show` prints them beside each
value and `make docs` renders them into docs/configuration.md. Loading the layers
lives in config/load.py, rendering in config/render.py.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel, ConfigDict, Field, field_validator

# Llama/Qwen/Mistral projection names; adapting all seven (not only q,v) is what
# QLoRA's paper found necessary to match full fine-tuning quality.
ALL_LINEAR_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def split_comma_list(value: Any) -> Any:
    """Let a list setting be given as "a,b,c" (environment, --set) as well as a TOML list."""
    if isinstance(value, str):
        return [part.strip() for part in value.strip("[]").split(",") if part.strip()]
    return value


# "30m", "2h", "1h30m", "90s", "45" (minutes): a number and a unit, repeated.
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([hms]?)")
_DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "": 60.0}
NO_BUDGET = ("none", "off", "0")


def parse_budget(value: str) -> float | Literal["auto"] | None:
    """'30m' -> 1800.0 seconds; 'none' -> None; 'auto' -> 'auto'. Anything else is a ValueError."""
    text = value.strip().lower().replace(" ", "")
    if text == "auto":
        return "auto"
    if text in NO_BUDGET:
        return None
    parts = _DURATION_PART.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"'{value}' is not a duration: use e.g. 30m, 2h, 1h30m, 90s, none or auto")
    seconds = sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)
    if seconds <= 0:
        raise ValueError(f"'{value}' is no time at all: use none for no budget")
    return seconds


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelSettings(_Section):
    """Which base model the adapters are trained on."""

    base: str = Field(
        "auto",
        description=(
            "Base model: a Hugging Face id (org/name), a local folder, a built-in base "
            "('smollm2-135m', the real 135M chat model; 'tiny' and 'tiny:micro', toys for "
            "tests), or auto: the current version's base, else one chosen for this machine "
            "(smollm2-135m on CPU, a 1.5B instruct model on a GPU under 12 GB, an 8B instruct "
            "model in 4-bit from 12 GB); `doctor` says which and why."
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
            "off on CPU (it makes every step much slower there)."
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
    time_budget: str = Field(
        "auto",
        description=(
            "Wall time one run's training may take, e.g. '30m', '2h', '1h30m', '90s'; 'none' "
            "for no limit; auto: 30m on CPU, none on CUDA. The plan measures this machine's "
            "speed with a short probe, then fits: fewer epochs first, then a sample of the "
            "examples that keeps the mix's shares (kinds, new vs replayed); a run that still "
            "overruns stops at the budget and is saved, gated and marked as bound by it."
        ),
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
    padding_free: Literal["auto", "on", "off"] = Field(
        "auto",
        description=(
            "Join each batch's examples into one row with position ids instead of padding them "
            "to the longest: same examples per step, no compute spent on padding. auto: on for "
            "the hf backend on CPU and with flash attention (sdpa on CUDA would lose its fused "
            "kernel to the block mask). Ignored when packing is on."
        ),
    )
    loss_head: Literal["auto", "compact", "chunked"] = Field(
        "auto",
        description=(
            "How the SFT loss projects through the LM head. compact: logits only at the "
            "positions that are scored (the person's tokens), in one pass, no per-step entropy "
            "or accuracy. chunked: TRL's fused LM head, which never holds the full logits and "
            "logs entropy and token accuracy, at the cost of a second projection in the "
            "backward pass. auto: compact on CPU, chunked on CUDA (large vocabularies)."
        ),
    )
    dpo_beta: float = Field(
        0.1, gt=0, description="DPO beta: how far the policy may move from the reference."
    )
    dpo_learning_rate: float = Field(
        5e-5,
        gt=0,
        lt=1,
        description="Peak learning rate for DPO (gentler than SFT: it refines an adapter).",
    )
    dpo_epochs: int = Field(
        4, ge=1, le=100, description="Passes over the preference pairs (they are few)."
    )
    dpo_min_pairs: int = Field(
        8,
        ge=1,
        description="Fewer training pairs than this: DPO is skipped with the reason, not run as a no-op.",
    )
    parent_scale: float = Field(
        1.0,
        ge=0,
        le=1,
        description=(
            "When continuing a version: scale its change from the base by this much before "
            "training (1 = continue it as it is; 0.5 = average it with the base). "
            "`run.strategy = blend` sets 0.5."
        ),
    )
    rehearsal_share: float = Field(
        0.2,
        ge=0,
        lt=1,
        description=(
            "Share of SFT rows that are the base's own answers to general prompts "
            "(self-synthesised rehearsal), so the adapter keeps what the base could do. 0: off."
        ),
    )

    _split_targets = field_validator("target_modules", mode="before")(split_comma_list)

    @field_validator("time_budget")
    @classmethod
    def _check_budget(cls, value: str) -> str:
        parse_budget(value)  # raises ValueError with what is accepted
        return value.strip().lower()


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
    chat_gap_hours: float = Field(
        6.0,
        gt=0,
        description=(
            "Messaging and mail: a silence longer than this starts a new conversation, so a "
            "morning message is not read as the reply to last night's (6 h separates an "
            "evening from the next morning). Consecutive messages of one person are joined "
            "only within a conversation."
        ),
    )

    _split_globs = field_validator("skip_globs", mode="before")(split_comma_list)


class IdentitySettings(_Section):
    """Who the person is in messaging and mail exports, where every message has an author."""

    names: list[str] = Field(
        default_factory=list,
        description=(
            "Your names as chat exports show them (WhatsApp, Messenger, Instagram), e.g. "
            '"Maren Holt,Maren". Matched ignoring case and invisible marks.'
        ),
    )
    emails: list[str] = Field(
        default_factory=list,
        description="Your mail addresses: mail From one of them is yours (mbox, Gmail Takeout).",
    )
    ids: list[str] = Field(
        default_factory=list,
        description=(
            "Your account ids: Telegram's from_id (user123456789, or the number alone) when "
            "the export has no personal_information, a Discord user id or username."
        ),
    )

    _split_lists = field_validator("names", "emails", "ids", mode="before")(split_comma_list)


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
    code: Literal["keep", "prose_only", "separate"] = Field(
        "keep",
        description=(
            "Code blocks and command output in the person's replies (```fences```, indented "
            "blocks, `$ ` shell lines). keep: they train like the prose around them; "
            "prose_only: they are cut out of replies (an example left with too few words is "
            "dropped); separate: cut out of replies and trained as examples of their own "
            "(kind 'code'), so the voice examples hold prose only. `dataset show` reports "
            "their share of target tokens; docs/first-run.md has the measurements."
        ),
    )
    dialogue_context_turns: int = Field(
        6, ge=1, description="Earlier chat turns kept as context for a dialogue example."
    )
    eval_fraction: float = Field(
        0.1,
        ge=0,
        lt=0.5,
        description=(
            "Share held out for evaluation, chosen by a stable hash of whole notes, "
            "conversations and days (never part of one in training and part in eval)."
        ),
    )
    eval_near_duplicate_threshold: float = Field(
        0.5,
        gt=0,
        le=1,
        description=(
            "A held-out example this similar (MinHash Jaccard) to a training example is "
            "dropped from eval, so the style check measures voice, not recall."
        ),
    )
    preference_eval_min: int = Field(
        4,
        ge=0,
        description=(
            "Preference pairs held out at least (when there are at least twice as many), "
            "so DPO is always evaluated on pairs it never trained on."
        ),
    )
    days_recent: int = Field(
        30,
        ge=1,
        description=(
            "Monthly update without a current version to compare with: the memories of the "
            "last this many days are the new ones (with a version: those it never learned)."
        ),
    )
    old_samples: int = Field(
        3000,
        ge=0,
        description=(
            "Monthly update: this many older memories replayed beside the new ones, an equal "
            "share from every earlier month (seeded)."
        ),
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
    voice_prompts: int = Field(
        40,
        ge=1,
        description=(
            "Held-out prompts the base and the candidate answer (decoded as serve decodes) for "
            "the looping check and the voice score."
        ),
    )
    max_loop_increase: float = Field(
        0.05,
        ge=0,
        le=1,
        description=(
            "Looping: the share of answers in which a word 4-gram occurs 3+ times may exceed "
            "the base's by at most this (0.05 = 5 points)."
        ),
    )
    min_voice_win_rate: float = Field(
        0.6,
        ge=0,
        le=1,
        description=(
            "Voice: share of held-out prompts whose answer an authorship classifier finds more "
            "like the person than the base's answer; blocks only with enough prompts and a "
            "classifier that tells the person apart (AUC >= 0.75)."
        ),
    )
    max_voice_p_value: float = Field(
        0.05,
        gt=0,
        le=1,
        description="Voice: the win rate's exact one-sided sign-test p-value must be below this.",
    )
    min_voice_prompts: int = Field(
        20,
        ge=1,
        description=(
            "Voice: with fewer held-out prompts than this the score is reported, not enforced "
            "(20 prompts at a 0.6 win rate are already p = 0.25)."
        ),
    )
    current_style_margin: float = Field(
        0.03,
        ge=0,
        description=(
            "A candidate whose style perplexity is worse than the current version's by more "
            "than this (0.03 = 3%) is not promoted; set from the spread between training seeds "
            'that bench/gate_noise.py measures (docs/evaluation.md, "Gate noise").'
        ),
    )
    auto_apply: bool = Field(
        True,
        description="`eval` promotes a passing candidate and rejects a failing one without asking.",
    )
    min_fact_accuracy: float | None = Field(
        None,
        ge=0,
        le=1,
        description=(
            "The `knows` check: the share of fact questions (from the profile) the persona must "
            "answer right with retrieval, and no superseded value stated. Empty: the check is "
            "informational (its numbers are reported, it never blocks a promotion)."
        ),
    )

    _split_canaries = field_validator("canaries", mode="before")(split_comma_list)


class DecodeSettings(_Section):
    """How replies are decoded: the gate's answers, serve's defaults, chat, the demo, the profile's
    probes and the Ollama Modelfile all use these (decoding.py); a serve request may override any."""

    temperature: float = Field(
        0.7,
        ge=0,
        le=2,
        description="Sampling temperature; 0 is greedy (the same answer every time).",
    )
    top_p: float = Field(
        0.9,
        gt=0,
        le=1,
        description="Nucleus sampling: sample from the likeliest tokens whose probability sums to this.",
    )
    repetition_penalty: float = Field(
        1.1,
        ge=1,
        le=2,
        description=(
            "A token the reply already used has its logit divided by this (multiplied when "
            "negative); 1 = off. Ollama's repeat_penalty."
        ),
    )
    repeat_last_n: int = Field(
        64,
        ge=0,
        description="The penalties look at this many of the reply's last tokens (0 = the whole reply).",
    )
    frequency_penalty: float = Field(
        0.0,
        ge=-2,
        le=2,
        description="OpenAI's: the logit drops by this for each time the reply used the token.",
    )
    presence_penalty: float = Field(
        0.0,
        ge=-2,
        le=2,
        description="OpenAI's: the logit drops by this once the reply has used the token.",
    )
    no_repeat_ngram_size: int = Field(
        0,
        ge=0,
        description=(
            "Never repeat an n-gram of this many tokens within a reply (0 = off). Not in "
            "llama.cpp, so an Ollama export cannot carry it."
        ),
    )
    seed: int = Field(
        0,
        description=(
            "Seed for sampled answers in the gate, the profile's probes and the demo, so their "
            "numbers repeat; serve uses a request's own seed, or none."
        ),
    )


class RunSettings(_Section):
    """`personaforge run`: what the monthly cycle reads, how it trains, what it produces."""

    sources: list[str] = Field(
        default_factory=list,
        description="Folders and files `run` ingests (vaults, chat exports, memories, corrections).",
    )
    strategy: Literal["warm", "steady", "blend", "refresh", "retrain"] = Field(
        "steady",
        description=(
            "After the first version (docs/cycle.md has the measurements): warm = continue the "
            "current version on the new memories plus a replay sampled evenly from every earlier "
            "month; steady = the same at learning_rate / (n + 1) for a lineage of n trainings; "
            "blend = the same after pulling the current version halfway back to the base; "
            "refresh = train from the base on that same monthly mix; retrain = from the base "
            "on every memory."
        ),
    )
    dpo: bool = Field(
        True, description="Train DPO on the corrections after SFT, when there are enough pairs."
    )
    export_formats: list[str] = Field(
        default_factory=lambda: ["ollama"],
        description="Formats exported for each promoted version (adapter, merged, gguf, lora-gguf, ollama).",
    )
    export_quant: str = Field("q8_0", description="GGUF type for gguf and ollama exports.")
    server_url: str = Field(
        "http://127.0.0.1:7373", description="A running `personaforge serve` told to reload."
    )
    profile: bool = Field(True, description="Rewrite USER_PROFILE.md after each run.")

    _split_lists = field_validator("sources", "export_formats", mode="before")(split_comma_list)


class ServeSettings(_Section):
    """`personaforge serve` and `chat`: answers grounded in the person's own memories and profile."""

    retrieval: bool = Field(
        True,
        description=(
            "Ground the `persona` model's answers in the memory store and the profile's current "
            "facts, whenever a store exists. A request turns it off with the model `persona-raw` "
            'or the field `"retrieval": false`.'
        ),
    )
    retrieval_format: Literal["notes", "first-person", "question-notes", "recalled"] = Field(
        "notes",
        description=(
            "How the retrieved context reaches the model (serve/retrieval.py FORMATS); the "
            "default is the one smollm2-135m answered most facts with (docs/serve.md)."
        ),
    )
    retrieval_facts: int = Field(
        4, ge=0, le=32, description="Current profile facts given with a question, best first."
    )
    retrieval_memories: int = Field(
        3, ge=0, le=32, description="Passages of the person's own memories given, best first."
    )
    retrieval_tokens: int = Field(
        256,
        ge=16,
        le=8192,
        description="Token budget of the retrieved context; what does not fit is left out.",
    )


class Settings(BaseModel):
    """All settings. Sections mirror the pipeline stages."""

    model_config = ConfigDict(extra="forbid")

    model: ModelSettings = Field(default_factory=ModelSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    identity: IdentitySettings = Field(default_factory=IdentitySettings)
    dataset: DatasetSettings = Field(default_factory=DatasetSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    train: TrainSettings = Field(default_factory=TrainSettings)
    gate: GateSettings = Field(default_factory=GateSettings)
    decode: DecodeSettings = Field(default_factory=DecodeSettings)
    run: RunSettings = Field(default_factory=RunSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)


SECTIONS: dict[str, type[_Section]] = {
    name: info.annotation
    for name, info in Settings.model_fields.items()  # type: ignore[misc]
}


# ---------------------------------------------------------------------------
# Describing field types


def unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    """`X | None` -> (X, True); any other annotation -> (it, False)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def describe_expected(section: str, key: str) -> str:
    """What a field accepts, in words: 'an integer >= 1', 'one of auto, hf, unsloth'."""
    info = SECTIONS[section].model_fields[key]
    annotation, optional = unwrap_optional(info.annotation)
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
