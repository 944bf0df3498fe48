"""Benchmark: our training path against a plain transformers + PEFT Trainer, side by side.

    .venv/bin/python bench/train.py                     # tiny base, CPU, 40 steps each
    .venv/bin/python bench/train.py --steps 80 --home .demo-home

Both variants train the same base on the same rows (the sample person's
foundation dataset) with the same LoRA shape and optimizer settings, no packing:
- ours: `personaforge train` (TRL SFTTrainer, assistant-only loss, our callbacks);
- baseline: transformers Trainer + peft.get_peft_model on chat-template text,
  loss on every token, the collator from transformers.
Each runs in its own process so peak memory (CUDA max allocated, or peak RSS on
CPU) is its own. Printed as JSON with ours/baseline ratios.
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
}


def prepare_home(home: Path, models_from: Path | None) -> None:
    """Sample person, ingested, a foundation dataset; the tiny base linked from an existing home."""
    from personaforge.config import IngestSettings, Settings
    from personaforge.dataset import DatasetRequest, MixPlan, build_dataset
    from personaforge.ingest import ingest
    from personaforge.paths import Paths
    from personaforge.sample import write_sample_data
    from personaforge.store import MemoryStore

    paths = Paths(home)
    home.mkdir(parents=True, exist_ok=True)
    if models_from is not None and (models_from / "models").exists():
        (home / "models").symlink_to((models_from / "models").resolve(), target_is_directory=True)
    write_sample_data(paths.demo_data)
    with MemoryStore.open(paths.memory_store) as store:
        ingest([paths.demo_data], store, IngestSettings(), show_progress=False)
        build_dataset(store, Settings(), paths, DatasetRequest(MixPlan("foundation")))


def run_ours(home: Path, base: str, steps: int) -> dict:
    from personaforge.config import Settings
    from personaforge.paths import Paths
    from personaforge.train.run import TrainRequest, train

    settings = Settings(model={"base": base}, train={**HYPER, "max_steps": steps})
    started = time.perf_counter()
    result = train(Paths(home), settings, TrainRequest(fresh=True, show_progress=False))
    seconds = time.perf_counter() - started
    metrics = result.card["metrics"]
    last = next(h for h in reversed(result.history) if "train_runtime" in h)
    return {
        "train_seconds": last["train_runtime"],
        "wall_seconds": round(seconds, 2),
        "tokens_seen": metrics["tokens_seen"],
        "final_loss": metrics["train_loss_last"],
    }


def run_baseline(home: Path, base: str, steps: int) -> dict:
    import torch
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForLanguageModeling,
        Trainer,
        TrainingArguments,
    )

    from personaforge.base import resolve_base
    from personaforge.config import ALL_LINEAR_TARGETS
    from personaforge.dataset.build import load_manifest
    from personaforge.paths import Paths

    paths = Paths(home)
    ref = resolve_base(base, paths)
    tokenizer = AutoTokenizer.from_pretrained(ref.location)
    model = AutoModelForCausalLM.from_pretrained(ref.location, dtype=torch.float32)
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
        use_cpu=not torch.cuda.is_available(),
        seed=42,
        disable_tqdm=True,
        include_num_input_tokens_seen=True,
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

    result = (run_ours if variant == "ours" else run_baseline)(home, base, steps)
    result["tokens_per_second"] = round(result["tokens_seen"] / result["train_seconds"], 1)
    result["examples_per_second"] = round(
        steps * HYPER["batch_size"] * HYPER["grad_accum"] / result["train_seconds"], 2
    )
    result["peak_memory_bytes"] = peak_memory_bytes()
    print("RESULT " + json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--base", default="tiny")
    parser.add_argument(
        "--home",
        type=Path,
        default=Path(".demo-home"),
        help="A home whose models/ already holds the base (else it is built).",
    )
    parser.add_argument("--child", choices=["ours", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.work, args.base, args.steps)
        return
    work = Path(tempfile.mkdtemp(prefix="pf-bench-train-"))
    try:
        prepare_home(work / "home", args.home if args.home.exists() else None)
        results = {}
        for variant in ("baseline", "ours"):
            output = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    variant,
                    "--work",
                    str(work / "home"),
                    "--base",
                    args.base,
                    "--steps",
                    str(args.steps),
                ],
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, "HF_HUB_OFFLINE": "1"},
            )
            line = next(line for line in output.stdout.splitlines() if line.startswith("RESULT "))
            results[variant] = json.loads(line.removeprefix("RESULT "))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    import torch

    device = (
        torch.cuda.get_device_name(0)
        if torch.cuda.is_available()
        else f"cpu ({os.cpu_count()} cores)"
    )
    ours, baseline = results["ours"], results["baseline"]
    print(
        json.dumps(
            {
                "benchmark": "train",
                "device": device,
                "base": args.base,
                "steps": args.steps,
                "hyperparameters": HYPER,
                "runs": results,
                "ratios_ours_over_baseline": {
                    "tokens_per_second": round(
                        ours["tokens_per_second"] / baseline["tokens_per_second"], 3
                    ),
                    "examples_per_second": round(
                        ours["examples_per_second"] / baseline["examples_per_second"], 3
                    ),
                    "peak_memory": round(
                        ours["peak_memory_bytes"] / baseline["peak_memory_bytes"], 3
                    ),
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
