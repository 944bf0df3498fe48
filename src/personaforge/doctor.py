"""`personaforge doctor`: everything a user must know before training.

Each check yields a line with a status: ok, note (worth knowing), warn (works,
but something is off) or problem (training would fail). The report is rendered
by the CLI as tables or JSON; any problem makes the command exit non-zero with
the problems numbered, each with its fix.
"""

from __future__ import annotations

import os
import platform
import shutil
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from personaforge import __version__
from personaforge.bases import (
    AUTO,
    OFFLINE_FIX,
    BaseInfo,
    BaseRef,
    builtin,
    describe_base,
    hub_reachable,
    resolve_base,
)
from personaforge.config import LoadedSettings
from personaforge.errors import UserError
from personaforge.paths import Paths
from personaforge.train.plan import (
    NF4_BITS_PER_WEIGHT,
    Accelerator,
    GiB,
    detect_accelerator,
    estimate_training_memory,
    lora_parameter_count,
    plan_training,
)

Status = Literal["ok", "note", "warn", "problem"]

TRAIN_PACKAGES = [
    "torch",
    "transformers",
    "peft",
    "trl",
    "datasets",
    "accelerate",
    "safetensors",
    "tokenizers",
]
SERVE_PACKAGES = ["fastapi", "uvicorn"]
# Room for checkpoints, datasets, merged exports and a GGUF beside the base.
DISK_MARGIN_BYTES = 2 * GiB


@dataclass
class Check:
    section: str
    label: str
    value: str
    status: Status = "ok"
    fix: str | None = None


@dataclass
class DoctorReport:
    checks: list[Check] = field(default_factory=list)
    memory_table: list[dict[str, Any]] = field(default_factory=list)
    plan: dict[str, Any] | None = None

    def add(
        self, section: str, label: str, value: str, status: Status = "ok", fix: str | None = None
    ):
        self.checks.append(Check(section, label, value, status, fix))

    @property
    def problems(self) -> list[Check]:
        return [c for c in self.checks if c.status == "problem"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ready": not self.problems,
            "checks": [asdict(c) for c in self.checks],
            "memory_estimates": self.memory_table,
            "plan": self.plan,
        }


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _free_disk(path: Path) -> int:
    probe = path
    while not probe.exists():
        probe = probe.parent
    return shutil.disk_usage(probe).free


def _gib(value: int | float) -> str:
    return f"{value / GiB:.1f} GiB"


# ---------------------------------------------------------------------------
# Sections


def _check_environment(report: DoctorReport, loaded: LoadedSettings, paths: Paths) -> None:
    section = "environment"
    py = platform.python_version()
    report.add(section, "python", py)
    report.add(section, "personaforge", __version__)
    writable_root = paths.home if paths.home.exists() else paths.home.parent
    if os.access(writable_root, os.W_OK):
        report.add(section, "home", str(paths.home))
    else:
        report.add(
            section,
            "home",
            str(paths.home),
            "problem",
            f"{writable_root} is not writable; set PERSONAFORGE_HOME to a writable folder",
        )
    exists = loaded.config_file is not None and loaded.config_file.exists()
    report.add(
        section, "config file", f"{loaded.config_file}" + ("" if exists else " (defaults in use)")
    )


def _check_packages(report: DoctorReport) -> None:
    section = "packages"
    missing = [p for p in TRAIN_PACKAGES if _version(p) is None]
    for package in TRAIN_PACKAGES:
        version = _version(package)
        report.add(
            section,
            package,
            version or "missing",
            "ok" if version else "problem",
            None if version else "pip install 'personaforge[train]'",
        )
    for package in SERVE_PACKAGES:
        version = _version(package)
        report.add(
            section,
            package,
            version or "missing (needed to serve)",
            "ok" if version else "warn",
            None if version else "pip install 'personaforge[serve]'",
        )
    for package, purpose in (
        ("bitsandbytes", "4-bit QLoRA on CUDA"),
        ("unsloth", "faster training on CUDA"),
    ):
        version = _version(package)
        report.add(
            section, package, version or f"not installed ({purpose})", "ok" if version else "note"
        )
    llama_cpp = _version("llama-cpp-python") or _version("llama_cpp_python")
    quantize = shutil.which("llama-quantize")
    value = (
        ", ".join(
            part
            for part in (
                f"llama-cpp-python {llama_cpp}" if llama_cpp else "",
                f"llama-quantize at {quantize}" if quantize else "",
            )
            if part
        )
        or "not installed (needed to verify GGUF exports)"
    )
    report.add(section, "llama.cpp", value, "ok" if llama_cpp or quantize else "note")
    if missing:
        report.add(section, "training stack", "incomplete: " + ", ".join(missing), "note")


def _check_device(report: DoctorReport, accel: Accelerator) -> None:
    section = "device"
    if accel.device == "cuda":
        report.add(
            section,
            "accelerator",
            f"CUDA: {accel.count} x {accel.name}, {_gib(accel.memory_bytes)} each, "
            f"bf16 {'yes' if accel.bf16 else 'no'}",
        )
    elif accel.device == "mps":
        report.add(
            section,
            "accelerator",
            f"{accel.name}, {_gib(accel.memory_bytes)} unified memory available",
        )
    else:
        report.add(section, "accelerator", "CPU only (no CUDA GPU visible to torch)", "note")
        report.add(section, "cpu", f"{accel.name}, {accel.cpu_cores} cores")
        report.add(section, "ram available", _gib(accel.memory_bytes))
    try:
        import torch

        report.add(
            section, "torch build", f"{torch.__version__} (CUDA {torch.version.cuda or 'none'})"
        )
    except ImportError:
        pass


def _check_base(
    report: DoctorReport, loaded: LoadedSettings, paths: Paths, accel: Accelerator
) -> tuple[BaseRef | None, BaseInfo | None]:
    from personaforge.train.defaults import choose_for_home

    section = "base model"
    settings = loaded.settings.model
    name, why = settings.base, None
    if name == AUTO:
        choice = choose_for_home(paths, accel)
        name, why = choice.name, choice.why
    try:
        ref = resolve_base(name, paths, settings.revision, build=False)
    except UserError as exc:
        report.add(section, "model.base", name, "problem", str(exc))
        return None, None
    info = describe_base(ref)
    report.add(section, "model.base", f"{ref.name} ({ref.kind})")
    if why is not None:
        report.add(section, "why", f"auto chose it: {why}", "note")
    size = (
        f"{info.parameters / 1e9:.2f}B"
        if (info.parameters or 0) >= 1e8
        else (f"{info.parameters / 1e6:.2f}M" if info.parameters else "unknown")
    )
    report.add(
        section,
        "parameters",
        f"{size} (from {info.parameters_source})",
        "ok" if info.parameters else "warn",
        None if info.parameters else "cannot size the model; memory fit is not checked",
    )
    known = builtin(ref.name) if ref.kind == "builtin" else None
    if known is not None:
        built = (Path(ref.location) / "config.json").exists()
        report.add(
            section,
            "location",
            ref.location if built else "not built yet",
            "ok" if built else "note",
            None
            if built
            else f"it is built on first use ({known.build_hint}), "
            f"or now: personaforge base build {ref.name}",
        )
    elif ref.kind == "local":
        report.add(
            section,
            "location",
            ref.location,
            "ok" if info.available_locally else "problem",
            None if info.available_locally else "the folder has no *.safetensors weights",
        )
    elif info.available_locally:
        report.add(section, "location", "in the local Hugging Face cache")
    elif hub_reachable(ref.location):
        report.add(
            section, "location", "not cached; will be downloaded from the hub on first use", "note"
        )
    else:
        report.add(
            section,
            "location",
            "not in the local Hugging Face cache and the hub is unreachable",
            "problem",
            f"{OFFLINE_FIX}, a local model folder, or connect to the network",
        )
    return ref, info


def _check_disk(
    report: DoctorReport,
    paths: Paths,
    ref: BaseRef | None,
    info: BaseInfo | None,
    loaded: LoadedSettings | None = None,
) -> None:
    free = _free_disk(paths.home)
    need = DISK_MARGIN_BYTES
    if ref is not None and ref.kind == "hub" and info is not None and not info.available_locally:
        need += int((info.parameters or 0) * 2)  # the 16-bit download
    status: Status = "ok" if free >= need else "problem"
    report.add(
        "disk",
        "free under home",
        f"{_gib(free)} (need about {_gib(need)})",
        status,
        None if status == "ok" else "free disk space or point PERSONAFORGE_HOME elsewhere",
    )
    if info is None or loaded is None:
        return
    parts = next_run_bytes(paths, loaded, info)
    total = sum(parts.values())
    enough = free >= total
    report.add(
        "disk",
        "the next run writes",
        f"about {_human(total)} ("
        + ", ".join(f"{name} {_human(size)}" for name, size in parts.items())
        + f"); {_human(free)} free",
        "ok" if enough else "warn",
        None
        if enough
        else f"free at least {_human(total - free)} under {paths.home} before the next run: "
        "a run that fills the disk stops with nothing changed, but learns nothing",
    )


def _human(size: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def _folder_bytes(root: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(dirpath, name))
            except OSError:
                continue
    return total


def next_run_bytes(paths: Paths, loaded: LoadedSettings, info: BaseInfo) -> dict[str, int]:
    """Bytes the next `run` writes under the home, by part (an upper estimate).

    - training (train/budget.py disk_estimate): three checkpoints of the adapter and Adam's
      two moments (9 x the fp32 adapter), the version (1 x), the exports in run.export_formats;
      DPO, when on, writes the same checkpoints and version again;
    - dataset: the newest dataset's size (a monthly one is smaller; the first run's has none
      to go by, so the store's size stands in: examples hold about the memories' text);
    - store: what run.sources holds beyond what the store holds already, twice (the text and
      its full-text index).
    """
    from personaforge.train.budget import disk_estimate

    settings = loaded.settings
    lora = lora_parameter_count(info, settings.train.lora_rank, settings.train.target_modules)
    parts = disk_estimate(
        lora, info.parameters or 0, settings.run.export_formats, settings.run.export_quant
    )
    if settings.run.dpo:
        parts["dpo"] = parts["checkpoints"] + parts["version"]
    store = paths.memory_store.stat().st_size if paths.memory_store.exists() else 0
    datasets = sorted(
        (p for p in paths.datasets.glob("ds-*") if p.is_dir()) if paths.datasets.exists() else [],
        key=lambda p: p.stat().st_mtime,
    )
    parts["dataset"] = _folder_bytes(datasets[-1]) if datasets else store
    sources = sum(
        _folder_bytes(Path(s).expanduser()) if Path(s).expanduser().is_dir() else 0
        for s in settings.run.sources
    )
    parts["store"] = max(0, 2 * sources - store)
    return parts


def _memory_rows(
    info: BaseInfo, loaded: LoadedSettings, accel: Accelerator
) -> list[dict[str, Any]]:
    """LoRA and QLoRA estimates side by side, each with and without checkpointing."""
    train = loaded.settings.train
    rows = []
    weight_options = [
        ("LoRA fp32", 32, 4),
        ("LoRA 16-bit", 16, 2),
        ("QLoRA 4-bit", NF4_BITS_PER_WEIGHT, 2),
    ]
    if accel.device == "cuda":
        weight_options = weight_options[1:]
    for label, bits, act in weight_options:
        for ckpt in ("off", "on", "offload") if accel.device == "cuda" else ("off", "on"):
            estimate = estimate_training_memory(
                info, train, weight_bits=bits, activation_bytes=act, checkpointing=ckpt
            )
            rows.append(
                {
                    "method": label,
                    "gradient_checkpointing": ckpt,
                    "weights_gib": round(estimate.weights / GiB, 2),
                    "adapter_optimizer_gib": round(estimate.adapter_and_optimizer / GiB, 3),
                    "activations_gib": round(estimate.activations / GiB, 2),
                    "total_gib": round(estimate.total / GiB, 2),
                    "fits": estimate.total <= accel.budget_bytes,
                }
            )
    return rows


def _check_plan(
    report: DoctorReport, loaded: LoadedSettings, accel: Accelerator, info: BaseInfo
) -> None:
    architecture = ((info.config or {}).get("model_type")) if info.config else None
    plan = plan_training(loaded.settings.train, accel, info, architecture)
    section = "training plan"
    report.add(section, "backend", plan.backend)
    report.add(section, "precision", plan.precision)
    report.add(
        section,
        "quantization",
        "4-bit NF4 (QLoRA)" if plan.quantization == "4bit" else "none (LoRA)",
    )
    report.add(section, "gradient checkpointing", plan.checkpointing)
    for reason in plan.reasons:
        report.add(section, "why", reason, "warn" if reason.startswith("warning") else "ok")
    if plan.memory is not None:
        place = "GPU" if accel.device == "cuda" else "RAM"
        report.add(
            section,
            "memory estimate",
            f"{_gib(plan.memory.total)} of {_gib(plan.budget_bytes)} usable {place}",
            "ok" if plan.fits else "warn",
        )
    for problem in plan.problems:
        report.add(section, "blocker", problem, "problem")
    report.plan = {
        "backend": plan.backend,
        "device": plan.device,
        "precision": plan.precision,
        "quantization": plan.quantization,
        "gradient_checkpointing": plan.gradient_checkpointing,
        "estimated_gib": round(plan.memory.total / GiB, 2) if plan.memory else None,
        "budget_gib": round(plan.budget_bytes / GiB, 2),
        "fits": plan.fits,
        "reasons": plan.reasons,
    }
    if info.parameters:
        report.memory_table = _memory_rows(info, loaded, accel)


def run_doctor(
    loaded: LoadedSettings, paths: Paths, accel: Accelerator | None = None
) -> DoctorReport:
    report = DoctorReport()
    accel = accel or detect_accelerator()
    _check_environment(report, loaded, paths)
    _check_packages(report)
    _check_device(report, accel)
    ref, info = _check_base(report, loaded, paths, accel)
    _check_disk(report, paths, ref, info, loaded)
    if info is not None:
        _check_plan(report, loaded, accel, info)
    return report
