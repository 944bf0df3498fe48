"""The settings of the data: reading sources (`ingest`), whose words are the person's
(`identity`), building examples (`dataset`) and what to do with secrets (`privacy`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from personaforge.config.fields import _Section, split_comma_list


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
    grounded: bool = Field(
        True,
        description=(
            "Also train on her own sentences that state a profile fact, asked as a question "
            "with the context `serve` retrieves for it (serve/grounded.py), so the persona "
            "learns to use what retrieval gives it. Needs serve.retrieval; training file only."
        ),
    )
    grounded_share: float = Field(
        0.2,
        ge=0.0,
        lt=1.0,
        description=(
            "The share of the training file that grounded conversations make up (each asks "
            "up to four questions of one context; a lookup is in at most eight of them). "
            "Training sees a sample of the file, so this is also about the share of steps "
            "spent learning to answer from the context."
        ),
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
