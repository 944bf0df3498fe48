"""Export a version as a PEFT adapter, merged weights, GGUF, LoRA-GGUF or an Ollama Modelfile.

    result = export_version(paths, "v3", "gguf", quant="q8_0")

Every export verifies itself before it says so:
- adapter: reloads with PeftModel and must give the same logits as the version;
- merged: the merged model's logits against base+adapter on fixed prompts
  (max absolute difference under MERGE_TOLERANCE);
- gguf / lora-gguf: loaded through llama-cpp-python (when installed); greedy
  continuations compared with transformers token by token, and the chat
  template checked in the GGUF metadata;
- ollama: the Modelfile's TEMPLATE, executed as Ollama fills it, renders the tokenizer's
  chat-template text for a few conversations (export/ollama.py, export/template_check.py), and
  its PARAMETER lines
  are the decode settings serve and the gate use.
A check that cannot run here (no llama-cpp-python) is reported in `ExportResult.unchecked`,
never among the checks that passed.
The files are written to a staging folder that becomes the output only after
verification passed, so a failed export leaves nothing that looks finished.

GGUF conversion uses llama.cpp's own converter, taken at first use from the
llama-cpp-python source distribution on the package registry (pinned below)
into `$PERSONAFORGE_HOME/tools/`, never copied into this repository.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from personaforge.atomic import atomic_directory
from personaforge.config import DecodeSettings, load_settings
from personaforge.diskfull import tree_bytes, writing
from personaforge.errors import UserError
from personaforge.export.gguf_check import PROMPTS, Unchecked, verify_gguf
from personaforge.export.ollama import modelfile_parameters, ollama_template
from personaforge.paths import Paths

GGUF_TYPES = ("f32", "f16", "bf16", "q8_0")  # the converter's own output types
LLAMA_CPP_PYTHON = "0.3.36"  # its sdist carries vendor/llama.cpp/convert_*.py and gguf-py
# 16-bit merged weights differ from fp32 base+adapter by rounding; measured on the
# tiny base: max |logit difference| about 0.02 at fp16. Anything over this is a broken merge.
MERGE_TOLERANCE = 0.1


@dataclass
class ExportResult:
    format: str
    path: Path
    files: dict[str, int]  # name -> bytes
    checks: list[str] = field(default_factory=list)  # measured and met, each with its number
    command: str | None = None  # e.g. the `ollama create` line
    unchecked: list[str] = field(default_factory=list)  # could not be measured here, and why

    @property
    def verified(self) -> bool:
        """Every check it has ran; False when one could not (e.g. no llama-cpp-python)."""
        return not self.unchecked

    @property
    def size(self) -> int:
        return sum(self.files.values())


def _sizes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in sorted(folder.iterdir()) if p.is_file()}


# -- loading ------------------------------------------------------------------------------------------


def _version(
    paths: Paths, version: str | None, allow_forgotten: bool = False
) -> tuple[str, Path, dict[str, Any]]:
    from personaforge.registry import Registry

    with Registry.open(paths) as registry:
        name = (
            version or registry.current() or (registry.latest().name if registry.latest() else None)
        )
        if name is None:
            raise UserError("no adapter versions yet; run `personaforge train` first")
        record = registry.require_usable(name, allow_forgotten)
    folder = Path(record.path)
    if not (folder / "adapter_model.safetensors").exists():
        raise UserError(f"{name} has no adapter weights (pruned?); nothing to export")
    return name, folder, json.loads((folder / "personaforge.json").read_text())


def _base_location(paths: Paths, card: dict[str, Any]) -> str:
    from personaforge.bases import resolve_base

    return resolve_base(card["base"]["name"], paths, card["base"].get("revision")).location


def _logits(model, tokenizer) -> list:
    import torch

    outputs = []
    for messages in PROMPTS:
        ids = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        with torch.no_grad():
            outputs.append(model(**ids).logits.float())
    return outputs


def _peft_model(base_location: str, adapter: Path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(base_location, dtype=torch.float32)
    return PeftModel.from_pretrained(base, str(adapter)).eval()


# -- adapter and merged --------------------------------------------------------------------------------


def export_adapter(
    folder: Path, card: dict[str, Any], base_location: str, staging: Path
) -> list[str]:
    import torch
    from transformers import AutoTokenizer

    config = json.loads((folder / "adapter_config.json").read_text())
    if config.get("modules_to_save"):
        raise UserError(
            f"the adapter trains {config['modules_to_save']} in full; vLLM and llama.cpp reject that"
        )
    for name in ("adapter_config.json", "adapter_model.safetensors", "personaforge.json"):
        shutil.copy2(folder / name, staging / name)
    AutoTokenizer.from_pretrained(folder).save_pretrained(str(staging))
    tokenizer = AutoTokenizer.from_pretrained(staging)
    original = _logits(_peft_model(base_location, folder), tokenizer)
    reloaded = _logits(_peft_model(base_location, staging), tokenizer)
    worst = max(float((a - b).abs().max()) for a, b in zip(original, reloaded, strict=True))
    if worst > 0 or not torch.isfinite(torch.tensor(worst)):
        raise UserError(
            f"adapter export verification failed: logits differ by {worst:.3g} after reloading"
        )
    return [
        f"PeftModel.from_pretrained reloads it: logits identical on {len(PROMPTS)} prompts (max diff {worst})",
        f"adapter_config: r={config['r']}, targets {', '.join(sorted(config['target_modules']))}, "
        "no modules_to_save (vLLM --lora-modules and llama.cpp accept it)",
    ]


def export_merged(
    folder: Path, card: dict[str, Any], base_location: str, staging: Path, dtype: str = "float16"
):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    tokenizer = AutoTokenizer.from_pretrained(folder)
    peft = _peft_model(base_location, folder)
    reference = _logits(peft, tokenizer)
    merged = peft.merge_and_unload()
    merged = merged.to(getattr(torch, dtype))
    eos = sorted(
        {
            tokenizer.eos_token_id,
            *(
                [tokenizer.convert_tokens_to_ids("<|im_end|>")]
                if "<|im_end|>" in tokenizer.get_vocab()
                else []
            ),
        }
        - {None}
    )
    merged.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=eos if len(eos) > 1 else eos[0],
        pad_token_id=tokenizer.pad_token_id,
    )
    merged.save_pretrained(str(staging), safe_serialization=True)
    tokenizer.save_pretrained(str(staging))
    reloaded = AutoModelForCausalLM.from_pretrained(staging, dtype=torch.float32).eval()
    worst = max(
        float((a - b).abs().max())
        for a, b in zip(reference, _logits(reloaded, tokenizer), strict=True)
    )
    if not worst <= MERGE_TOLERANCE:
        raise UserError(
            f"merge verification failed: max |logit difference| {worst:.4f} > {MERGE_TOLERANCE}"
        )
    saved_eos = json.loads((staging / "generation_config.json").read_text())["eos_token_id"]
    return [
        f"merged ({dtype}) vs base+adapter (fp32) on {len(PROMPTS)} prompts: max |logit diff| {worst:.4f} "
        f"(tolerance {MERGE_TOLERANCE})",
        f"generation_config eos_token_id {saved_eos} "
        f"({tokenizer.convert_ids_to_tokens(saved_eos if isinstance(saved_eos, int) else saved_eos[0])})",
    ]


# -- llama.cpp tools --------------------------------------------------------------------------------------


def converter_dir(paths: Paths) -> Path:
    return paths.home / "tools" / f"llama.cpp-{LLAMA_CPP_PYTHON}"


def ensure_converter(paths: Paths) -> Path:
    """llama.cpp's converter scripts and gguf-py, from the llama-cpp-python sdist on the registry."""
    target = converter_dir(paths)
    if (target / "convert_hf_to_gguf.py").exists():
        return target
    with tempfile.TemporaryDirectory() as download:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "-q",
            f"llama-cpp-python=={LLAMA_CPP_PYTHON}",
            "-d",
            download,
        ]
        done = subprocess.run(command, capture_output=True, text=True)
        archives = list(Path(download).glob("llama_cpp_python-*.tar.gz"))
        if done.returncode != 0 or not archives:
            raise UserError(
                f"GGUF export needs llama.cpp's converter, taken from the llama-cpp-python=={LLAMA_CPP_PYTHON} "
                f"source package, and pip could not download it ({done.stderr.strip().splitlines()[-1:] or '?'}); "
                "check your connection to the package index"
            )
        prefix = f"llama_cpp_python-{LLAMA_CPP_PYTHON}/vendor/llama.cpp/"
        wanted = ("convert_hf_to_gguf.py", "convert_lora_to_gguf.py", "gguf-py/", "conversion/")
        with atomic_directory(target) as staging, tarfile.open(archives[0]) as archive:
            for member in archive.getmembers():
                relative = member.name.removeprefix(prefix)
                if (
                    member.name.startswith(prefix)
                    and relative.startswith(wanted)
                    and member.isfile()
                ):
                    member.name = relative
                    archive.extract(member, staging, filter="data")
    return target


RUNNER = """
import os, runpy, sys
tools = sys.argv.pop(1)
sys.path[:0] = [tools, os.path.join(tools, "gguf-py")]
from conversion.base import TextModel
original = TextModel.get_vocab_base_pre
def get_vocab_base_pre(self, tokenizer):
    try:
        return original(self, tokenizer)
    except NotImplementedError:
        fallback = os.environ.get("PERSONAFORGE_GGUF_PRE")
        if not fallback:
            raise
        return fallback
TextModel.get_vocab_base_pre = get_vocab_base_pre
script = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(script, run_name="__main__")
"""


def _pre_tokenizer_fallback(model_dir: Path) -> str | None:
    """The built-in tokenizer is GPT-2 style byte-level BPE; tell the converter so (it knows only hub hashes)."""
    tokenizer = json.loads((model_dir / "tokenizer.json").read_text())
    pre = tokenizer.get("pre_tokenizer") or {}
    if pre.get("type") == "ByteLevel" and pre.get("use_regex", True):
        return "gpt-2"
    return None


def run_converter(paths: Paths, script: str, args: list[str], model_dir: Path) -> None:
    tools = ensure_converter(paths)
    env = {**os.environ, "NO_LOCAL_GGUF": "", "PYTHONWARNINGS": "ignore"}
    fallback = _pre_tokenizer_fallback(model_dir)
    if fallback:
        env["PERSONAFORGE_GGUF_PRE"] = fallback
    command = [sys.executable, "-c", RUNNER, str(tools), str(tools / script), *args]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-3:])
        raise UserError(f"llama.cpp's {script} failed: {tail}")


def _gguf_metadata(path: Path, tools: Path) -> dict[str, Any]:
    sys.path[:0] = [str(tools / "gguf-py")]
    try:
        from gguf import GGUFReader
    finally:
        sys.path.remove(str(tools / "gguf-py"))
    reader = GGUFReader(str(path))
    found = {}
    for key in (
        "tokenizer.chat_template",
        "tokenizer.ggml.eos_token_id",
        "tokenizer.ggml.bos_token_id",
        "tokenizer.ggml.pre",
        "general.file_type",
    ):
        field_ = reader.fields.get(key)
        if field_ is not None:
            found[key] = field_.contents()
    return found


# -- the formats that need GGUF ---------------------------------------------------------------------------


def export_gguf(job: ExportJob) -> list[str]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    paths, folder, card, base_location, staging, quant = (
        job.paths,
        job.folder,
        job.card,
        job.base_location,
        job.staging,
        job.quant,
    )
    if quant not in GGUF_TYPES:
        raise UserError(
            f"--quant {quant} is not one llama.cpp's converter writes; choose {', '.join(GGUF_TYPES)}"
        )
    with tempfile.TemporaryDirectory() as work:
        merged_dir = Path(work) / "merged"
        merged_dir.mkdir()
        checks = export_merged(folder, card, base_location, merged_dir, dtype="float32")
        out = staging / f"{folder.name}-{quant}.gguf"
        run_converter(
            paths,
            "convert_hf_to_gguf.py",
            [str(merged_dir), "--outfile", str(out), "--outtype", quant],
            merged_dir,
        )
        meta = _gguf_metadata(out, converter_dir(paths))
        if not meta.get("tokenizer.chat_template"):
            raise UserError("GGUF verification failed: no chat template in the file's metadata")
        checks.append(
            f"metadata: chat template present, eos id {meta.get('tokenizer.ggml.eos_token_id')}, "
            f"bos id {meta.get('tokenizer.ggml.bos_token_id')}, pre-tokenizer {meta.get('tokenizer.ggml.pre')}"
        )
        tokenizer = AutoTokenizer.from_pretrained(merged_dir)
        model = AutoModelForCausalLM.from_pretrained(merged_dir).eval()
        checks += verify_gguf(model, tokenizer, out, quant)
    return checks


def export_lora_gguf(job: ExportJob) -> list[str]:
    from transformers import AutoTokenizer

    paths, folder, base_location, staging, quant = (
        job.paths,
        job.folder,
        job.base_location,
        job.staging,
        job.quant,
    )
    lora_type = "f16" if quant in ("q8_0",) else quant
    out = staging / f"{folder.name}-lora-{lora_type}.gguf"
    run_converter(
        paths,
        "convert_lora_to_gguf.py",
        [str(folder), "--base", base_location, "--outfile", str(out), "--outtype", lora_type],
        Path(base_location),
    )
    base_gguf = staging / "base-f32.gguf"
    run_converter(
        paths,
        "convert_hf_to_gguf.py",
        [base_location, "--outfile", str(base_gguf), "--outtype", "f32"],
        Path(base_location),
    )
    tokenizer = AutoTokenizer.from_pretrained(folder)
    checks = [
        f"LoRA GGUF ({lora_type}) for llama.cpp --lora and Ollama ADAPTER; base converted beside it"
    ]
    checks += verify_gguf(
        _peft_model(base_location, folder).merge_and_unload(),
        tokenizer,
        base_gguf,
        lora_type,
        lora_path=out,
    )
    return checks


# -- ollama ------------------------------------------------------------------------------------------------


def export_ollama(job: ExportJob) -> tuple[list[str], str]:
    from transformers import AutoTokenizer

    # Checked before the slow GGUF conversion, so a template we cannot mirror fails fast.
    found = ollama_template(AutoTokenizer.from_pretrained(job.folder))
    checks = export_gguf(job) + found.checks
    gguf_name = next(p.name for p in job.staging.glob("*.gguf"))
    stops = "".join(f'PARAMETER stop "{stop}"\n' for stop in found.family.stops)
    default_system = f'SYSTEM """{found.system}"""\n\n' if found.system else ""
    modelfile = (
        f"# personaforge {job.folder.name} ({job.card['method']}, base {job.card['base']['name']})\n"
        f'FROM ./{gguf_name}\n\nTEMPLATE """{found.template}"""\n\n{default_system}{stops}'
        + modelfile_parameters(job.decoding or load_settings(job.paths).settings.decode)
        + "PARAMETER num_ctx 2048\n"
    )
    (job.staging / "Modelfile").write_text(modelfile)
    return checks, f"ollama create {job.name} -f {job.staging.name}/Modelfile"


# -- entry point ----------------------------------------------------------------------------------------------


@dataclass
class ExportJob:
    """What every format reads: the version, its base, where to write, and the options."""

    paths: Paths
    folder: Path
    card: dict[str, Any]
    base_location: str
    staging: Path
    quant: str
    name: str
    decoding: DecodeSettings | None  # ollama's PARAMETER lines; None: the home's settings


@dataclass(frozen=True)
class Format:
    write: Callable[[ExportJob], tuple[list[str], str | None]]  # -> checks, a command to run
    gguf: bool  # the output is a GGUF file of type --quant (its folder name says which)


FORMAT_TABLE: dict[str, Format] = {
    "adapter": Format(
        lambda j: (export_adapter(j.folder, j.card, j.base_location, j.staging), None), False
    ),
    "merged": Format(
        lambda j: (export_merged(j.folder, j.card, j.base_location, j.staging), None), False
    ),
    "gguf": Format(lambda j: (export_gguf(j), None), True),
    "lora-gguf": Format(lambda j: (export_lora_gguf(j), None), True),
    "ollama": Format(export_ollama, True),
}
FORMATS = tuple(FORMAT_TABLE)


def export_version(
    paths: Paths,
    version: str | None,
    fmt: str,
    quant: str = "f16",
    out: Path | None = None,
    name: str = "persona",
    allow_forgotten: bool = False,
    decoding: DecodeSettings | None = None,
) -> ExportResult:
    """Export `version` (default: the current one) as `fmt`; an Ollama Modelfile carries
    `decoding` (default: the home's settings `decode`) as its PARAMETER lines."""
    if fmt not in FORMAT_TABLE:
        raise UserError(f"unknown export format '{fmt}'; choose {', '.join(FORMATS)}")
    from personaforge.bases import quiet_libraries

    quiet_libraries()
    version, folder, card = _version(paths, version, allow_forgotten)
    base_location = _base_location(paths, card)
    form = FORMAT_TABLE[fmt]
    suffix = f"-{quant}" if form.gguf else ""
    target = Path(out) if out else paths.home / "exports" / f"{version}-{fmt}{suffix}"
    # An adapter export is a copy of the version's folder; other formats' sizes depend on the
    # base and the quantization (the line then says how much was staged when the disk filled).
    needed = tree_bytes(folder) if fmt == "adapter" else None
    with writing(target, needed), atomic_directory(target) as staging:
        job = ExportJob(paths, folder, card, base_location, staging, quant, name, decoding)
        checks, command = form.write(job)
    if command:
        command = f"cd {target.parent} && " + command.replace(f"{staging.name}/", f"{target.name}/")
    return ExportResult(
        fmt,
        target,
        _sizes(target),
        [c for c in checks if not isinstance(c, Unchecked)],
        command,
        [str(c) for c in checks if isinstance(c, Unchecked)],
    )
