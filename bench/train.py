"""Benchmark: our training path against a plain transformers + PEFT Trainer, side by side.

    .venv/bin/python bench/train.py                     # tiny base, CPU, 40 steps each
    .venv/bin/python bench/train.py --steps 80 --home .demo-home
    python bench/train.py --shape llama-3.2-1b --variants baseline,ours,baseline-4bit,ours-4bit
    python bench/train.py --shape llama-3.1-8b --variants ours-4bit,unsloth-4bit   # CUDA
    python bench/train.py --shape llama-3.1-8b --max-length 2048 --batch-size 4 \
        --variants baseline-4bit-ckpt,ours-4bit,unsloth-4bit                       # CUDA, long rows
    python bench/train.py --shape llama-3.1-8b --max-length 2048 --batch-size 4 --steps 40 \
        --variants baseline-4bit-ckpt,ours-4bit-ckpt,ours-4bit-offload,ours-4bit-liger,unsloth-4bit-ckpt

Every variant trains the same base on the same rows (the sample person's
foundation dataset) with the same LoRA shape and optimizer settings, the same
examples in each step (no packing); tokens are the examples' own, never padding:
- baseline: transformers Trainer + peft.get_peft_model on chat-template text,
  loss on every token, the collator from transformers (bf16 on CUDA, fp32 on CPU);
- baseline-4bit: the same on an NF4 base (bitsandbytes + prepare_model_for_kbit_training);
  baseline-4bit-ckpt is that with gradient checkpointing on (peft's default for QLoRA);
- ours / ours-4bit: `personaforge train` with backend hf (TRL SFTTrainer,
  assistant-only loss, our callbacks), 16-bit LoRA or 4-bit QLoRA;
  on CPU ours joins each batch into one row (padding-free) and attends per example
  (train/attention.py); ours-masked is that row under sdpa's block-diagonal mask over
  the whole row, as before per-example attention; ours-padded does not join;
  on CPU ours scores only the labelled positions (loss_head compact), ours-chunked
  uses TRL's chunked LM head with its entropy and accuracy metrics;
  ours-4bit-ckpt forces gradient checkpointing on;
- unsloth / unsloth-4bit: `personaforge train` with backend unsloth (unsloth-4bit-ckpt:
  with its gradient checkpointing forced on).
With --max-length above 512, consecutive training rows are joined into one multi-turn
conversation of about that many tokens (the sample rows average about 440), so the
batches really are that long; every variant reads the same joined rows.
Ratios are against the first variant listed. Each variant runs in its own
process so peak memory (CUDA max allocated, or peak RSS on CPU) is its own.

--shape swaps the tiny base for a randomly initialised Llama of a real model's
shape (throughput and memory do not depend on the weight values) with the tiny
base's tokenizer; its 128k-row embedding and LM head are computed in full.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HYPER = {
    "learning_rate": 2e-3,
    "batch_size": 8,
    "grad_accum": 1,
    "lora_rank": 16,
    "lora_alpha": 32,
    "max_seq_length": 512,
    "epochs": 1,
    "logging_steps": 10,
    "save_steps": 10_000,
    "eval_steps": 10_000,
    "time_budget": "none",  # a budget would probe the machine first: this measures training only
}

# (runner, quantization, backend, gradient checkpointing) per variant name.
VARIANTS = {
    "baseline": ("baseline", "none", None, "off"),
    "baseline-4bit": ("baseline", "4bit", None, "off"),
    "baseline-4bit-ckpt": ("baseline", "4bit", None, "on"),
    "ours": ("ours", "none", "hf", "auto"),
    "ours-padded": ("ours", "none", "hf", "auto"),
    "ours-masked": ("ours", "none", "hf", "auto"),
    "ours-chunked": ("ours", "none", "hf", "auto"),
    "ours-4bit": ("ours", "4bit", "hf", "auto"),
    "ours-4bit-ckpt": ("ours", "4bit", "hf", "on"),
    "ours-4bit-offload": ("ours", "4bit", "hf", "offload"),  # CUDA: pinned host memory
    "ours-4bit-liger": ("ours", "4bit", "hf", "on"),  # CUDA, liger-kernel installed
    "unsloth": ("ours", "none", "unsloth", "auto"),
    "unsloth-4bit": ("ours", "4bit", "unsloth", "auto"),
    "unsloth-4bit-ckpt": ("ours", "4bit", "unsloth", "on"),
}

# Llama shapes from the published configs (vocabulary 128,256, grouped-query attention).
SHAPES = {
    "llama-3.2-1b": {
        "hidden_size": 2048,
        "intermediate_size": 8192,
        "num_hidden_layers": 16,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "tie_word_embeddings": True,
    },
    "llama-3.2-3b": {
        "hidden_size": 3072,
        "intermediate_size": 8192,
        "num_hidden_layers": 28,
        "num_attention_heads": 24,
        "num_key_value_heads": 8,
        "tie_word_embeddings": True,
    },
    "llama-3.1-8b": {
        "hidden_size": 4096,
        "intermediate_size": 14336,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "tie_word_embeddings": False,
    },
}


def prepare_home(home: Path, models_from: Path | None) -> None:
    """Sample person, ingested, a foundation dataset; the tiny base linked from an existing home."""
    from personaforge.config import IngestSettings, Settings
    from personaforge.dataset import DatasetRequest, MixPlan, build_dataset
    from personaforge.ingest import ingest
    from personaforge.paths import Paths
    from personaforge.sample import sample_identity, write_sample_data
    from personaforge.store import MemoryStore

    paths = Paths(home)
    home.mkdir(parents=True, exist_ok=True)
    if models_from is not None and (models_from / "models").exists():
        (home / "models").symlink_to((models_from / "models").resolve(), target_is_directory=True)
    write_sample_data(paths.demo_data)
    with MemoryStore.open(paths.memory_store) as store:
        ingest(
            [paths.demo_data],
            store,
            IngestSettings(),
            identity=sample_identity(),
            show_progress=False,
        )
        build_dataset(store, Settings(), paths, DatasetRequest(MixPlan("foundation")))


def join_rows(home: Path, max_length: int) -> dict:
    """Rewrite the dataset's train.jsonl as multi-turn rows of about `max_length` tokens."""
    from transformers import AutoTokenizer

    from personaforge.bases import resolve_base
    from personaforge.dataset.build import load_manifest
    from personaforge.paths import Paths

    paths = Paths(home)
    tokenizer = AutoTokenizer.from_pretrained(resolve_base("tiny", paths).location)
    train_file = paths.datasets / load_manifest(paths)["id"] / "train.jsonl"
    rows = [json.loads(line) for line in train_file.read_text().splitlines()]

    def length(messages: list[dict]) -> int:
        text = tokenizer.apply_chat_template(messages, tokenize=False)
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    joined: list[dict] = []
    current: list[dict] = []
    for row in rows:
        turns = [m for m in row["messages"] if m["role"] != "system"]
        candidate = (current or [m for m in row["messages"] if m["role"] == "system"]) + turns
        if current and length(candidate) > max_length:
            joined.append({"messages": current})
            candidate = [m for m in row["messages"] if m["role"] == "system"] + turns
        current = candidate
    if current:
        joined.append({"messages": current})
    train_file.write_text("".join(json.dumps(row) + "\n" for row in joined))
    lengths = sorted(length(row["messages"]) for row in joined)
    return {
        "rows": len(joined),
        "from_rows": len(rows),
        "median_tokens": lengths[len(lengths) // 2],
    }


def write_random_base(folder: Path, shape: str, home: Path) -> None:
    """A random-weight Llama of `shape` in bf16, with the tiny base's tokenizer and template."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig

    from personaforge.bases import resolve_base
    from personaforge.paths import Paths

    tokenizer = AutoTokenizer.from_pretrained(resolve_base("tiny", Paths(home)).location)
    config = LlamaConfig(
        **SHAPES[shape],
        vocab_size=128_256,
        max_position_embeddings=8192,
        rope_theta=500_000.0,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    device = "cuda" if torch.cuda.is_available() else "cpu"
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    del model
    if device == "cuda":
        torch.cuda.empty_cache()


# Settings a variant changes beyond the table above: ours-padded is ours with padding.
EXTRA_TRAIN = {
    "ours-padded": {"padding_free": "off"},
    "ours-chunked": {"loss_head": "chunked"},
    "ours-4bit-liger": {"liger_kernel": True},
}


def run_ours(
    home: Path,
    base: str,
    steps: int,
    quantization: str,
    backend: str,
    checkpointing: str,
    extra: dict | None = None,
) -> dict:
    from personaforge.config import Settings
    from personaforge.paths import Paths
    from personaforge.train.run import TrainRequest, train

    settings = Settings(
        model={"base": base},
        train={
            **HYPER,
            "max_steps": steps,
            "quantization": quantization,
            "backend": backend,
            "gradient_checkpointing": checkpointing,
            "rehearsal_share": 0.0,  # the baseline's rows exactly: no rehearsal rows mixed in
            **(extra or {}),
        },
    )
    started = time.perf_counter()
    result = train(Paths(home), settings, TrainRequest(fresh=True, show_progress=False))
    seconds = time.perf_counter() - started
    metrics = result.card["metrics"]
    last = next(h for h in reversed(result.history) if "train_runtime" in h)
    plan = result.plan
    return {
        "train_seconds": last["train_runtime"],
        "wall_seconds": round(seconds, 2),
        "tokens_seen": metrics["tokens_seen"],
        "final_loss": metrics["train_loss_last"],
        "plan": {
            "backend": plan.backend,
            "precision": plan.precision,
            "quantization": plan.quantization,
            "gradient_checkpointing": plan.gradient_checkpointing,
            "estimated_peak_bytes": plan.memory.total if plan.memory else None,
        },
    }


def run_baseline(
    home: Path, base: str, steps: int, quantization: str, backend: None, checkpointing: str
) -> dict:
    import torch
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        BitsAndBytesConfig,
        DataCollatorForLanguageModeling,
        Trainer,
        TrainingArguments,
    )

    from personaforge.bases import resolve_base
    from personaforge.config import ALL_LINEAR_TARGETS
    from personaforge.dataset.build import load_manifest
    from personaforge.paths import Paths

    paths = Paths(home)
    ref = resolve_base(base, paths)
    cuda = torch.cuda.is_available()
    tokenizer = AutoTokenizer.from_pretrained(ref.location)
    kwargs: dict = {"dtype": torch.bfloat16 if cuda else torch.float32}
    if quantization == "4bit":
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
    if cuda:
        kwargs["device_map"] = {"": 0}
    model = AutoModelForCausalLM.from_pretrained(ref.location, **kwargs)
    if quantization == "4bit":
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=checkpointing == "on"
        )
    model = get_peft_model(
        model,
        LoraConfig(
            r=HYPER["lora_rank"],
            lora_alpha=HYPER["lora_alpha"],
            lora_dropout=0.05,
            target_modules=list(ALL_LINEAR_TARGETS),
            task_type="CAUSAL_LM",
        ),
    )
    folder = paths.datasets / load_manifest(paths)["id"]
    rows = [json.loads(line) for line in (folder / "train.jsonl").read_text().splitlines()]
    texts = [tokenizer.apply_chat_template(row["messages"], tokenize=False) for row in rows]
    encoded = tokenizer(
        texts, truncation=True, max_length=HYPER["max_seq_length"], add_special_tokens=False
    )
    dataset = Dataset.from_dict(
        {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}
    )
    args = TrainingArguments(
        output_dir=str(home / "baseline-run"),
        per_device_train_batch_size=HYPER["batch_size"],
        gradient_accumulation_steps=HYPER["grad_accum"],
        learning_rate=HYPER["learning_rate"],
        max_steps=steps,
        lr_scheduler_type="cosine",
        logging_steps=HYPER["logging_steps"],
        save_strategy="no",
        report_to="none",
        use_cpu=not cuda,
        bf16=cuda,
        seed=42,
        disable_tqdm=True,
        include_num_input_tokens_seen="non_padding",  # real tokens, as ours counts
        gradient_checkpointing=checkpointing == "on",
        gradient_checkpointing_kwargs={"use_reentrant": False},
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=dataset,
        data_collator=DataCollatorForLanguageModeling(tokenizer, mlm=False),
    )
    started = time.perf_counter()
    output = trainer.train()
    return {
        "train_seconds": output.metrics["train_runtime"],
        "wall_seconds": round(time.perf_counter() - started, 2),
        "tokens_seen": trainer.state.num_input_tokens_seen,
        "final_loss": output.training_loss,
    }


def child(variant: str, home: Path, base: str, steps: int) -> None:
    from personaforge.train.callbacks import peak_memory_bytes

    runner, quantization, backend, checkpointing = VARIANTS[variant]
    if variant == "ours-masked":  # the joined row under one mask: no per-example attention
        import personaforge.train.trainers as trainers

        trainers.use_segment_attention = lambda model: None
    if runner == "ours":
        result = run_ours(
            home, base, steps, quantization, backend, checkpointing, EXTRA_TRAIN.get(variant)
        )
    else:
        result = run_baseline(home, base, steps, quantization, backend, checkpointing)
    result["tokens_per_second"] = round(result["tokens_seen"] / result["train_seconds"], 1)
    result["examples_per_second"] = round(
        steps * HYPER["batch_size"] * HYPER["grad_accum"] / result["train_seconds"], 2
    )
    result["peak_memory_bytes"] = peak_memory_bytes()
    print("RESULT " + json.dumps(result))


def run_variant(variant: str, home: Path, base: str, steps: int) -> dict:
    command = [sys.executable, __file__, "--child", variant, "--work", str(home)]
    command += ["--max-length", str(HYPER["max_seq_length"])]
    command += ["--batch-size", str(HYPER["batch_size"])]
    done = subprocess.run(
        [*command, "--base", base, "--steps", str(steps)],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if done.returncode != 0 or line is None:
        # One variant failing (an unsloth import, an out-of-memory) must not hide the others.
        tail = (done.stdout + done.stderr).strip().splitlines()[-12:]
        return {"failed": True, "returncode": done.returncode, "error_tail": tail}
    return json.loads(line.removeprefix("RESULT "))


def ratios(runs: dict[str, dict], reference: str) -> dict[str, dict]:
    ref = runs[reference]
    if ref.get("failed"):
        return {}
    out = {}
    for name, run in runs.items():
        if name == reference or run.get("failed"):
            continue
        out[f"{name}/{reference}"] = {
            key: round(run[key] / ref[key], 3)
            for key in ("tokens_per_second", "examples_per_second", "peak_memory_bytes")
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--base", default="tiny")
    parser.add_argument("--shape", choices=sorted(SHAPES), help="A random Llama of this shape.")
    parser.add_argument(
        "--variants",
        default="baseline,ours",
        help=f"Comma-separated, the first is the reference; from {', '.join(VARIANTS)}.",
    )
    parser.add_argument(
        "--home",
        type=Path,
        default=Path(".demo-home"),
        help="A home whose models/ already holds the base (else it is built).",
    )
    parser.add_argument(
        "--max-length",
        type=int,
        default=HYPER["max_seq_length"],
        help="Tokens per row at most; above 512 the sample rows are joined to reach it.",
    )
    parser.add_argument("--batch-size", type=int, default=HYPER["batch_size"])
    parser.add_argument("--child", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    HYPER["max_seq_length"], HYPER["batch_size"] = args.max_length, args.batch_size
    if args.child:
        child(args.child, args.work, args.base, args.steps)
        return
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    work = Path(tempfile.mkdtemp(prefix="pf-bench-train-"))
    try:
        home = work / "home"
        prepare_home(home, args.home if args.home.exists() else None)
        rows = join_rows(home, args.max_length) if args.max_length > 512 else None
        base = args.base
        if args.shape:
            base = str(work / args.shape)
            started = time.perf_counter()
            write_random_base(Path(base), args.shape, home)
            print(f"random {args.shape}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
        runs = {}
        for variant in variants:
            started = time.perf_counter()
            runs[variant] = run_variant(variant, home, base, args.steps)
            # Progress on stderr, each result as it lands: a killed run keeps what it finished.
            print(
                f"{variant}: {time.perf_counter() - started:.0f} s {json.dumps(runs[variant])}",
                file=sys.stderr,
                flush=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    import torch

    device = (
        torch.cuda.get_device_name(0)
        if torch.cuda.is_available()
        else f"cpu ({os.cpu_count()} cores)"
    )
    print(
        json.dumps(
            {
                "benchmark": "train",
                "device": device,
                "base": args.shape or args.base,
                "steps": args.steps,
                "hyperparameters": HYPER,
                "joined_rows": rows,
                "runs": runs,
                "ratios": ratios(runs, variants[0]),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
