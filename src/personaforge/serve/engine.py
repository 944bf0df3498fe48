"""The local engine: one base model, many LoRA adapters, concurrent requests batched across them.

Scheduling (continuous batching). One worker thread owns generation. Each turn
it (1) runs jobs that must happen between two forward passes (attaching an
adapter that changes the model's structure), (2) admits waiting requests into
the running batch, up to `max_batch`, and runs each one's prompt alone
(prefill), then (3) moves every sequence in the batch on by one token in a
single forward pass, each row under its own adapter (serve/lora_rows.py;
`__base__` is the bare base). A sequence leaves when it ends and a new one
joins at the next turn; the KV caches of rows of different lengths
are left-padded to one width and masked. A forward pass on a small base is
mostly fixed overhead, so rows in one batch cost little more than one row
(bench/serve.py measures the gain). `max_batch=1` is the old
one-request-at-a-time schedule.

Hot reload. Reading an adapter from disk and checking it against the base
(config, weight shapes, rank, the base it was trained on: serve/adapters.py)
and attaching it all happen on a loader thread of lower CPU priority, beside
generation, under a lock only other loads take. That is safe because a forward
pass gets each row's adapter name from a hook we put on every LoRA layer, never
from PEFT's "active adapter", and attaching only adds entries for the new name to the
layers' adapter dicts. The exceptions, which the worker attaches between two
steps: the first adapter (it wraps the base's layers) and one that adapts
layers no loaded adapter adapts. Then the `persona` alias moves in one
assignment: requests already running finish on the adapter they started with,
and the previous version stays loaded for rollback. A broken adapter
(unreadable, wrong rank, another base) is refused with a 400 before anything
touches the model.

Model names: the base's name, `persona` (the current promoted version),
`persona:vN` for each loaded version, and names given with --adapter NAME=vN.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from personaforge.paths import Paths
from personaforge.serve.adapters import PreparedAdapter, linear_shapes, prepare_adapter
from personaforge.serve.decode import Detokenizer, held_back
from personaforge.serve.generation import GenerationRequest, Row
from personaforge.serve.lora_rows import BASE_ROW, RowAdapters
from personaforge.serve.policy import (
    ApiError,
    Busy,
    Conflict,
    NotFound,
    Unavailable,
    adapter_folder,
)

PERSONA = "persona"
DEFAULT_MAX_BATCH = 8
ATTACH_TIMEOUT_S = 300.0
# How much nicer the loader thread is than the server. At +10 the kernel gives it about a
# tenth of a busy core against generation's threads (CFS weights 110 against 1,024).
LOADER_NICENESS = 10

log = logging.getLogger("personaforge.serve")


def keep_out_of_gc() -> None:
    """Collect once, then move every object alive now out of the collector's sight (gc.freeze).

    A server process holds about 430k objects once the tiny base is loaded (torch,
    transformers, the app), and a full collection walks them all: 210 ms on 2 cores,
    with the GIL held, so every running request stalls. Objects created later (requests,
    and each adapter's modules, frozen in turn when it is attached) are collected as
    usual. Freezing after a load collects nothing first: a collection then would be the
    very stall this avoids, and what is garbage at that moment is a few requests' worth.
    """
    gc.collect()
    gc.freeze()


def yield_to_generation() -> None:
    """Lower the calling thread's CPU priority, so adapter loads take what generation leaves.

    A fresh version every 0.2 s lifted p99 latency well above steady on 2 cores
    (bench/RESULTS.md, serve). Most of that was the garbage collector (keep_out_of_gc);
    the niceness was not measured on its own, and it cannot shorten the load's turns
    holding the GIL. Niceness is per thread on Linux; elsewhere loads keep the normal
    priority.
    """
    with contextlib.suppress(AttributeError, OSError):
        thread = threading.get_native_id()
        niceness = os.getpriority(os.PRIO_PROCESS, thread) + LOADER_NICENESS
        os.setpriority(os.PRIO_PROCESS, thread, min(niceness, 19))  # 19: the lowest priority


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
        raise Conflict("nothing to roll back to: no earlier persona was loaded in this server")
    aliases[PERSONA] = previous.pop()
    return aliases[PERSONA]


class LocalEngine:
    def __init__(
        self,
        paths: Paths,
        base_location: str,
        base_name: str,
        max_queue: int = 32,
        max_batch: int = DEFAULT_MAX_BATCH,
        base_fingerprint: str | None = None,
    ):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.paths = paths
        self.base_name = base_name
        self.base_location = base_location
        self.base_fingerprint = base_fingerprint
        self.tokenizer = AutoTokenizer.from_pretrained(base_location)
        self._base = AutoModelForCausalLM.from_pretrained(base_location, dtype=torch.float32).eval()
        config = self._base.config
        self.context = int(getattr(config, "max_position_embeddings", 0) or 1 << 30)
        # Left-padded batches assume every layer attends to the whole sequence; a sliding
        # window or hybrid cache would need per-row offsets, so such bases run one at a time.
        full_attention = not getattr(config, "sliding_window", None) and all(
            kind == "full_attention" for kind in getattr(config, "layer_types", None) or []
        )
        self.max_batch = max(1, max_batch) if full_attention else 1
        self.max_queue = max_queue
        self._linear_shapes = linear_shapes(self._base)
        # EOS, and ChatML's end of turn where the vocabulary has it (SmolLM2, the tiny bases).
        end_of_turn = self.tokenizer.get_vocab().get("<|im_end|>")
        self.eos = {self.tokenizer.eos_token_id, end_of_turn} - {None}
        self.model: Any = None  # a PeftModel once the first adapter is attached
        self.aliases: dict[str, str] = {}  # public name -> adapter name ("persona" -> "v3")
        self.previous_persona: list[str] = []
        self.loaded_paths: dict[str, str] = {}
        self.lock = threading.Lock()  # guards aliases and loaded_paths; held for microseconds
        self.unloaded = False
        self.stats = {"generated_tokens": 0, "requests": 0, "steps": 0, "rows": 0}
        # Worker state: requests waiting, jobs to run between steps, the running batch.
        self._wake = threading.Condition()
        self._waiting: deque[GenerationRequest] = deque()
        self._jobs: list[tuple[Callable[[], None], threading.Event, list]] = []
        self._closed = False
        self._rows: list[Row] = []
        self._cache: Any = None  # the batch's DynamicCache
        self._mask: Any = None  # [rows, width] 1 = real token, 0 = left padding
        self._rows_lora = RowAdapters()  # each row's adapter in the forward pass running now
        self._wrapped: set[str] = set()  # base layers some loaded adapter adapts
        self._loading = threading.Lock()  # one adapter load at a time
        self._loader = ThreadPoolExecutor(
            1, thread_name_prefix="personaforge-loader", initializer=yield_to_generation
        )
        keep_out_of_gc()
        self._worker = threading.Thread(target=self._run, name="personaforge-engine", daemon=True)
        self._worker.start()

    # -- adapters ---------------------------------------------------------------------------------------

    def adapter_folder(self, version: str | None = None, model_path: str | None = None) -> Path:
        """A version name or a path, which must name a version folder inside the adapters folder."""
        return adapter_folder(self.paths, version, model_path)

    def load_adapter(self, folder: Path) -> str:
        """Read, check and attach `folder` on the loader thread, beside generation.

        Only an adapter that adapts layers no loaded adapter adapts (or the very first)
        changes the model's structure; the worker attaches that one between two steps.
        """
        name = folder.name
        with self.lock:
            if name in self.loaded_paths:
                return name
        return self._loader.submit(self._load, folder).result()

    def _load(self, folder: Path) -> str:
        name = folder.name
        prepared = self.prepare(folder)
        with self._loading:  # one load at a time; requests never wait on this lock
            with self.lock:
                if name in self.loaded_paths:
                    return name
            if self.model is None or not prepared.modules <= self._wrapped:
                self._in_worker(lambda: self._attach(prepared, structural=True))
            else:
                self._attach(prepared, structural=False)
        return name

    def prepare(self, folder: Path) -> PreparedAdapter:
        """The adapter's config and weights, checked against this base; ApiError (400) if unusable."""
        return prepare_adapter(folder, self._linear_shapes, self.base_name, self.base_fingerprint)

    def _attach(self, prepared: PreparedAdapter, structural: bool) -> None:
        """Add the adapter's LoRA matrices to the model and fill them.

        `structural` (the worker, between steps): the first adapter wraps the base's
        layers, or this one adapts layers none did. Otherwise it runs beside a forward
        pass, which is safe because that pass only reads other adapters' entries of
        the layers' adapter dicts and gets its per-row adapter names from our hooks,
        never from PEFT's active adapter (tests/reliability/test_adapters_under_traffic.py).
        """
        from peft import PeftModel, set_peft_model_state_dict

        name = prepared.name
        first = self.model is None
        if first:
            self.model = PeftModel(self._base, prepared.config, name, low_cpu_mem_usage=True)
        else:
            self.model.add_adapter(name, prepared.config, low_cpu_mem_usage=True)
        try:
            result = set_peft_model_state_dict(
                self.model, prepared.weights, adapter_name=name, low_cpu_mem_usage=True
            )
            missing = [k for k in result.missing_keys if f".{name}." in k and ".lora_" in k]
            if missing:
                raise ApiError(f"{name}: adapter_model.safetensors lacks {missing[0]}")
        except Exception as exc:
            if first:
                self._base = self.model.unload()
                self.model = None
            else:
                self.model.delete_adapter(name)
            if isinstance(exc, ApiError):
                raise
            raise ApiError(f"{name} cannot be loaded: {str(exc).splitlines()[0][:200]}") from None
        self.model.eval()  # new dropout modules start in training mode
        if structural:
            self._rows_lora.hook(self.model)
        self._wrapped |= prepared.modules
        gc.freeze()  # the new adapter's modules live as long as the server: see keep_out_of_gc
        with self.lock:
            self.loaded_paths[name] = str(prepared.folder)

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
        """The adapter a model name runs with (None = the bare base); unknown names are a 404."""
        with self.lock:
            if model == self.base_name:
                return None
            if model in self.aliases:
                return self.aliases[model]
            if model.startswith(PERSONA + ":") and model.split(":", 1)[1] in self.loaded_paths:
                return model.split(":", 1)[1]
        raise NotFound(f"unknown model '{model}'; see GET /v1/models", "model")

    # -- accelerator release (training asks for it) ------------------------------------------------------

    def unload(self) -> None:
        """Give the accelerator up (a training asked for it); requests get 503 until `load`.

        Waits for an adapter load in progress: `.to()` walks every module, and a load adds
        modules beside it ("dictionary changed size during iteration" killed the device
        watcher, and the training that asked waited out its 120 s).
        """
        with self._loading:
            with self.lock:
                self.unloaded = True
            if self._base is not None:
                self._base.to("cpu")
        gc.collect()

    def load(self) -> None:
        with self.lock:
            self.unloaded = False

    # -- requests ---------------------------------------------------------------------------------------------

    @property
    def queue_depth(self) -> int:
        return len(self._waiting)

    @property
    def batch_size(self) -> int:
        return len(self._rows)

    def submit(self, request: GenerationRequest) -> GenerationRequest:
        """Queue a request; unknown model 404, prompt beyond the context 400, full queue 429."""
        if self.unloaded:
            raise Unavailable("the model is unloaded (a training has the accelerator); retry later")
        self.resolve(request.model)
        if len(request.prompt_ids) >= self.context:
            raise ApiError(
                f"the prompt has {len(request.prompt_ids)} tokens; this model's context is "
                f"{self.context}",
                "messages",
            )
        request.deadline = time.monotonic() + request.timeout_s
        with self._wake:
            if self._closed:
                raise Unavailable("the server is stopping")
            if len(self._waiting) >= self.max_queue:
                raise Busy("the server is busy; retry shortly")
            self._waiting.append(request)
            self._wake.notify()
        return request

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        """Text pieces of a submitted request as they come; raises TimeoutError past its deadline."""
        while True:
            try:
                piece = request.pieces.get(timeout=max(request.deadline - time.monotonic(), 0) + 5)
            except queue.Empty:
                raise TimeoutError from None
            if piece is None:
                return
            if isinstance(piece, BaseException):
                raise piece
            yield piece

    async def astream(self, request: GenerationRequest) -> AsyncIterator[str]:
        """`stream` for a request whose Channel was made on this event loop."""
        while True:
            timeout = max(request.deadline - time.monotonic(), 0) + 5
            piece = await request.pieces.aget(timeout)  # asyncio.TimeoutError past the deadline
            if piece is None:
                return
            if isinstance(piece, BaseException):
                raise piece
            yield piece

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._worker.join(timeout=10)
        self._loader.shutdown(wait=False, cancel_futures=True)
        gc.unfreeze()  # a process that starts another engine (the tests) can free this one

    # -- the worker -----------------------------------------------------------------------------------------

    def _in_worker(self, job: Callable[[], None]) -> None:
        """Run `job` on the worker thread between two steps and wait for it."""
        done, outcome = threading.Event(), []
        with self._wake:
            if self._closed:
                raise Unavailable("the server is stopping")
            self._jobs.append((job, done, outcome))
            self._wake.notify()
        if not done.wait(ATTACH_TIMEOUT_S):
            raise Unavailable("the engine did not attach the adapter in time")
        if outcome:
            raise outcome[0]

    def _run(self) -> None:
        while True:
            with self._wake:
                while not (self._closed or self._waiting or self._jobs or self._rows):
                    self._wake.wait()
                if self._closed:
                    break
                jobs, self._jobs = self._jobs, []
                room = self.max_batch - len(self._rows)
                admitted = [self._waiting.popleft() for _ in range(min(room, len(self._waiting)))]
            for job, done, outcome in jobs:
                try:
                    job()
                except BaseException as exc:  # handed to the waiting caller
                    outcome.append(exc)
                done.set()
            for request in admitted:
                self._admit(request)
            if self._rows:
                self._step()
        stopping = Unavailable("the server is stopping")
        for row in self._rows:
            self._fail(row.request, stopping)
        for request in self._waiting:
            self._fail(request, stopping)
        for _, done, outcome in self._jobs:
            outcome.append(stopping)
            done.set()

    @staticmethod
    def _fail(request: GenerationRequest, exc: BaseException) -> None:
        request.pieces.put(exc)
        request.pieces.put(None)

    def _forward(self, input_ids, mask, positions, cache, adapters: list[str | None]):
        """One forward pass; each row under its own adapter (`BASE_ROW`: none)."""
        kwargs = {
            "input_ids": input_ids,
            "attention_mask": mask,
            "position_ids": positions,
            "past_key_values": cache,
            "use_cache": True,
        }
        if self.model is None:
            return self._base(**kwargs)
        self._rows_lora.set([a or BASE_ROW for a in adapters])  # read by serve/lora_rows.py's hooks
        return self.model(**kwargs)

    def _admit(self, request: GenerationRequest) -> None:
        """Run a new request's prompt alone, take its first token, and add it to the batch."""
        import torch

        if request.cancelled:
            request.pieces.put(None)
            return
        try:
            adapter = self.resolve(request.model)
            request.adapter_used = adapter or "base"
            generator = None
            if request.seed is not None:
                generator = torch.Generator().manual_seed(request.seed)
            row = Row(
                request, adapter, len(request.prompt_ids), Detokenizer(self.tokenizer), generator
            )
            with torch.no_grad():
                out = self._forward(torch.tensor([request.prompt_ids]), None, None, None, [adapter])
            if self._advance(row, row.pick(out.logits[0, -1])):
                return
            self._join(row, out.past_key_values)
        except Exception as exc:  # this request's own failure; the batch goes on
            log.exception("request for %s failed", request.model)
            self._fail(request, exc)

    def _join(self, row: Row, cache) -> None:
        """Add a prefilled row to the batch, left-padding the shorter cache to a common width."""
        import torch
        import torch.nn.functional as F

        length = row.position
        if self._cache is None:
            self._rows, self._cache = [row], cache
            self._mask = torch.ones(1, length, dtype=torch.long)
            return
        width = max(self._mask.shape[1], length)
        grow, pad = width - self._mask.shape[1], width - length
        for mine, theirs in zip(self._cache.layers, cache.layers, strict=True):
            mine.keys = torch.cat(
                [F.pad(mine.keys, (0, 0, grow, 0)), F.pad(theirs.keys, (0, 0, pad, 0))]
            )
            mine.values = torch.cat(
                [F.pad(mine.values, (0, 0, grow, 0)), F.pad(theirs.values, (0, 0, pad, 0))]
            )
        new_mask = F.pad(torch.ones(1, length, dtype=torch.long), (pad, 0))
        self._mask = torch.cat([F.pad(self._mask, (grow, 0)), new_mask])
        self._rows.append(row)

    def _step(self) -> None:
        """Every row in the batch moves on by one token, in one forward pass."""
        import torch

        rows = self._rows
        try:
            self._mask = torch.cat([self._mask, torch.ones(len(rows), 1, dtype=torch.long)], dim=1)
            with torch.no_grad():
                out = self._forward(
                    torch.tensor([[row.next_token] for row in rows]),
                    self._mask,
                    torch.tensor([[row.position] for row in rows]),
                    self._cache,
                    [row.adapter for row in rows],
                )
        except Exception as exc:  # the batch's state is unknown now: fail its rows, start afresh
            log.exception("a batch of %d failed", len(rows))
            for row in rows:
                self._fail(row.request, exc)
            self._rows, self._cache, self._mask = [], None, None
            return
        self.stats["steps"] += 1
        self.stats["rows"] += len(rows)
        keep = []
        for index, row in enumerate(rows):
            row.position += 1
            if row.request.cancelled:
                row.request.pieces.put(None)
            elif not self._advance(row, row.pick(out.logits[index, -1])):
                keep.append(index)
        if len(keep) < len(rows):
            self._shrink(keep)

    def _shrink(self, keep: list[int]) -> None:
        """Drop finished rows and the leading padding no remaining row needs."""
        import torch

        if not keep:
            self._rows, self._cache, self._mask = [], None, None
            return
        index = torch.tensor(keep)
        self._rows = [self._rows[i] for i in keep]
        self._mask = self._mask[index]
        first = int(self._mask.any(dim=0).int().argmax())  # first column some row still uses
        self._mask = self._mask[:, first:]
        for layer in self._cache.layers:
            layer.keys = layer.keys[index, :, first:]
            layer.values = layer.values[index, :, first:]

    def _advance(self, row: Row, token: int) -> bool:
        """Take one generated token: send text, check EOS, stop strings and limits. True = done."""
        request = row.request
        if token in self.eos:
            row.text += row.detokenizer.flush()
            return self._finish(row, "stop")
        request.completion_tokens += 1
        piece = row.detokenizer.push(token)
        if not row.text:
            piece = (
                piece.lstrip()
            )  # the reply's first token carries the space BPE puts before words
        checked = len(row.text)
        row.text += piece
        stops = [s for s in request.stop if s]
        if stops:
            start = max(checked - max(map(len, stops)) + 1, 0)
            hits = [i for i in (row.text.find(s, start) for s in stops) if i >= 0]
            if hits:
                row.text = row.text[: min(hits)]
                return self._finish(row, "stop")
        if request.stream:
            ready = len(row.text) - held_back(row.text, stops)
            if ready > row.emitted:
                request.pieces.put(row.text[row.emitted : ready])
                row.emitted = ready
        row.next_token = token
        if (
            request.completion_tokens >= request.max_tokens
            or row.position + 1 >= self.context  # prompt + reply fill the context
            or time.monotonic() > request.deadline
        ):
            row.text += row.detokenizer.flush()
            return self._finish(row, "length")
        return False

    def _finish(self, row: Row, reason: str) -> bool:
        request = row.request
        request.finish_reason = reason
        if len(row.text) > row.emitted:
            request.pieces.put(row.text[row.emitted :])
        request.pieces.put(None)
        self.stats["generated_tokens"] += request.completion_tokens
        self.stats["requests"] += 1
        return True
