"""The promotion gate: did the adapter learn the person without forgetting, parroting or leaking?

    report = evaluate_version(paths, settings, "v3", current="v2")

The base, the candidate and the current promoted version (when there is one)
are measured on the same inputs (measure.py), with one base model in memory
and the adapters switched on it. The gate (gate.py) turns the numbers into
checks and a decision; the report (report.py) goes into the version folder.

Measurements are cached by what they depend on (the model's weights, the
dataset, the gate settings, the secrets asked for), so the base is measured
once per dataset, and a DPO candidate's parent, already measured as a
candidate itself, is not measured again as `current`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from personaforge.atomic import atomic_write_text
from personaforge.config import Settings
from personaforge.dataset.mix import capped_eval_rows
from personaforge.errors import UserError
from personaforge.evaluate.gate import Check, checks_of, gate_checks, verdict
from personaforge.evaluate.knows import FactInputs, FactQuestion, judge, measure_facts
from personaforge.evaluate.measure import (
    PROBES,
    SHOWCASE,
    EvalInputs,
    ModelMetrics,
    general_texts,
    generate,
    generate_many,
    leaks,
    measure,
    ngrams,
    perplexity,
    reply_loss,
    text_loss,
)
from personaforge.evaluate.report import (
    EvalReport,
    load_report,
    metric_rows,
    metrics_from_dict,
    write_report,
)
from personaforge.paths import Paths

__all__ = [
    "PROBES",
    "SHOWCASE",
    "Check",
    "EvalInputs",
    "EvalReport",
    "FactInputs",
    "FactQuestion",
    "ModelMetrics",
    "checks_of",
    "evaluate_and_apply",
    "evaluate_version",
    "fact_inputs",
    "gate_checks",
    "generate",
    "generate_many",
    "judge",
    "leaks",
    "load_report",
    "measure_facts",
    "metric_rows",
    "perplexity",
    "reply_loss",
    "store_secrets",
    "style_summary",
    "text_loss",
    "verdict",
]

# Bump when measure() changes what a number means; cached measurements are then redone.
# 6: held-out answers decoded with the decode settings (memorisation, looping, voice); style
# split into new and earlier rows; memorisation counts one reply's runs; ModelMetrics.facts
# (the fact questions). 7: leaked_ids (a value the base says too is not counted). 8: an answer
# stating a slot fact's value is not a recital of it (knows.recites).
METRICS_VERSION = 8


# -- inputs ------------------------------------------------------------------------------------------


def store_secrets(paths: Paths) -> list[tuple[str, str]]:
    """(kind, value) of every secret the privacy detectors find in the live memory store."""
    from personaforge.dataset.privacy import find_secrets, memory_texts
    from personaforge.store import MemoryStore

    if not paths.memory_store.exists():
        return []
    found = []
    with MemoryStore.open(paths.memory_store) as store:
        for memory in store.memories():
            for text in memory_texts(memory):
                found += [(f.kind, text[f.start : f.end]) for f in find_secrets(text)]
    return sorted(set(found))


# An n-gram in this many of her training replies or more is her phrasing (a heading she
# always writes, "Tomorrow:", a tag), not one note's text: repeating it is voice, not
# memorisation. Measured on the demo (smollm2, a monthly update): two of 16 held-out
# answers were flagged for "## Tidewatch\nTidewatch: the tide forecast. #tidewatch", a
# run her daily notes share dozens of times.
COMMON_NGRAM_REPLIES = 3


def training_ngrams(paths: Paths, dataset_id: str, tokenizer, size: int) -> set[tuple[int, ...]]:
    """The `size`-token runs of the training replies that fewer than COMMON_NGRAM_REPLIES of
    them hold: what repeating would copy a particular note rather than speak like her."""
    folder = paths.datasets / dataset_id
    replies: dict[tuple[int, ...], int] = {}
    for line in (folder / "train.jsonl").read_text().splitlines():
        row = json.loads(line)
        grams: set[tuple[int, ...]] = set()
        for message in row["messages"]:
            if message["role"] == "assistant":
                grams |= ngrams(
                    tokenizer(message["content"], add_special_tokens=False)["input_ids"], size
                )
        for gram in grams:
            replies[gram] = replies.get(gram, 0) + 1
    return {gram for gram, count in replies.items() if count < COMMON_NGRAM_REPLIES}


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def eval_inputs(
    paths: Paths, settings: Settings, dataset_id: str, ref_location: str, tokenizer
) -> EvalInputs:
    gate = settings.gate
    dataset = paths.datasets / dataset_id
    eval_rows = _rows(dataset / "eval.jsonl")
    if not eval_rows:
        raise UserError(
            f"dataset {dataset_id} has no eval split; rebuild it with dataset.eval_fraction > 0"
        )
    return EvalInputs(
        capped_eval_rows(eval_rows, gate.max_eval_examples),
        general_texts(ref_location, gate.general_texts),
        training_ngrams(paths, dataset_id, tokenizer, gate.memorised_ngram),
        store_secrets(paths),
        list(gate.canaries),
        eval_rows[0]["messages"][0]["content"],
        _rows(dataset / "preference_eval.jsonl"),
    )


# -- the facts it should know ("knows") ---------------------------------------------------------------

SAMPLE_MANIFEST = "sample-manifest.json"


def sample_quiz(paths: Paths, settings: Settings) -> list[dict[str, Any]]:
    """The sample person's quiz, when a source folder (or the demo's data) holds her manifest."""
    for folder in [*map(Path, settings.run.sources), paths.demo_data]:
        manifest = Path(folder).expanduser() / SAMPLE_MANIFEST
        if manifest.is_file():
            return json.loads(manifest.read_text(encoding="utf-8")).get("quiz", [])
    return []


def profile_facts(paths: Paths, settings: Settings) -> list[Any]:
    """The home's profile facts (USER_PROFILE.json), or built from the store when there is none
    yet: the first `run` evaluates before its profile stage writes the file."""
    from personaforge.profile import build_profile, load_profile
    from personaforge.profile.build import DATA

    if (paths.home / DATA).is_file():
        return load_profile(paths).facts
    return build_profile(paths, settings, probe=False).facts


def _in_her_words(store, value: str) -> bool:
    """Did the person write these words (as a phrase, the last word also as a prefix)?"""
    phrase = '"' + value.replace('"', '""') + '"*'
    return bool(store.ranked(phrase, 1, speaker="self"))


def fact_inputs(paths: Paths, settings: Settings, tokenizer, system_prompt: str):
    """The fact questions asked plainly and with retrieval (knows.FactInputs); None without a store.

    Quiz questions whose answer the person never wrote down are left out and listed
    (`unanswerable`): retrieval cannot find what is not there, and the base could only guess.
    """
    from personaforge.evaluate.knows import FactInputs, fact_questions
    from personaforge.serve.retrieval import open_retriever
    from personaforge.store import MemoryStore

    if not paths.memory_store.exists():
        return None
    facts = profile_facts(paths, settings)
    questions, unanswerable = [], []
    with MemoryStore.open(paths.memory_store) as store:
        for question in fact_questions(facts, sample_quiz(paths, settings)):
            known = question.origin == "profile" or any(
                _in_her_words(store, value) for value in question.values
            )
            (questions if known else unanswerable).append(question)
    if not questions:
        return None

    def tokens(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    def ask(text: str) -> list[dict[str, str]]:
        return [{"role": "system", "content": system_prompt}, {"role": "user", "content": text}]

    plain = [ask(q.question) for q in questions]
    retriever = open_retriever(paths, settings, tokens, facts=facts)
    grounded, contexts, sources, showcase, stated = [], [], [], [], []
    if retriever is not None:
        try:
            for chat in plain:
                result = retriever.ground(chat, system_prompt)
                grounded.append(result.messages)
                contexts.append(result.context.texts())
                stated.append(result.context.stated_values())
                sources.append(result.context.sources())
            showcase = [retriever.ground(ask(p), system_prompt).messages for p in SHOWCASE]
        finally:
            retriever.close()
    secrets = store_secrets(paths) + [("canary", c) for c in settings.gate.canaries]
    return FactInputs(
        questions,
        plain,
        grounded,
        contexts,
        sources,
        secrets,
        showcase,
        [q.question for q in unanswerable],
        stated,
    )


# -- the cache -----------------------------------------------------------------------------------------


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def inputs_key(inputs: EvalInputs, settings: Settings, dataset_id: str, facts=None) -> str:
    payload = {
        "facts": hashlib.sha256(
            json.dumps(facts.fingerprint() if facts else None, sort_keys=True).encode()
        ).hexdigest(),
        "metrics": METRICS_VERSION,
        "dataset": dataset_id,
        "gate": settings.gate.model_dump(exclude={"auto_apply", "current_style_margin"}),
        "decode": settings.decode.model_dump(),
        "max_seq_length": settings.train.max_seq_length,
        "general": hashlib.sha256("\0".join(inputs.general_texts).encode()).hexdigest(),
        "secrets": hashlib.sha256(repr(inputs.secrets).encode()).hexdigest(),
        "system": inputs.system_prompt,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class MetricsCache:
    """Measurements on disk, keyed by (model identity, inputs identity)."""

    def __init__(self, paths: Paths, inputs_id: str):
        self.folder = paths.home / "cache" / "eval"
        self.inputs_id = inputs_id

    def _path(self, model_id: str) -> Path:
        key = hashlib.sha256(f"{model_id}\0{self.inputs_id}".encode()).hexdigest()[:32]
        return self.folder / f"{key}.json"

    def get(self, model_id: str) -> ModelMetrics | None:
        path = self._path(model_id)
        return metrics_from_dict(json.loads(path.read_text())) if path.exists() else None

    def put(self, model_id: str, metrics: ModelMetrics) -> None:
        atomic_write_text(self._path(model_id), json.dumps(metrics.as_dict()))


def adapter_identity(base_fingerprint: str, folder: Path) -> str:
    return f"{base_fingerprint}+{_sha256_file(folder / 'adapter_model.safetensors')}"


# -- the whole evaluation -------------------------------------------------------------------------------


def _dataset_selection(paths: Paths, dataset_id: str) -> dict[str, Any]:
    manifest = paths.datasets / dataset_id / "manifest.json"
    return json.loads(manifest.read_text()).get("selection", {}) if manifest.exists() else {}


def _weights(paths: Paths, version: str | None) -> Path | None:
    if version is None:
        return None
    folder = paths.adapters / version
    return folder if (folder / "adapter_model.safetensors").exists() else None


def evaluate_version(
    paths: Paths, settings: Settings, version: str, current: str | None
) -> EvalReport:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from personaforge.bases import base_fingerprint, quiet_libraries, resolve_base
    from personaforge.registry import read_card

    quiet_libraries()
    folder = _weights(paths, version)
    if folder is None:
        raise UserError(f"{version} has no adapter weights (pruned?); nothing to evaluate")
    card = read_card(folder)
    ref = resolve_base(card["base"]["name"], paths, card["base"].get("revision"))
    fingerprint = base_fingerprint(ref)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    dataset_id = card["dataset"]["id"]
    inputs = eval_inputs(paths, settings, dataset_id, ref.location, tokenizer)
    facts = fact_inputs(paths, settings, tokenizer, inputs.system_prompt)
    cache = MetricsCache(paths, inputs_key(inputs, settings, dataset_id, facts))
    current_folder = _weights(paths, current) if current != version else None
    identities = {
        "base": fingerprint,
        "candidate": adapter_identity(fingerprint, folder),
        **({"current": adapter_identity(fingerprint, current_folder)} if current_folder else {}),
    }
    compared: dict[str, ModelMetrics] = {}
    model = AutoModelForCausalLM.from_pretrained(ref.location).eval()

    def measured(role: str) -> ModelMetrics:
        found = cache.get(identities[role])
        if found is None:
            found = measure(
                model,
                tokenizer,
                inputs,
                settings.gate,
                settings.train.max_seq_length,
                settings.decode,
            )
            found.voice = None  # scored below, against this evaluation's base
            if facts is not None:  # the base is asked plainly: retrieval serves the persona
                found.facts = measure_facts(
                    model, tokenizer, facts, settings.gate.max_new_tokens, role != "base"
                )
            cache.put(identities[role], found)
        return found

    compared["base"] = measured("base")
    model = PeftModel.from_pretrained(model, str(folder), adapter_name="candidate").eval()
    compared["candidate"] = measured("candidate")
    if current_folder is not None:
        if cache.get(identities["current"]) is None:
            model.load_adapter(str(current_folder), adapter_name="current")
            model.set_adapter("current")
        compared["current"] = measured("current")
    score_voice(paths, settings, dataset_id, inputs, compared, (model, tokenizer), fingerprint)
    grounded = (compared["candidate"].facts or {}).get("showcase") or [None] * len(SHOWCASE)
    generations = [
        {"prompt": prompt, "base": base, "candidate": cand}
        | ({"grounded": with_memories} if with_memories is not None else {})
        for prompt, base, cand, with_memories in zip(
            SHOWCASE,
            compared["base"].generations,
            compared["candidate"].generations,
            grounded,
            strict=True,
        )
    ]
    built_against = _dataset_selection(paths, dataset_id).get("since_version")
    new_since_current = current_folder is not None and built_against == current
    decided = verdict(compared, settings.gate, card.get("method", "sft"), new_since_current)
    report = EvalReport(
        version,
        compared,
        decided,
        generations,
        folder,
        current if current_folder is not None else None,
    )
    write_report(report)
    return report


def voice_texts(paths: Paths, dataset_id: str, base_general: list[str]) -> tuple[list, list]:
    """(the person's training replies, not-the-person texts) for the authorship classifier.

    Not-the-person is the other side of the person's own sources (assistant turns of AI
    chats, other participants of messaging exports: store rows whose speaker is not
    `self`) and the base's own answers to general prompts.
    """
    from personaforge.store import MemoryStore

    rows = _rows(paths.datasets / dataset_id / "train.jsonl")
    person = [
        r["messages"][-1]["content"] for r in rows if r.get("meta", {}).get("kind") != "rehearsal"
    ]
    others: list[str] = []
    if paths.memory_store.exists():
        with MemoryStore.open(paths.memory_store) as store:
            others = [m.text for m in store.memories() if m.speaker in ("assistant", "other")]
    return person, others + base_general


def base_general_answers(paths: Paths, model, tokenizer, fingerprint: str) -> list[str]:
    """The base's answers to the rehearsal prompts: cached by training, generated once if not."""
    from personaforge.train.rehearsal import base_answers

    rows = base_answers(model, tokenizer, paths.models, fingerprint)
    return [row["messages"][-1]["content"] for row in rows]


def score_voice(
    paths: Paths,
    settings: Settings,
    dataset_id: str,
    inputs: EvalInputs,
    compared: dict[str, ModelMetrics],
    loaded: tuple[Any, Any],
    fingerprint: str,
) -> None:
    """Fill `voice` of every model but the base: its paired authorship score against the base."""
    from personaforge.evaluate.voice import fit_voice, paired_voice

    base = compared["base"]
    if not base.answers:
        return
    general = base_general_answers(paths, *loaded, fingerprint)
    person, others = voice_texts(paths, dataset_id, general)
    heldout = [row["messages"][-1]["content"] for row in inputs.eval_rows]
    try:
        classifier = fit_voice(person, others, heldout, seed=settings.decode.seed)
    except ValueError:  # too little text on one side: nothing to report
        return
    real = heldout[: len(base.answers)]
    for role, metrics in compared.items():
        if role != "base" and len(metrics.answers) == len(real):
            score = paired_voice(
                classifier, real, metrics.answers, base.answers, settings.decode.seed
            )
            metrics.voice = score.as_dict()


def style_summary(paths: Paths, settings: Settings, version: str | None = None) -> dict[str, Any]:
    """The voice score of `version` (default: current) from its gate answers, for benchmarks:
    {"n", "auc", "win_rate", "p_value", "gap_closed", "gap_closed_ci"} (bench/persona.py's
    "style"). The classifier is refitted (deterministic), so the numbers are the gate's."""
    from personaforge.evaluate.voice import fit_voice, paired_voice
    from personaforge.registry import Registry

    if version is None:
        with Registry.open(paths) as registry:
            version = registry.current()
    report = load_report(paths, version) if version else None
    if report is None or not report.compared["candidate"].answers:
        raise UserError(f"{version or 'no version'} has no gate answers; run `personaforge eval`")
    base, cand = report.compared["base"], report.compared["candidate"]
    folder = paths.adapters / version
    card = json.loads((folder / "personaforge.json").read_text())
    dataset_id = card["dataset"]["id"]
    general = _general_answers(paths, card)
    person, others = voice_texts(paths, dataset_id, general)
    rows = _rows(paths.datasets / dataset_id / "eval.jsonl")[: settings.gate.max_eval_examples]
    heldout = [row["messages"][-1]["content"] for row in rows]
    classifier = fit_voice(person, others, heldout, seed=settings.decode.seed)
    real = heldout[: len(base.answers)]
    return paired_voice(classifier, real, cand.answers, base.answers, settings.decode.seed).style()


def _general_answers(paths: Paths, card: dict[str, Any]) -> list[str]:
    """The base's general answers as training cached them; generated (and cached) if absent."""
    from personaforge.bases import base_fingerprint, resolve_base
    from personaforge.train.rehearsal import cache_path

    ref = resolve_base(card["base"]["name"], paths, card["base"].get("revision"))
    fingerprint = base_fingerprint(ref)
    cached = cache_path(paths.models, fingerprint)
    if cached.exists():
        return [
            json.loads(line)["messages"][-1]["content"] for line in cached.read_text().splitlines()
        ]
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(ref.location).eval()
    tokenizer = AutoTokenizer.from_pretrained(ref.location)
    return base_general_answers(paths, model, tokenizer, fingerprint)


def evaluate_and_apply(
    paths: Paths,
    settings: Settings,
    version: str,
    apply: bool | None = None,
    force: bool = False,
) -> EvalReport:
    """Evaluate against the current version, record the verdict, then promote or reject.

    `apply` None follows gate.auto_apply. A rejected candidate is promoted only with
    `force`, and the registry records that it was forced.
    """
    from personaforge.registry import Registry

    with Registry.open(paths) as registry:
        registry.get(version)
        report = evaluate_version(paths, settings, version, registry.current())
        registry.record_evaluation(version, report.verdict)
        if not (settings.gate.auto_apply if apply is None else apply):
            return report
        if report.verdict["decision"] == "promote":
            registry.promote(version, reason="passed the gate")
        elif force:
            registry.promote(version, reason="promoted with --force against the gate", force=True)
            report.verdict = registry.get(version).verdict or report.verdict
        else:
            registry.reject(version, reason="; ".join(report.verdict["failures"]))
    return report
