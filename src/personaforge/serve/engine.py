"""The local engine: one base model, many LoRA adapters, one generation at a time.

PEFT's active adapter is global state on the model, so requests are served by a
single worker thread from a bounded queue: a request can never run under
another request's adapter, and a full queue is refused (HTTP 429) instead of
growing without bound. On 2 CPU cores one generation at a time is also the
fastest schedule; vLLM (engine "vllm") is the answer for real concurrency.

Model names: the base's name, `persona` (the current promoted version),
`persona:vN` for each loaded version, and names given with --adapter NAME=vN.
Hot reload loads the new adapter beside the old one and then moves the
`persona` alias in one assignment. Requests already running finish on the
adapter they started with, and the previous version stays loaded for rollback.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from personaforge.errors import UserError
from personaforge.paths import Paths

PERSONA = "persona"


def point_alias(aliases: dict[str, str], previous: list[str], alias: str, target: str) -> None:
    """Point a public name at an adapter; a replaced `persona` is remembered for rollback.

    Both engines call this under their own lock.
    """
    if alias == PERSONA and aliases.get(PERSONA) not in (None, target):
        previous.append(aliases[PERSONA])
    aliases[alias] = target  # one assignment: queued requests see old or new, never half


def roll_back_persona(aliases: dict[str, str], previous: list[str]) -> str:
    """Point `persona` back at the version it showed before the last reload."""
    if not previous:
        raise UserError("nothing to roll back to: no earlier persona was loaded in this server")
    aliases[PERSONA] = previous.pop()
    return aliases[PERSONA]


class QueueFull(Exception):
    pass


@dataclass
class GenerationRequest:
    model: str
    prompt_ids: list[int]
    max_tokens: int = 128
    temperature: float = 0.0
    top_p: float = 1.0
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    timeout_s: float = 120.0
    # Filled by the worker: text pieces as they are generated, then None.
    pieces: queue.Queue = field(default_factory=queue.Queue)
    adapter_used: str | None = None
    finish_reason: str = "stop"
    completion_tokens: int = 0


class LocalEngine:
    def __init__(self, paths: Paths, base_location: str, base_name: str, max_queue: int = 32):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.paths = paths
        self.base_name = base_name
        self.base_location = base_location
        self.tokenizer = AutoTokenizer.from_pretrained(base_location)
        self._base = AutoModelForCausalLM.from_pretrained(base_location, dtype=torch.float32).eval()
        self.model: Any = None  # a PeftModel once the first adapter is loaded
        self.aliases: dict[str, str] = {}  # public name -> adapter name ("persona" -> "v3")
        self.previous_persona: list[str] = []
        self.loaded_paths: dict[str, str] = {}
        self.queue: queue.Queue[GenerationRequest | None] = queue.Queue(maxsize=max_queue)
        self.lock = threading.Lock()  # guards aliases and adapter loading against the worker
        self.unloaded = False
        self.stats = {"generated_tokens": 0, "requests": 0}
        self._worker = threading.Thread(target=self._run, name="personaforge-engine", daemon=True)
        self._worker.start()

    # -- adapters ---------------------------------------------------------------------------------------

    def adapter_folder(self, version: str | None = None, model_path: str | None = None) -> Path:
        """A version name or a path, which must resolve inside PERSONAFORGE_HOME's adapters folder."""
        root = self.paths.adapters.resolve()
        if model_path is not None:
            folder = Path(model_path)
            folder = (folder if folder.is_absolute() else root / folder).resolve()
        elif version is not None:
            if "/" in version or "\\" in version or version.startswith("."):
                raise UserError(f"'{version}' is not a version name (v1, v2, ...)")
            folder = (root / version).resolve()
        else:
            raise UserError("give a version or a model_path")
        if not folder.is_relative_to(root) or folder == root:
            raise UserError("model paths must lie inside the adapters folder of PERSONAFORGE_HOME")
        if not (folder / "adapter_config.json").exists():
            raise UserError(f"no adapter at {folder.name}")
        return folder

    def load_adapter(self, folder: Path) -> str:
        from peft import PeftModel

        name = folder.name
        with self.lock:
            if name in self.loaded_paths:
                return name
            if self.model is None:
                self.model = PeftModel.from_pretrained(
                    self._base, str(folder), adapter_name=name
                ).eval()
            else:
                self.model.load_adapter(str(folder), adapter_name=name)
            self.loaded_paths[name] = str(folder)
        return name

    def set_alias(self, alias: str, adapter: str) -> None:
        with self.lock:
            point_alias(self.aliases, self.previous_persona, alias, adapter)

    def reload(self, version: str | None = None, model_path: str | None = None) -> str:
        """Load a version beside the current one and point `persona` at it."""
        adapter = self.load_adapter(self.adapter_folder(version, model_path))
        self.set_alias(PERSONA, adapter)
        return adapter

    def rollback(self) -> str:
        with self.lock:
            return roll_back_persona(self.aliases, self.previous_persona)

    def models(self) -> list[str]:
        with self.lock:
            names = [self.base_name, *self.aliases]
            names += [f"{PERSONA}:{name}" for name in self.loaded_paths]
        return list(dict.fromkeys(names))

    def resolve(self, model: str) -> str | None:
        """The adapter a model name runs with (None = the bare base); unknown names are a user error."""
        with self.lock:
            if model == self.base_name:
                return None
            if model in self.aliases:
                return self.aliases[model]
            if model.startswith(PERSONA + ":") and model.split(":", 1)[1] in self.loaded_paths:
                return model.split(":", 1)[1]
        raise UserError(f"unknown model '{model}'; see GET /v1/models")

    # -- accelerator release (training asks for it) ------------------------------------------------------

    def unload(self) -> None:
        import gc

        with self.lock:
            if self._base is not None:
                self._base.to("cpu")
            self.unloaded = True
        gc.collect()

    def load(self) -> None:
        with self.lock:
            self.unloaded = False

    # -- generation -------------------------------------------------------------------------------------------

    def submit(self, request: GenerationRequest) -> GenerationRequest:
        self.resolve(request.model)  # unknown models fail before queueing
        try:
            self.queue.put_nowait(request)
        except queue.Full:
            raise QueueFull from None
        return request

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        """Text pieces of a submitted request as they come; raises TimeoutError past its deadline."""
        deadline = time.monotonic() + request.timeout_s
        while True:
            piece = request.pieces.get(timeout=max(deadline - time.monotonic(), 0.001))
            if piece is None:
                return
            if isinstance(piece, BaseException):
                raise piece
            yield piece

    def _run(self) -> None:
        while True:
            request = self.queue.get()
            if request is None:
                return
            try:
                self._generate(request)
            except Exception as exc:  # reported to the waiting request, never kills the worker
                request.pieces.put(exc)
            finally:
                request.pieces.put(None)

    def _generate(self, request: GenerationRequest) -> None:
        import torch

        adapter = self.resolve(request.model)
        request.adapter_used = adapter
        model = self.model if self.model is not None else self._base
        if request.seed is not None:
            torch.manual_seed(request.seed)
        ids = torch.tensor([request.prompt_ids])
        eos = {self.tokenizer.eos_token_id, self.tokenizer.convert_tokens_to_ids("<|im_end|>")} - {
            None
        }
        generated: list[int] = []
        text = ""
        deadline = time.monotonic() + request.timeout_s
        with torch.no_grad(), self._adapter(adapter):
            past = None
            step_input = ids
            for _ in range(request.max_tokens):
                out = model(input_ids=step_input, past_key_values=past, use_cache=True)
                past = out.past_key_values
                logits = out.logits[0, -1]
                token = self._pick(logits, request)
                if token in eos:
                    request.finish_reason = "stop"
                    break
                generated.append(token)
                # The reply's first token carries the space byte-level BPE puts before words.
                new_text = self.tokenizer.decode(generated, skip_special_tokens=True).lstrip()
                piece, text = new_text[len(text) :], new_text
                hit = next((s for s in request.stop if s and s in text), None)
                if hit:
                    cut = text.index(hit)
                    before = text[:cut]
                    emitted = len(text) - len(piece)
                    if cut > emitted:
                        request.pieces.put(before[emitted:])
                    request.finish_reason = "stop"
                    break
                if piece:
                    request.pieces.put(piece)
                if time.monotonic() > deadline:
                    request.finish_reason = "length"
                    break
                step_input = torch.tensor([[token]])
            else:
                request.finish_reason = "length"
        request.completion_tokens = len(generated)
        self.stats["generated_tokens"] += len(generated)
        self.stats["requests"] += 1

    def _adapter(self, adapter: str | None):
        from contextlib import nullcontext

        if self.model is None:
            return nullcontext()
        if adapter is None:
            return self.model.disable_adapter()
        self.model.set_adapter(adapter)
        return nullcontext()

    @staticmethod
    def _pick(logits, request: GenerationRequest) -> int:
        import torch

        if request.temperature <= 0:
            return int(torch.argmax(logits))
        probs = torch.softmax(logits / request.temperature, dim=-1)
        if request.top_p < 1.0:
            sorted_probs, order = torch.sort(probs, descending=True)
            keep = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < request.top_p
            probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_probs[keep])
            probs = probs / probs.sum()
        return int(torch.multinomial(probs, 1))

    def close(self) -> None:
        self.queue.put(None)
