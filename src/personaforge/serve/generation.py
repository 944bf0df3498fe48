"""A generation request and the way its text comes back, and a sequence in the running batch.

The app builds a `GenerationRequest` and reads its `pieces` (a `Channel`); the
engine (engine.py) turns it into a `Row` of its batch and fills in what it did.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
from dataclasses import dataclass, field
from typing import Any

from personaforge.decoding import penalize_rows, pick_tokens
from personaforge.serve.decode import Detokenizer, Penalties, pick_token


class Channel:
    """Text pieces from the worker thread to one reader: a thread (`get`) or an asyncio task."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None):
        self._loop = loop
        self._queue: Any = asyncio.Queue() if loop is not None else queue.Queue()

    def put(self, item: Any) -> None:
        if self._loop is None:
            self._queue.put(item)
            return
        # A closed event loop (RuntimeError) means the server is stopping: nobody reads.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def get(self, timeout: float) -> Any:
        return self._queue.get(timeout=timeout)

    async def aget(self, timeout: float) -> Any:
        return await asyncio.wait_for(self._queue.get(), timeout)


@dataclass
class GenerationRequest:
    model: str
    prompt_ids: list[int]
    max_tokens: int = 128
    temperature: float = 0.0
    top_p: float = 1.0
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    penalties: Penalties = field(default_factory=Penalties)  # none: the app fills `decode`'s
    timeout_s: float = 120.0
    stream: bool = True  # False: the whole text arrives as one piece at the end
    pieces: Channel = field(default_factory=Channel)
    # Filled by the engine.
    adapter_used: str | None = None  # the adapter that answered; "base" for the bare base
    finish_reason: str = "stop"
    completion_tokens: int = 0
    deadline: float = 0.0
    cancelled: bool = False  # set by the reader (a client went away); the row is dropped


@dataclass
class Row:
    """One sequence in the running batch."""

    request: GenerationRequest
    adapter: str | None
    position: int  # tokens in the KV cache = the position of the next token fed
    detokenizer: Detokenizer
    generator: Any  # torch.Generator for a seeded request, else None
    next_token: int = 0
    text: str = ""
    emitted: int = 0  # characters of `text` already sent


def pick_next(rows: list[Row], logits) -> list[int]:
    """Each row's next token from `logits` [rows, vocab], under its request's sampling settings.

    The penalties see each reply's own tokens (the detokenizer holds them), never the prompt.
    Rows are picked together (decoding.pick_tokens); a seeded row draws from its own generator.
    """
    requests = [row.request for row in rows]
    replies = [row.detokenizer.ids for row in rows]
    logits = penalize_rows(logits, replies, [request.penalties for request in requests])
    # A seeded row is picked below from its own generator; 0 keeps it out of the shared draw.
    temperatures = [0.0 if row.generator else row.request.temperature for row in rows]
    picks = pick_tokens(logits, temperatures, [request.top_p for request in requests])
    for index, row in enumerate(rows):
        if row.generator is not None:
            request = row.request
            picks[index] = pick_token(
                logits[index], request.temperature, request.top_p, row.generator
            )
    return picks
