"""The settings of use: how answers are generated (`decode`), the cycle `personaforge run`
follows (`run`), and the server (`serve`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from personaforge.config.fields import _Section, split_comma_list


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
    retrieval_format: Literal["notes", "first-person", "question-notes", "recalled", "asked"] = (
        Field(
            "asked",
            description=(
                "How the retrieved context reaches the model (serve/context.py FORMATS). asked: "
                "her notes in the system message and each fact as an earlier answer of hers; "
                "notes: facts and notes as lists in the system message. The default is the one "
                "smollm2-135m answered most facts with (bench/RESULTS.md, 'persona — what it "
                "knows')."
            ),
        )
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
