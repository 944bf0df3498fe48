"""Build the built-in tiny base: tokenizer, Llama weights, pretraining, a model card.

The result is an ordinary Hugging Face folder (config.json, model.safetensors,
tokenizer.json, chat_template.jinja, generation_config.json) that
AutoModelForCausalLM / AutoTokenizer load from the path alone, so every later
stage treats it exactly like a downloaded model.

Everything is deterministic for a given preset: the corpus comes from a seeded
generator, the tokenizer trainer is deterministic, the weights start from a
seeded init and pretraining runs a fixed number of steps (a time budget would
make the weights depend on the machine's speed). The presets are sized so the
"tiny" build takes about 2.5 minutes on 2 CPU cores and "micro" a few seconds.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import math
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from personaforge.atomic import atomic_directory
from personaforge.bases.tiny.corpus import Document, generate_corpus, split_heldout
from personaforge.errors import UserError, require
from personaforge.ui import console, step_progress

# Bump when the corpus generator, tokenizer recipe or training loop changes in a
# way that changes the weights: it is part of the cache key, so stale builds are
# rebuilt instead of silently reused.
BUILD_VERSION = 1

BOS = "<|begin_of_text|>"
END_OF_TEXT = "<|endoftext|>"  # ends a plain document; also the padding token
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"  # ends a chat turn; the EOS for chat generation
SPECIAL_TOKENS = [BOS, END_OF_TEXT, IM_START, IM_END]

# ChatML turns after a BOS. Assistant content sits inside {% generation %} so
# TRL's assistant_only_loss can mask everything else; the closing <|im_end|> is
# inside too, so the model learns to stop. Newlines are written as expressions
# because transformers renders templates with trim_blocks, which would eat a
# literal newline after a block tag.
CHAT_TEMPLATE = (
    "{{- bos_token -}}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'assistant' -%}"
    "{{- '<|im_start|>assistant\\n' -}}"
    "{%- generation -%}{{- message['content'] + '<|im_end|>' -}}{%- endgeneration -%}"
    "{{- '\\n' -}}"
    "{%- else -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)

CARD_FILE = "personaforge-base.json"
HELDOUT_FILE = "heldout.jsonl"
LOG_FILE = "pretrain_log.jsonl"


@dataclass(frozen=True)
class TinySpec:
    """Shape and training recipe of a built-in base. Every field is in the cache key."""

    preset: str
    vocab_size: int
    hidden_size: int
    intermediate_size: int  # about 8/3 x hidden, as Llama's SwiGLU MLP does
    num_layers: int
    num_heads: int
    num_kv_heads: int  # fewer than heads: grouped-query attention, like Llama 3
    context_length: int  # RoPE positions; nothing is learned per position
    n_documents: int
    heldout_fraction: float
    block_size: int  # tokens per pretraining sequence
    batch_size: int
    steps: int
    learning_rate: float
    warmup_steps: int
    seed: int

    def fingerprint(self) -> str:
        payload = json.dumps({"build": BUILD_VERSION, **dataclasses.asdict(self)}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    def folder_name(self) -> str:
        return f"tiny-{self.preset}-{self.fingerprint()[:10]}"


PRESETS: dict[str, TinySpec] = {
    # ~1.35M parameters. Chosen by measuring probe exact-match (fresh questions
    # from the corpus generators, greedy) at a fixed ~2.5-minute budget:
    #   h=256 x 4 layers,  600 steps: facts 33%, arithmetic 75%, instructions 25%
    #   h=192 x 4 layers,  900 steps: facts 58%, arithmetic 95%, instructions 63% (197 s)
    #   h=128 x 4 layers, 1300 steps: facts 68%, arithmetic 100%, instructions 53% (162 s)
    # More updates beat more width here. 1200 steps x 8 x 256 = 2.5M tokens, about
    # 4 passes over the corpus. The BPE trainer stops near 2,400 tokens, where no
    # pair in this corpus occurs twice more; 4096 is only a ceiling.
    "tiny": TinySpec(
        preset="tiny",
        vocab_size=4096,
        hidden_size=128,
        intermediate_size=352,
        num_layers=4,
        num_heads=4,
        num_kv_heads=2,
        context_length=2048,
        n_documents=12_000,
        heldout_fraction=0.05,
        block_size=256,
        batch_size=8,
        steps=1200,
        learning_rate=3e-3,
        warmup_steps=30,
        seed=1234,
    ),
    # For tests: builds in a few seconds, same code path, same special tokens.
    "micro": TinySpec(
        preset="micro",
        vocab_size=512,
        hidden_size=64,
        intermediate_size=176,
        num_layers=2,
        num_heads=4,
        num_kv_heads=2,
        context_length=1024,
        n_documents=2_000,
        heldout_fraction=0.05,
        block_size=128,
        batch_size=8,
        steps=60,
        learning_rate=5e-3,
        warmup_steps=5,
        seed=1234,
    ),
}


def get_spec(preset: str) -> TinySpec:
    if preset not in PRESETS:
        raise UserError(f"unknown tiny preset '{preset}'; choose one of: {', '.join(PRESETS)}")
    return PRESETS[preset]


def tiny_folder(models_dir: Path, preset: str) -> Path:
    return models_dir / get_spec(preset).folder_name()


def read_card(folder: Path) -> dict[str, Any] | None:
    card = folder / CARD_FILE
    return json.loads(card.read_text()) if card.exists() else None


# ---------------------------------------------------------------------------
# Tokenizer


def train_tokenizer(texts: list[str], spec: TinySpec):
    """Byte-level BPE (GPT-2 style pre-tokenizer), BOS added to plain text like Llama 3."""
    tokenizers = require("tokenizers", extra="train", feature="building the tiny base")
    transformers = require("transformers", extra="train", feature="building the tiny base")
    from tokenizers import decoders, models, pre_tokenizers, processors, trainers

    tokenizer = tokenizers.Tokenizer(models.BPE())
    # GPT-2's split regex; llama.cpp's converter knows this pre-tokenizer family.
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=spec.vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        min_frequency=2,
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    bos_id = tokenizer.token_to_id(BOS)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, bos_id)]
    )
    wrapped = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=BOS,
        eos_token=IM_END,
        pad_token=END_OF_TEXT,
        model_max_length=spec.context_length,
    )
    wrapped.chat_template = CHAT_TEMPLATE
    return wrapped


def encode_documents(tokenizer, documents: list[Document]) -> list[list[int]]:
    """Token ids per document: BOS + text + <|endoftext|>, or the rendered chat."""
    end_id = tokenizer.convert_tokens_to_ids(END_OF_TEXT)
    texts = []
    for document in documents:
        if document.is_chat:
            texts.append(tokenizer.apply_chat_template(list(document.messages), tokenize=False))
        else:
            texts.append(BOS + document.text)
    encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]
    return [
        ids if doc.is_chat else [*ids, end_id] for ids, doc in zip(encoded, documents, strict=True)
    ]


def rendered_text(tokenizer, document: Document) -> str:
    if document.is_chat:
        return tokenizer.apply_chat_template(list(document.messages), tokenize=False)
    return BOS + document.text + END_OF_TEXT


# ---------------------------------------------------------------------------
# Model and pretraining


def build_config(spec: TinySpec, tokenizer):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_layers,
        num_attention_heads=spec.num_heads,
        num_key_value_heads=spec.num_kv_heads,
        max_position_embeddings=spec.context_length,
        rms_norm_eps=1e-5,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
        dtype="float32",
    )


def _blocks(token_lists: list[list[int]], block_size: int):
    import torch

    stream = [token for ids in token_lists for token in ids]
    usable = len(stream) // block_size * block_size
    return torch.tensor(stream[:usable], dtype=torch.long).view(-1, block_size)


def _lr_at(step: int, spec: TinySpec) -> float:
    """Linear warmup, then cosine decay to 10% of the peak (nanoGPT's schedule)."""
    if step < spec.warmup_steps:
        return spec.learning_rate * (step + 1) / spec.warmup_steps
    progress = (step - spec.warmup_steps) / max(1, spec.steps - spec.warmup_steps)
    return spec.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def _batches(blocks, spec: TinySpec) -> Iterator:
    """Endless seeded reshuffles of the training blocks, batch_size at a time."""
    import torch

    generator = torch.Generator().manual_seed(spec.seed)
    while True:
        order = torch.randperm(len(blocks), generator=generator)
        for start in range(0, len(order) - spec.batch_size + 1, spec.batch_size):
            yield blocks[order[start : start + spec.batch_size]]


def heldout_perplexity(model, blocks, batch_size: int = 16) -> tuple[float, int]:
    """exp(mean next-token loss) over the held-out blocks; also returns tokens scored."""
    import torch

    model.eval()
    total_loss, total_tokens = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(blocks), batch_size):
            batch = blocks[start : start + batch_size]
            loss = model(input_ids=batch, labels=batch).loss
            scored = batch.numel() - batch.shape[0]  # the first token of a block has no target
            total_loss += loss.item() * scored
            total_tokens += scored
    model.train()
    return math.exp(total_loss / total_tokens), total_tokens


def pretrain(model, train_blocks, spec: TinySpec, log_path: Path) -> dict[str, float]:
    import torch

    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=spec.learning_rate,
        betas=(0.9, 0.95),  # beta2 0.95 is steadier than 0.999 for short, high-LR runs
    )
    batches = _batches(train_blocks, spec)
    tokens_per_step = spec.batch_size * spec.block_size
    started = time.monotonic()
    loss_value = float("nan")
    model.train()
    with log_path.open("w") as log, step_progress(spec.steps, "pretraining") as progress:
        for step in range(spec.steps):
            for group in optimizer.param_groups:
                group["lr"] = _lr_at(step, spec)
            batch = next(batches)
            loss = model(input_ids=batch, labels=batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            loss_value = loss.item()
            elapsed = time.monotonic() - started
            tokens_per_second = (step + 1) * tokens_per_step / elapsed
            record = {
                "step": step + 1,
                "loss": round(loss_value, 5),
                "lr": _lr_at(step, spec),
                "tokens_per_second": round(tokens_per_second, 1),
            }
            log.write(json.dumps(record) + "\n")
            progress.update(step + 1, loss=loss_value, tok_s=tokens_per_second)
    seconds = time.monotonic() - started
    return {
        "steps": spec.steps,
        "tokens_seen": spec.steps * tokens_per_step,
        "final_loss": round(loss_value, 5),
        "seconds": round(seconds, 2),
        "tokens_per_second": round(spec.steps * tokens_per_step / seconds, 1),
    }


def weights_sha256(model) -> str:
    """Hash of every tensor's name, dtype, shape and bytes: equal hashes, equal weights."""
    import torch

    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        data = tensor.detach().contiguous().cpu()
        digest.update(f"{name}|{data.dtype}|{tuple(data.shape)}|".encode())
        digest.update(data.view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _generation_config(tokenizer, spec: TinySpec):
    from transformers import GenerationConfig

    # Chat turns end with <|im_end|>, plain documents with <|endoftext|>; either stops.
    return GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=[
            tokenizer.convert_tokens_to_ids(IM_END),
            tokenizer.convert_tokens_to_ids(END_OF_TEXT),
        ],
        pad_token_id=tokenizer.pad_token_id,
        do_sample=False,
    )


def build_tiny_base(spec: TinySpec, folder: Path) -> dict[str, Any]:
    """Build, pretrain, evaluate and save one tiny base into `folder` atomically."""
    torch = require("torch", extra="train", feature="building the tiny base")
    transformers = require("transformers", extra="train", feature="building the tiny base")
    transformers.utils.logging.disable_progress_bar()  # our own progress is enough
    started = time.monotonic()
    previous_determinism = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        documents = generate_corpus(spec.seed, spec.n_documents)
        train_docs, heldout_docs = split_heldout(documents, spec.heldout_fraction, spec.seed)
        corpus_digest = hashlib.sha256(
            "\n\x00".join(d.plain_text() for d in documents).encode()
        ).hexdigest()
        console.print(
            f"  corpus: {len(train_docs):,} training and {len(heldout_docs):,} held-out documents"
        )
        tokenizer = train_tokenizer([d.plain_text() for d in train_docs], spec)
        train_blocks = _blocks(encode_documents(tokenizer, train_docs), spec.block_size)
        heldout_blocks = _blocks(encode_documents(tokenizer, heldout_docs), spec.block_size)
        console.print(
            f"  tokenizer: {len(tokenizer):,} tokens; {train_blocks.numel():,} training tokens"
        )

        torch.manual_seed(spec.seed)
        model = transformers.LlamaForCausalLM(build_config(spec, tokenizer))
        parameters = sum(p.numel() for p in model.parameters())
        console.print(f"  model: Llama, {parameters:,} parameters")

        with atomic_directory(folder) as staging:
            pretrain_stats = pretrain(model, train_blocks, spec, staging / LOG_FILE)
            perplexity, scored_tokens = heldout_perplexity(model, heldout_blocks)
            model.generation_config = _generation_config(tokenizer, spec)
            model.save_pretrained(staging)
            tokenizer.save_pretrained(staging)
            with (staging / HELDOUT_FILE).open("w") as handle:
                for document in heldout_docs:
                    handle.write(
                        json.dumps(
                            {"kind": document.kind, "text": rendered_text(tokenizer, document)}
                        )
                        + "\n"
                    )
            card = {
                "name": f"tiny:{spec.preset}" if spec.preset != "tiny" else "tiny",
                "description": "personaforge built-in tiny base: Llama architecture, "
                "pretrained offline on a generated general-knowledge corpus.",
                "spec": dataclasses.asdict(spec),
                "fingerprint": spec.fingerprint(),
                "build_version": BUILD_VERSION,
                "parameters": parameters,
                "vocab_size": len(tokenizer),
                "weights_sha256": weights_sha256(model),
                "corpus_sha256": corpus_digest,
                "corpus_documents": {"train": len(train_docs), "heldout": len(heldout_docs)},
                "pretrain": pretrain_stats,
                "heldout": {
                    "tokens": scored_tokens,
                    "perplexity": round(perplexity, 4),
                    "uniform_perplexity": len(tokenizer),
                    "fraction_of_uniform": round(perplexity / len(tokenizer), 6),
                },
                "build_seconds": round(time.monotonic() - started, 2),
                "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "built_with": {
                    "python": platform.python_version(),
                    "torch": torch.__version__,
                    "transformers": transformers.__version__,
                },
            }
            (staging / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
        return card
    finally:
        torch.use_deterministic_algorithms(previous_determinism)


@contextmanager
def build_lock(models_dir: Path, name: str) -> Iterator[None]:
    """One builder per built-in base at a time (parallel tests, two terminals)."""
    models_dir.mkdir(parents=True, exist_ok=True)
    with (models_dir / f".{name}.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            console.print(f"  waiting for another process building the '{name}' base...")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_tiny_base(models_dir: Path, preset: str = "tiny", force: bool = False) -> Path:
    """Return the cached tiny base folder, building it first if needed (or if forced)."""
    spec = get_spec(preset)
    folder = models_dir / spec.folder_name()
    if not force and read_card(folder) is not None:
        return folder
    with build_lock(models_dir, f"tiny-{preset}"):
        if force or read_card(folder) is None:
            console.print(f"Building the built-in tiny base '{preset}' into {folder}")
            card = build_tiny_base(spec, folder)
            console.print(
                f"  done in {card['build_seconds']:.0f}s: held-out perplexity "
                f"{card['heldout']['perplexity']:.2f} (uniform guessing: {card['vocab_size']})"
            )
    return folder
