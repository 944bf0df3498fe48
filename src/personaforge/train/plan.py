"""Decide how a training run will execute before anything heavy is loaded.

`plan_training` picks backend, precision, quantization and gradient
checkpointing from the settings, the hardware and the base model's size, and
estimates peak memory. `personaforge doctor` prints the plan; the train stage
follows it, so what doctor promises is what training does. A plan that will not
fit names the changes that would make it fit instead of failing minutes later
with an out-of-memory error.

The memory model (bytes, for a decoder with hidden size h, L layers, vocab V,
batch b, sequence s; p = parameters):

- weights: p x 2 at 16-bit, p x 4 at fp32; 4-bit NF4 stores linear layers at
  about 4.13 bits (0.5 byte + double-quantized block scales) and keeps the
  embeddings and the LM head at 16-bit;
- adapter and optimizer: trainable LoRA parameters x 16 (fp32 weight, gradient
  and Adam's two moments);
- activations: about 60 x h bytes per token per layer at 16-bit without
  checkpointing, and 2 x h per token per layer with checkpointing plus one
  layer's full set; with offloaded checkpointing the 2 x h per layer (each
  layer's input, kept for the recompute) waits in pinned host memory, and only
  the one layer's set stays on the GPU. Korthikanti et al. (2022) give 34 x h
  for a plain transformer with fused attention; LoRA on all seven projections
  saves its own (dropout) inputs and SwiGLU's MLP is wider, and an 8B-shaped Llama
  measured 41.7 GB peak at batch 8 x 512 on an H100 where 34 x h predicted
  29.9 (bench/RESULTS.md). The logits add b x s x V x 8 (16-bit logits, fp32
  upcast and its gradient), which dominates for 128k-token vocabularies; TRL's
  chunked LM head needs less, so this errs high;
- overhead: about 1 GiB (CUDA context and allocator slack, or the Python
  process and torch libraries on CPU).

It is an estimate for a go/no-go answer, deliberately on the high side.
"""

from __future__ import annotations

import importlib.util
import math
import os
from dataclasses import dataclass, field
from typing import Literal

from personaforge.bases import BaseInfo
from personaforge.config import TrainSettings

GiB = 1024**3
OVERHEAD_BYTES = 1 * GiB
# Share of device memory a plan may use: the allocator fragments and other
# processes (a desktop, a server) hold some.
CUDA_BUDGET_SHARE = 0.90
CPU_BUDGET_SHARE = 0.80
NF4_BITS_PER_WEIGHT = 4.127  # 4-bit codes + double-quantized absmax per 64-block
# Saved activations per token per layer, in units of hidden size, at 16-bit. Fitted
# to peaks measured on an H100 (estimate / measured: 8B QLoRA 1.05, 8B QLoRA with
# checkpointing 1.62, 1B 16-bit LoRA 1.27): never under, so a "fits" is a promise.
ACTIVATION_FACTOR = 60
# Gradient checkpointing: off, on (each layer's input kept on the device, the layer
# recomputed in the backward pass), or offload (those inputs kept in pinned host memory,
# copied over and back each step: the least device memory, a slower step).
Checkpointing = Literal["off", "on", "offload"]
# (in, out) of each projection as multiples of (hidden, kv width, intermediate).
_TARGET_SHAPES = {
    "q_proj": ("h", "h"),
    "k_proj": ("h", "kv"),
    "v_proj": ("h", "kv"),
    "o_proj": ("h", "h"),
    "gate_proj": ("h", "i"),
    "up_proj": ("h", "i"),
    "down_proj": ("i", "h"),
}
# Architectures Unsloth accelerates (its docs list these families).
UNSLOTH_ARCHITECTURES = ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3", "phi3")


@dataclass(frozen=True)
class Accelerator:
    """The device training would run on."""

    device: Literal["cuda", "mps", "cpu"]
    name: str
    memory_bytes: int  # VRAM of one GPU, or RAM available now on CPU/MPS
    count: int = 1
    bf16: bool = False
    cpu_cores: int = 1

    @property
    def budget_bytes(self) -> int:
        share = CUDA_BUDGET_SHARE if self.device == "cuda" else CPU_BUDGET_SHARE
        return int(self.memory_bytes * share)


def available_ram_bytes() -> int:
    """MemAvailable from /proc/meminfo (what can be allocated without swapping)."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def detect_accelerator() -> Accelerator:
    """CUDA if torch sees a GPU, else Apple MPS, else CPU. Works without torch (CPU)."""
    cores = os.cpu_count() or 1
    try:
        import torch
    except ImportError:
        return Accelerator("cpu", cpu_name(), available_ram_bytes(), cpu_cores=cores)
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return Accelerator(
            "cuda",
            props.name,
            props.total_memory,
            torch.cuda.device_count(),
            torch.cuda.is_bf16_supported(),
            cores,
        )
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return Accelerator("mps", "Apple GPU (MPS)", available_ram_bytes(), cpu_cores=cores)
    return Accelerator("cpu", cpu_name(), available_ram_bytes(), cpu_cores=cores)


def package_available(name: str) -> bool:
    """True if `name` is installed. Does not import it (unsloth patches on import)."""
    return importlib.util.find_spec(name) is not None


# ---------------------------------------------------------------------------
# Memory


@dataclass(frozen=True)
class MemoryEstimate:
    weights: int
    adapter_and_optimizer: int
    activations: int
    overhead: int = OVERHEAD_BYTES

    @property
    def total(self) -> int:
        return self.weights + self.adapter_and_optimizer + self.activations + self.overhead


def _shape(info: BaseInfo) -> tuple[int, int, int, int, int]:
    """(hidden, layers, vocab, kv width, intermediate), estimated from p when unknown.

    Fallbacks follow Llama scaling (8B: hidden 4096, 32 layers) and err large.
    """
    params = info.parameters or 0
    scale = max(params, 1) / 8e9
    hidden = info.hidden_size or max(64, int(4096 * scale**0.5))
    layers = info.num_layers or max(2, round(32 * scale ** (1 / 3)))
    vocab = info.vocab_size or 128_256
    config = info.config or {}
    heads = config.get("num_attention_heads") or max(1, hidden // 128)
    kv_heads = config.get("num_key_value_heads") or heads
    head_dim = config.get("head_dim") or hidden // heads
    intermediate = config.get("intermediate_size") or int(3.5 * hidden)
    return hidden, layers, vocab, kv_heads * head_dim, intermediate


def lora_parameter_count(info: BaseInfo, rank: int, targets: list[str]) -> int:
    hidden, layers, _, kv_width, intermediate = _shape(info)
    widths = {"h": hidden, "kv": kv_width, "i": intermediate}
    per_layer = 0
    for target in targets:
        fan_in, fan_out = _TARGET_SHAPES.get(target, ("h", "h"))
        per_layer += rank * (widths[fan_in] + widths[fan_out])  # A is r x in, B is out x r
    return per_layer * layers


def estimate_training_memory(
    info: BaseInfo,
    train: TrainSettings,
    *,
    weight_bits: float,
    activation_bytes: int,
    checkpointing: Checkpointing,
) -> MemoryEstimate:
    """Peak memory of one LoRA training step; see the module docstring for the model."""
    hidden, layers, vocab, _, _ = _shape(info)
    params = info.parameters or 0
    embedding_params = vocab * hidden * 2  # input embeddings + LM head (untied worst case)
    if weight_bits < 16:
        body = max(params - embedding_params, 0)
        weights = int(body * weight_bits / 8 + min(embedding_params, params) * 2)
    else:
        weights = int(params * weight_bits / 8)
    trainable = lora_parameter_count(info, train.lora_rank, train.target_modules)
    tokens = train.batch_size * train.max_seq_length
    scale = activation_bytes / 2  # ACTIVATION_FACTOR is for 16-bit activations
    if checkpointing == "on":
        per_token = (2 * hidden * layers + ACTIVATION_FACTOR * hidden) * scale
    elif checkpointing == "offload":
        per_token = ACTIVATION_FACTOR * hidden * scale
    else:
        per_token = ACTIVATION_FACTOR * hidden * layers * scale
    logits = tokens * vocab * 8
    return MemoryEstimate(
        weights=weights,
        adapter_and_optimizer=trainable * 16,
        activations=int(tokens * per_token + logits),
    )


# ---------------------------------------------------------------------------
# The plan


@dataclass
class TrainingPlan:
    backend: Literal["hf", "unsloth"]
    device: str
    precision: Literal["fp32", "bf16", "fp16"]
    quantization: Literal["none", "4bit"]
    checkpointing: Checkpointing
    memory: MemoryEstimate | None
    budget_bytes: int
    reasons: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # Rows per forward pass and passes per update: train.batch_size and grad_accum, unless
    # the batch did not fit and the plan split it (same rows per update, see plan_training).
    batch_size: int = 0
    grad_accum: int = 0
    liger_kernel: bool = False  # train.liger_kernel, where it applies (hf on CUDA)

    @property
    def gradient_checkpointing(self) -> bool:
        """Whether layers are recomputed in the backward pass (on, or offload)."""
        return self.checkpointing in ("on", "offload")

    @property
    def fits(self) -> bool | None:
        return None if self.memory is None else self.memory.total <= self.budget_bytes

    def applied(self, train: TrainSettings) -> TrainSettings:
        """`train` with the plan's micro-batch, for the trainer (the card keeps the settings)."""
        if (self.batch_size, self.grad_accum) in ((0, 0), (train.batch_size, train.grad_accum)):
            return train
        return replace_train(train, batch_size=self.batch_size, grad_accum=self.grad_accum)


def _precision(accel: Accelerator) -> tuple[str, str]:
    if accel.device == "cuda":
        if accel.bf16:
            return "bf16", "bf16: the GPU supports it and it needs no loss scaling"
        return "fp16", "fp16: this GPU has no bf16 support"
    if accel.device == "mps":
        return "fp32", "fp32 on MPS: half-precision training there is uneven across macOS versions"
    return (
        "fp32",
        "fp32 on CPU: CPU kernels gain little from 16-bit and bf16 autocast is slower for small models",
    )


def _activation_bytes(precision: str) -> int:
    return 4 if precision == "fp32" else 2


def _estimate(info: BaseInfo, train: TrainSettings, precision: str, quant: str, ckpt: str):
    if info.parameters is None:
        return None
    bits = NF4_BITS_PER_WEIGHT if quant == "4bit" else 8 * _activation_bytes(precision)
    return estimate_training_memory(
        info,
        train,
        weight_bits=bits,
        activation_bytes=_activation_bytes(precision),
        checkpointing=ckpt,
    )


def _fits(estimate: MemoryEstimate | None, budget: int) -> bool:
    return estimate is None or estimate.total <= budget


def plan_training(
    train: TrainSettings,
    accel: Accelerator,
    info: BaseInfo,
    architecture: str | None = None,
    have_bitsandbytes: bool | None = None,
    have_unsloth: bool | None = None,
) -> TrainingPlan:
    """Choose how to train `info` on `accel` under `train`, with a reason for each choice."""
    have_bitsandbytes = (
        package_available("bitsandbytes") if have_bitsandbytes is None else have_bitsandbytes
    )
    have_unsloth = package_available("unsloth") if have_unsloth is None else have_unsloth
    reasons: list[str] = []
    problems: list[str] = []
    budget = accel.budget_bytes
    precision, why = _precision(accel)
    reasons.append(why)

    # Quantization of the frozen base weights.
    if info.prequantized_bits == 4:
        quant = "4bit"
        reasons.append("4-bit QLoRA: the checkpoint is stored pre-quantized (bnb-4bit)")
    elif train.quantization != "auto":
        quant = train.quantization
        reasons.append(f"quantization {quant}: set by train.quantization")
    elif accel.device == "cuda" and not _fits(
        _estimate(info, train, precision, "none", "on"), budget
    ):
        quant = "4bit"
        reasons.append("4-bit QLoRA: 16-bit LoRA would not fit in GPU memory")
    else:
        quant = "none"
        if accel.device == "cuda":
            reasons.append(
                "16-bit LoRA: it fits, and it trains faster and slightly better than 4-bit"
            )
        else:
            reasons.append("no quantization: 4-bit kernels need CUDA to be fast")
    if quant == "4bit" and not have_bitsandbytes:
        problems.append("4-bit training needs bitsandbytes: pip install 'personaforge[gpu]'")
    if quant == "4bit" and accel.device != "cuda":
        reasons.append("warning: 4-bit on CPU works but is many times slower than on CUDA")

    ckpt = _checkpointing(info, train, accel, precision, quant, reasons, problems)

    # Backend.
    unsloth_supported = architecture is None or architecture in UNSLOTH_ARCHITECTURES
    if train.backend == "unsloth":
        backend = "unsloth"
        reasons.append("backend unsloth: set by train.backend")
        if accel.device != "cuda":
            problems.append("train.backend=unsloth needs a CUDA GPU; set train.backend=auto or hf")
        elif not have_unsloth:
            problems.append(
                "train.backend=unsloth but unsloth is not installed: pip install 'personaforge[gpu]'"
            )
    elif train.backend == "hf":
        backend = "hf"
        reasons.append("backend hf (transformers + PEFT + TRL): set by train.backend")
    elif accel.device == "cuda" and have_unsloth and unsloth_supported:
        backend = "unsloth"
        reasons.append(
            "backend unsloth: CUDA and unsloth are available (about 2x faster, less memory)"
        )
    else:
        backend = "hf"
        if accel.device != "cuda":
            why = "Unsloth needs CUDA"
        elif not have_unsloth:
            why = "unsloth is not installed"
        else:
            why = f"Unsloth does not support the {architecture} architecture"
        reasons.append(f"backend hf (transformers + PEFT + TRL): {why}")

    liger = _liger(train, accel, backend, reasons, problems)
    batch, accum = _micro_batch(info, train, precision, quant, ckpt, budget, reasons)
    train = replace_train(train, batch_size=batch, grad_accum=accum)
    memory = _estimate(info, train, precision, quant, ckpt)
    plan = TrainingPlan(
        backend, accel.device, precision, quant, ckpt, memory, budget, reasons, problems
    )
    plan.batch_size, plan.grad_accum, plan.liger_kernel = batch, accum, liger
    if memory is None:
        reasons.append("model size unknown: cannot check that training fits in memory")
    elif not plan.fits:
        problems.append(_does_not_fit(plan, info, train, precision, quant, ckpt, accel))
    return plan


def offload_supported() -> bool:
    """Whether this transformers offloads checkpointed inputs (`offload` of
    activation_checkpointing_enable). An older one would hand the key on to torch's
    checkpoint, which refuses it after the model has loaded. Imports transformers, so it
    is asked only where offload is chosen (CUDA)."""
    import inspect

    from transformers import PreTrainedModel

    enable = getattr(PreTrainedModel, "activation_checkpointing_enable", None)
    return enable is not None and "offload" in inspect.signature(enable).parameters


def _liger(
    train: TrainSettings, accel: Accelerator, backend: str, reasons: list[str], problems: list[str]
) -> bool:
    """train.liger_kernel on the hf backend on CUDA; a problem where it cannot run."""
    if not train.liger_kernel:
        return False
    if accel.device != "cuda":
        problems.append("train.liger_kernel needs a CUDA GPU (Triton kernels); turn it off")
        return False
    if backend == "unsloth":
        reasons.append("Liger kernels not applied: Unsloth patches the same layers itself")
        return False
    if not package_available("liger_kernel"):
        problems.append(
            "train.liger_kernel is on but liger-kernel is not installed: pip install liger-kernel"
        )
        return False
    reasons.append("Liger kernels (RMSNorm, RoPE, SwiGLU): set by train.liger_kernel")
    return True


def _checkpointing(
    info: BaseInfo,
    train: TrainSettings,
    accel: Accelerator,
    precision: str,
    quant: str,
    reasons: list[str],
    problems: list[str],
) -> Checkpointing:
    """Off where activations fit; else on; else offloaded, if that fits and on does not.

    Offloaded is tried before a smaller micro-batch (`_micro_batch`), which keeps the rows
    per forward pass as set. Whether its copies to and from host memory cost less than
    halving the batch is not measured yet (bench/train.py, variant ours-4bit-offload).
    """
    if train.gradient_checkpointing != "auto":
        mode = train.gradient_checkpointing
        reasons.append(f"gradient checkpointing {mode}: set by train.gradient_checkpointing")
        if mode == "offload" and accel.device != "cuda":
            problems.append(
                "train.gradient_checkpointing=offload needs a CUDA GPU (pinned host memory); "
                "set it to on or auto"
            )
        elif mode == "offload" and not offload_supported():
            problems.append(
                "train.gradient_checkpointing=offload needs a newer transformers (its "
                "activation_checkpointing_enable has no offload); set it to on"
            )
        return mode
    if accel.device != "cuda":
        reasons.append("gradient checkpointing off: on CPU it makes each step about 2.4x slower")
        return "off"
    budget = accel.budget_bytes
    if _fits(_estimate(info, train, precision, quant, "off"), budget):
        reasons.append(
            "gradient checkpointing off: activations fit, so skip the ~30% recompute cost"
        )
        return "off"
    if (
        _fits(_estimate(info, train, precision, quant, "on"), budget)
        or not _fits(_estimate(info, train, precision, quant, "offload"), budget)
        or not offload_supported()
    ):
        reasons.append("gradient checkpointing on: activations would not fit otherwise")
        return "on"
    reasons.append(
        "gradient checkpointing offload: only with each layer's saved input in host memory "
        "do the activations fit at this batch"
    )
    return "offload"


def _micro_batch(
    info: BaseInfo,
    train: TrainSettings,
    precision: str,
    quant: str,
    ckpt: str,
    budget: int,
    reasons: list[str],
) -> tuple[int, int]:
    """(batch, accumulation): train.batch_size halved until the estimate fits, the rows per
    update kept by accumulating more. A batch is the most memory one step holds; splitting
    it changes neither what an update sees nor, on CPU, the time per token (padding-free
    rows are joined either way). smollm2-135m at 4 x 2048 tokens on CPU went past 15 GiB of
    RSS before it was stopped, on a 24 GiB machine that had 16 GiB free."""
    batch, accum = train.batch_size, train.grad_accum
    rows = batch * accum
    before = _estimate(info, train, precision, quant, ckpt)
    while batch > 1 and not _fits(
        _estimate(info, replace_train(train, batch_size=batch), precision, quant, ckpt), budget
    ):
        batch = batch // 2
        accum = math.ceil(rows / batch)
    if batch != train.batch_size and before is not None:
        reasons.append(
            f"batch {batch} x accumulation {accum} ({batch * accum} rows per update): "
            f"train.batch_size {train.batch_size} would need about {before.total / GiB:.1f} GiB "
            f"of the {budget / GiB:.1f} GiB available"
        )
    return batch, accum


def _does_not_fit(
    plan: TrainingPlan,
    info: BaseInfo,
    train: TrainSettings,
    precision: str,
    quant: str,
    ckpt: str,
    accel: Accelerator,
) -> str:
    """A problem line naming the settings changes that would make the run fit."""
    assert plan.memory is not None
    place = "GPU memory" if accel.device == "cuda" else "available RAM"
    options = []
    candidates = [
        (
            "train.quantization=4bit",
            train,
            "4bit",
            ckpt,
            quant != "4bit" and accel.device == "cuda",
        ),
        ("train.gradient_checkpointing=on", train, quant, "on", ckpt == "off"),
        (
            "train.gradient_checkpointing=offload",
            train,
            quant,
            "offload",
            ckpt != "offload" and accel.device == "cuda",
        ),
        (
            f"train.batch_size={max(1, train.batch_size // 2)}",
            replace_train(train, batch_size=max(1, train.batch_size // 2)),
            quant,
            ckpt,
            train.batch_size > 1,
        ),
        (
            f"train.max_seq_length={max(256, train.max_seq_length // 2)}",
            replace_train(train, max_seq_length=max(256, train.max_seq_length // 2)),
            quant,
            ckpt,
            train.max_seq_length > 256,
        ),
        (
            f"train.lora_rank={max(4, train.lora_rank // 2)}",
            replace_train(train, lora_rank=max(4, train.lora_rank // 2)),
            quant,
            ckpt,
            train.lora_rank > 4,
        ),
    ]
    for label, settings, q, c, applicable in candidates:
        if applicable and _fits(_estimate(info, settings, precision, q, c), plan.budget_bytes):
            options.append(label)
    advice = (
        ("; any one of these fits: " + ", ".join(options))
        if options
        else ("; no single change fits: use a smaller base model or a GPU with more memory")
    )
    return (
        f"training would need about {plan.memory.total / GiB:.1f} GiB but {place} allows "
        f"{plan.budget_bytes / GiB:.1f} GiB{advice}"
    )


def replace_train(train: TrainSettings, **changes) -> TrainSettings:
    return train.model_copy(update=changes)
