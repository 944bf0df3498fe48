"""The local engine: one base model, many LoRA adapters, concurrent requests batched across them.

Scheduling (continuous batching). One worker thread owns generation. Each turn
it (1) runs jobs that must happen between two forward passes (the tests'), (2)
admits waiting requests into the running batch, up to `max_batch`, running the
prompts of those admitted together in one left-padded pass (prefill), then (3)
moves every sequence in the batch on by one token in a single forward pass, each
row under its own adapter (serve/lora_rows.py; `__base__` is the bare base).
Tokens are picked for all rows at once (decoding.pick_tokens). A sequence leaves
when it ends and a new one joins at the next turn; the KV caches of rows of
different lengths are left-padded to one width and masked (serve/batch.py). A
forward pass on a small base is mostly fixed overhead, so rows in one batch cost
little more than one row (bench/serve.py measures the gain). `max_batch=1` is the old
one-request-at-a-time schedule.

Hot reload. Reading an adapter from disk, checking it against the base (config,
weight shapes, rank, the base it was trained on: serve/adapters.py) and adding it
all happen on a loader thread, beside generation, under a lock only other loads
take. Adding one is a dict of matrices and, for layers no earlier adapter
adapted, our forward on them (serve/lora_rows.py): the base model never changes
shape, and a forward pass reads each row's adapter by name. Then the
`persona` alias moves in one assignment: requests already running finish on the
adapter they started with, and the previous version stays loaded for rollback. A
broken adapter (unreadable, wrong rank, another base) is refused with a 400 before
anything touches the model.

Model names: the base's name, `persona` (the current promoted version),
`persona:vN` for each loaded version, and names given with --adapter NAME=vN.
"""

from __future__ import annotations

import gc
import inspect
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from personaforge.paths import Paths
from personaforge.serve.adapters import PreparedAdapter, linear_shapes, prepare_adapter
from personaforge.serve.batch import Batch, keep_cache_rows, prompt_inputs
from personaforge.serve.decode import Detokenizer, held_back
from personaforge.serve.generation import GenerationRequest, Row, pick_next
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
JOB_TIMEOUT_S = 300.0
# Intra-op threads for a decode step. Its products are [rows <= max_batch, hidden], too small
# to split across cores: a step of 4 rows on the tiny base took 3.17 ms on 2 threads and 2.30
# ms on one; on smollm2-135m, bound by memory, 89.9 and 91.9 ms. Prompts (prefill) keep every
# thread: 400 tokens of smollm2-135m took 749 ms on 2 threads and 1,529 ms on one.
DECODE_THREADS = 1
# A prompt pass uses every intra-op thread when its work (base parameters x prompt tokens)
# is at least this; smaller passes are mostly Python overhead and run on the decode thread.
# In the server, beside its HTTP thread on 2 cores, a 17-token prompt of the tiny base (1M
# parameters) took 3.4 ms on one thread and 4.3 ms on two; 4 such prompts alone, 3.6 and
# 4.9 ms. One 17-token prompt of smollm2-135m (2.3e9) took 86 ms on two and 114 ms on one.
PREFILL_WORK = 2e8

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
        self._keeps_logits = "logits_to_keep" in inspect.signature(self._base.forward).parameters
        # Parameters x prompt tokens from which a prompt pass uses every thread (see PREFILL_WORK).
        self._parameters = sum(p.numel() for p in self._base.parameters())
        # EOS, and ChatML's end of turn where the vocabulary has it (SmolLM2, the tiny bases).
        end_of_turn = self.tokenizer.get_vocab().get("<|im_end|>")
        self.eos = {self.tokenizer.eos_token_id, end_of_turn} - {None}
        self.aliases: dict[str, str] = {}  # public name -> adapter name ("persona" -> "v3")
        self.previous_persona: list[str] = []
        self.loaded_paths: dict[str, str] = {}
        self.lock = threading.Lock()  # guards aliases and loaded_paths; held for microseconds
        self.unloaded = False
        self.stats = {
            "generated_tokens": 0,
            "requests": 0,
            "steps": 0,
            "rows": 0,
            "prefills": 0,
            "prefill_rows": 0,
        }
        # Worker state: requests waiting, jobs to run between steps, the running batch.
        self._wake = threading.Condition()
        self._waiting: deque[GenerationRequest] = deque()
        self._jobs: list[tuple[Callable[[], None], threading.Event, list]] = []
        self._closed = False
        self._batch = Batch()
        self._rows_lora = RowAdapters()  # the adapters, and each row's in the pass running now
        self._loading = threading.Lock()  # one adapter load at a time
        # The loader keeps the server's CPU priority: whatever it runs with the GIL held, the
        # worker waits for, and a niced thread (CFS weight 110 against 1,024) can be
        # preempted mid-way. Without the gc.freeze below, a niced loader's collections made
        # decode steps of 44 to 53 ms (steady 14 to 18 ms). With the freeze, the niceness is
        # within the noise: the slowest step over 5 rounds was 12 to 31 ms niced, 13 to 18 ms
        # at the server's priority, 10 to 23 ms with no loads (bench/RESULTS.md, reload
        # stalls). A load of a tiny-base adapter takes about 3 ms.
        self._loader = ThreadPoolExecutor(1, thread_name_prefix="personaforge-loader")
        self._prefill_threads = torch.get_num_threads()
        keep_out_of_gc()
        self._worker = threading.Thread(target=self._run, name="personaforge-engine", daemon=True)
        self._worker.start()

    # -- adapters ---------------------------------------------------------------------------------------

    def adapter_folder(self, version: str | None = None, model_path: str | None = None) -> Path:
        """A version name or a path, which must name a version folder inside the adapters folder."""
        return adapter_folder(self.paths, version, model_path)

    def load_adapter(self, folder: Path) -> str:
        """Read, check and add `folder` on the loader thread, beside generation."""
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
            self._rows_lora.add(self._base, name, prepared.pairs)
            gc.freeze()  # the adapter lives as long as the server: see keep_out_of_gc
            with self.lock:
                self.loaded_paths[name] = str(prepared.folder)
        return name

    def prepare(self, folder: Path) -> PreparedAdapter:
        """The adapter's matrices, checked against this base; ApiError (400) if unusable."""
        return prepare_adapter(folder, self._linear_shapes, self.base_name, self.base_fingerprint)

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
        return len(self._batch)

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
        import torch

        with self._wake:
            self._closed = True
            self._wake.notify()
        self._worker.join(timeout=10)
        self._loader.shutdown(wait=False, cancel_futures=True)
        # New threads start with the count set last in the process: give back the default.
        torch.set_num_threads(self._prefill_threads)
        gc.unfreeze()  # a process that starts another engine (the tests) can free this one

    # -- the worker -----------------------------------------------------------------------------------------

    def _in_worker(self, job: Callable[[], None]) -> None:
        """Run `job` on the worker thread between two steps and wait for it (the tests' way to
        run a forward pass of their own beside the engine's)."""
        done, outcome = threading.Event(), []
        with self._wake:
            if self._closed:
                raise Unavailable("the server is stopping")
            self._jobs.append((job, done, outcome))
            self._wake.notify()
        if not done.wait(JOB_TIMEOUT_S):
            raise Unavailable("the engine's worker did not run the job in time")
        if outcome:
            raise outcome[0]

    def _run(self) -> None:
        import torch

        torch.set_num_threads(DECODE_THREADS)  # this thread's; _prefill raises it for prompts
        while True:
            with self._wake:
                while not (self._closed or self._waiting or self._jobs or self._batch):
                    self._wake.wait()
                if self._closed:
                    break
                jobs, self._jobs = self._jobs, []
                room = self.max_batch - len(self._batch)
                admitted = [self._waiting.popleft() for _ in range(min(room, len(self._waiting)))]
            for job, done, outcome in jobs:
                try:
                    job()
                except BaseException as exc:  # handed to the waiting caller
                    outcome.append(exc)
                done.set()
            if admitted:
                self._admit(admitted)
            if self._batch:
                self._step()
        stopping = Unavailable("the server is stopping")
        for row in self._batch.rows:
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

    def _forward(
        self, input_ids, mask, positions, cache, adapters: list[str | None], last_only=False
    ):
        """One forward pass; each row under its own adapter (`BASE_ROW`: none).

        `last_only`: logits of the last position only, all a prompt needs. The output
        layer on every prompt token was 15% of a 17-token prefill of smollm2-135m
        (a 49,152-token vocabulary; 114 ms against 136 ms on one thread).
        """
        kwargs = {
            "input_ids": input_ids,
            "attention_mask": mask,
            "position_ids": positions,
            "past_key_values": cache,
            "use_cache": True,
        }
        if last_only and self._keeps_logits:
            kwargs["logits_to_keep"] = 1
        self._rows_lora.set([a or BASE_ROW for a in adapters])  # read by serve/lora_rows.py
        return self._base(**kwargs)

    def _admit(self, requests: list[GenerationRequest]) -> None:
        """Start the requests admitted this turn: their prompts run in one forward pass.

        Requests that arrive together (clients sending at once, a batch that ended at
        once) would otherwise each run a forward pass of their own before the next step.
        """
        rows = [row for row in map(self._new_row, requests) if row is not None]
        try:
            if rows:
                self._prefill(rows)
        except Exception as exc:  # past the pass (picking, joining): these requests fail alone
            log.exception("starting %d requests failed", len(rows))
            joined = {id(row) for row in self._batch.rows}
            for row in rows:
                if id(row) not in joined:
                    self._fail(row.request, exc)

    def _new_row(self, request: GenerationRequest) -> Row | None:
        """A row for an admitted request; None if it left or its model is gone (it is told)."""
        import torch

        if request.cancelled:
            request.pieces.put(None)
            return None
        try:
            adapter = self.resolve(request.model)
        except ApiError as exc:  # unloaded or renamed between submit and admission
            self._fail(request, exc)
            return None
        request.adapter_used = adapter or "base"
        generator = None
        if request.seed is not None:
            generator = torch.Generator().manual_seed(request.seed)
        return Row(
            request, adapter, len(request.prompt_ids), Detokenizer(self.tokenizer), generator
        )

    def _prefill(self, rows: list[Row]) -> None:
        """The rows' prompts, left-padded to one width, in one pass; their first tokens; join."""
        import torch

        ids, mask, positions = prompt_inputs(rows)
        padded = len(rows) > 1  # a prompt alone has no padding and runs as it always did
        try:
            if self._parameters * ids.numel() >= PREFILL_WORK:
                torch.set_num_threads(self._prefill_threads)
            with torch.no_grad():
                out = self._forward(
                    ids,
                    mask if padded else None,
                    positions if padded else None,
                    None,
                    [row.adapter for row in rows],
                    last_only=True,
                )
        except Exception as exc:
            if len(rows) == 1:  # this request's own failure; the batch goes on
                log.exception("request for %s failed", rows[0].request.model)
                self._fail(rows[0].request, exc)
                return
            # Tell whose prompt failed: each runs again alone.
            log.warning("a prefill of %d prompts failed; running them one at a time", len(rows))
            for row in rows:
                self._prefill([row])
            return
        finally:
            torch.set_num_threads(DECODE_THREADS)
        self.stats["prefills"] += 1
        self.stats["prefill_rows"] += len(rows)
        picks = pick_next(rows, out.logits[:, -1])
        keep = [
            index
            for index, (row, token) in enumerate(zip(rows, picks, strict=True))
            if not self._advance(row, token)
        ]
        if not keep:
            return
        cache = out.past_key_values
        if len(keep) < len(rows):
            keep_cache_rows(cache, keep)
        self._batch.join([rows[i] for i in keep], cache, mask[keep])

    def _step(self) -> None:
        """Every row in the batch moves on by one token, in one forward pass."""
        import torch

        rows = self._batch.rows
        try:
            ids, mask, positions = self._batch.step_inputs()
            with torch.no_grad():
                out = self._forward(
                    ids, mask, positions, self._batch.cache, [row.adapter for row in rows]
                )
        except Exception as exc:  # the batch's state is unknown now: fail its rows, start afresh
            log.exception("a batch of %d failed", len(rows))
            for row in rows:
                self._fail(row.request, exc)
            self._batch.clear()
            return
        self.stats["steps"] += 1
        self.stats["rows"] += len(rows)
        keep = []
        picks = pick_next(rows, out.logits[:, -1])
        for index, (row, token) in enumerate(zip(rows, picks, strict=True)):
            row.position += 1
            if row.request.cancelled:
                row.request.pieces.put(None)
            elif not self._advance(row, token):
                keep.append(index)
        if len(keep) < len(rows):
            self._batch.keep(keep)

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
