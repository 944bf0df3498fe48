"""The OpenAI-compatible HTTP API over the local engine.

Endpoints: POST /v1/chat/completions (plain and streaming SSE), POST
/v1/completions, GET /v1/models, GET /health, GET /metrics (Prometheus text),
and the admin endpoints POST /admin/reload-model, /admin/rollback,
/admin/unload, /admin/load, which need the bearer token from
`$PERSONAFORGE_HOME/serve/admin-token` (created at first start, mode 0600).
An optional API key guards /v1. Limits, auth, errors, metrics and the access
log are guard.py's, shared with the vLLM engine; so are the reload and rollback
routes (`add_swap_routes`, here). Every status an endpoint can
answer is declared in /openapi.json, which tests/reliability fuzzes.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Annotated, Any, Literal, Protocol

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from personaforge.config import DecodeSettings
from personaforge.decoding import Penalties
from personaforge.paths import Paths
from personaforge.serve.engine import LocalEngine
from personaforge.serve.generation import Channel, GenerationRequest
from personaforge.serve.guard import (
    AccessLog,
    Metrics,
    admin_auth,
    admin_token,
    api_key_auth,
    documented,
    error,
    install,
    note,
    token_path,
)
from personaforge.serve.retrieval import Retriever

__all__ = ["admin_token", "create_app", "resolve_grounding", "token_path"]

MAX_TOKENS = 4096  # per request; the model's context is the other bound
MAX_STOPS = 4  # as OpenAI


# -- requests -----------------------------------------------------------------------------------------------

StopString = Annotated[str, Field(max_length=256)]


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class Sampling(BaseModel):
    """Fields both OpenAI request shapes share."""

    model: str = Field(max_length=512)
    max_tokens: int | None = Field(
        128,
        ge=1,
        le=MAX_TOKENS,
        description="Null means 128; generation also stops at the context.",
    )
    # Left out (null): the server's defaults, settings `decode` (docs/serve.md, "Decoding").
    temperature: float | None = Field(None, ge=0, le=2, allow_inf_nan=False)
    top_p: float | None = Field(None, gt=0, le=1, allow_inf_nan=False)
    frequency_penalty: float | None = Field(None, ge=-2, le=2, allow_inf_nan=False)
    presence_penalty: float | None = Field(None, ge=-2, le=2, allow_inf_nan=False)
    # Not in OpenAI's API; vLLM and llama.cpp's servers take it under this name.
    repetition_penalty: float | None = Field(None, ge=1, le=2, allow_inf_nan=False)
    stop: StopString | Annotated[list[StopString], Field(max_length=MAX_STOPS)] | None = None
    # ±2**53: every JSON parser (JavaScript's included) holds these integers exactly.
    seed: int | None = Field(None, ge=-(1 << 53), le=1 << 53)
    stream: bool = False


class ChatRequest(Sampling):
    messages: list[ChatMessage] = Field(min_length=1)
    retrieval: bool | None = Field(
        None,
        description=(
            "Ground the answer in the person's memories and profile (true) or not (false). "
            "Omitted: on for every adapter model (`persona`, `persona:vN`, --adapter names) "
            "when the server has a memory store, off for `persona-raw` and the base."
        ),
    )


class CompletionRequest(Sampling):
    prompt: str


# A path's syntax: parts that are not "." or "..", no backslash, no control characters. Paths
# that pass are then checked against the folder (serve/policy.py): outside it is 403.
_PART = r"(?:[^./\\\x00-\x1f\x7f-\x9f]|\.[^./\\\x00-\x1f\x7f-\x9f]|\.\.[^/\\\x00-\x1f\x7f-\x9f])[^/\\\x00-\x1f\x7f-\x9f]*"
PATH_PATTERN = rf"^/?{_PART}(?:/{_PART})*/?$"
VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class ReloadRequest(BaseModel):
    """A version name or a path to a version folder inside the adapters folder; one is required."""

    model_config = ConfigDict(
        json_schema_extra={"anyOf": [{"required": ["version"]}, {"required": ["model_path"]}]}
    )

    version: str = Field(None, max_length=255, pattern=VERSION_PATTERN, examples=["v4"])
    model_path: str = Field(None, max_length=4096, pattern=PATH_PATTERN, examples=["v4"])

    @model_validator(mode="after")
    def one_given(self) -> ReloadRequest:
        if self.version is None and self.model_path is None:
            raise ValueError("give a version or a model_path")
        return self


# -- responses (documented, so schemathesis checks what comes back) -------------------------------------------------


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AssistantMessage(BaseModel):
    role: Literal["assistant"]
    content: str


class ChatChoice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: Literal["stop", "length"]


class SourceMemory(BaseModel):
    id: str
    date: str
    title: str
    source: str


class SourceFact(BaseModel):
    id: str
    label: str
    value: str


class Sources(BaseModel):
    """What a grounded answer was given (also in the X-Personaforge-Sources header, as JSON)."""

    retrieval: bool
    memories: list[SourceMemory] = []
    facts: list[SourceFact] = []


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage
    personaforge: Sources | None = None  # an extra field: OpenAI clients keep it, or ignore it


class TextChoice(BaseModel):
    index: int
    text: str
    finish_reason: Literal["stop", "length"]


class TextCompletion(BaseModel):
    id: str
    object: Literal["text_completion"]
    created: int
    model: str
    choices: list[TextChoice]
    usage: Usage


class ModelCard(BaseModel):
    id: str
    object: Literal["model"]
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[ModelCard]


class Health(BaseModel):
    status: Literal["ok", "unloaded"]
    models: list[str]
    persona: str | None
    queue: int
    batch: int


class Persona(BaseModel):
    persona: str
    loaded: list[str] = []


class EngineStatus(BaseModel):
    status: Literal["ok", "unloaded"]


# -- grounding ---------------------------------------------------------------------------------------

RAW = "-raw"  # `persona-raw`: the persona without retrieval
SOURCES_HEADER = "X-Personaforge-Sources"


def resolve_grounding(
    model: str, asked: bool | None, base: str, models: list[str]
) -> tuple[str, bool]:
    """(the engine's model name, whether to ground the answer).

    Every adapter model (`persona`, `persona:vN`, names given with --adapter) is the person,
    so it is grounded unless the request says `retrieval: false`; the same name with `-raw`
    (`persona-raw`) is that adapter without retrieval; the base is grounded only when a
    request asks with `retrieval: true`.
    """
    if model not in models and model.endswith(RAW) and model[: -len(RAW)] in models:
        return model[: -len(RAW)], bool(asked)
    return model, (model != base and model in models) if asked is None else asked


def source_header(sources: Sources | None) -> dict[str, str]:
    """The sources as one ASCII header (JSON with \\u escapes), so streams carry them too."""
    if sources is None:
        return {}
    return {SOURCES_HEADER: json.dumps(sources.model_dump(), ensure_ascii=True)}


# Errors each kind of route can answer (guard.STATUS_MEANING says what they mean).
GENERATION_ERRORS = documented(400, 401, 404, 413, 429, 500, 503, 504)
ADMIN_ERRORS = documented(400, 401, 403, 404, 413, 500)  # reload-model
ROLLBACK_ERRORS = documented(401, 409, 413, 500)
SWITCH_ERRORS = documented(401, 413, 500)  # unload, load
READ_ERRORS = documented(401, 500)
STREAM = {200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}}
PROMETHEUS = {200: {"content": {"text/plain": {"schema": {"type": "string"}}}}}
PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def sampling(body: Sampling, defaults: DecodeSettings) -> dict[str, Any]:
    """The request's temperature, top-p and penalties; each one it leaves out is the server's."""

    def given(name: str) -> Any:
        value = getattr(body, name)
        return getattr(defaults, name) if value is None else value

    return {
        "temperature": given("temperature"),
        "top_p": given("top_p"),
        "penalties": Penalties(
            given("repetition_penalty"),
            given("frequency_penalty"),
            given("presence_penalty"),
            defaults.repeat_last_n,
            defaults.no_repeat_ngram_size,
        ),
    }


class Swappable(Protocol):
    """What the swap routes need from an engine (LocalEngine, vllm.VllmBridge)."""

    def reload(self, version: str | None = None, model_path: str | None = None) -> str: ...
    def rollback(self) -> str: ...


def add_swap_routes(
    app: FastAPI, engine: Swappable, admin: list[Any], loaded: Callable[[], Iterable[str]]
) -> None:
    """POST /admin/reload-model and /admin/rollback, the same for both engines.

    Each answers the version `persona` now shows and the names of the loaded versions
    (`loaded()`); `admin` is the dependency that checks the admin token.
    """

    @app.post(
        "/admin/reload-model", response_model=Persona, responses=ADMIN_ERRORS, dependencies=admin
    )
    async def reload_model(body: ReloadRequest, raw: Request):
        note(raw, model=body.version or body.model_path)
        # In a thread: reading and checking the adapter takes a while and must not hold the loop.
        adapter = await asyncio.to_thread(engine.reload, body.version, body.model_path)
        return {"persona": adapter, "loaded": sorted(loaded())}

    @app.post(
        "/admin/rollback", response_model=Persona, responses=ROLLBACK_ERRORS, dependencies=admin
    )
    async def rollback():
        return {"persona": engine.rollback(), "loaded": sorted(loaded())}


def create_app(
    engine: LocalEngine,
    paths: Paths,
    api_key: str | None = None,
    timeout_s: float = 120.0,
    access_log: AccessLog | None = None,
    decoding: DecodeSettings | None = None,
    retriever: Retriever | None = None,
    persona_prompt: str = "",
) -> FastAPI:
    """The API over `engine`; `decoding` (default: settings `decode`'s defaults) fills what a
    request leaves out; with a `retriever`, `persona` answers are grounded (retrieval.py).

    persona_prompt: the system prompt a grounded conversation gets when the client sent none
    (the one the adapters were trained with, dataset.persona_prompt).
    """
    app = FastAPI(title="personaforge", docs_url=None, redoc_url=None)
    defaults = decoding or DecodeSettings()
    metrics = Metrics()
    install(app, metrics, access_log)
    admin = [admin_auth(admin_token(paths))]
    v1 = api_key_auth(api_key)

    def chat_prompt(messages: list[dict[str, str]]) -> list[int]:
        return engine.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=True, return_dict=False
        )

    async def grounding(body: ChatRequest) -> tuple[str, list[dict[str, str]], Sources | None]:
        """(the engine's model name, the messages to answer, what retrieval gave; None: off)."""
        model, wanted = resolve_grounding(
            body.model, body.retrieval, engine.base_name, engine.models()
        )
        messages = [m.model_dump() for m in body.messages]
        if not wanted or retriever is None:
            return model, messages, None
        # In a thread: a search takes milliseconds, which the event loop should not wait out.
        grounded = await asyncio.to_thread(retriever.ground, messages, persona_prompt)
        return model, grounded.messages, Sources(retrieval=True, **grounded.context.sources())

    def usage(request: GenerationRequest) -> dict[str, int]:
        return {
            "prompt_tokens": len(request.prompt_ids),
            "completion_tokens": request.completion_tokens,
            "total_tokens": len(request.prompt_ids) + request.completion_tokens,
        }

    async def sse(request: GenerationRequest, chunk):
        try:
            async for piece in engine.astream(request):
                yield f"data: {json.dumps(chunk(piece, None))}\n\n"
            yield f"data: {json.dumps(chunk('', request.finish_reason))}\n\n"
        except Exception as exc:  # headers are out: end the stream with an error event
            timed_out = isinstance(exc, TimeoutError | asyncio.TimeoutError)
            message = "generation timed out" if timed_out else str(exc)
            yield f"data: {json.dumps({'error': {'message': message, 'type': 'server_error'}})}\n\n"
        finally:
            request.cancelled = True  # a client that left stops its row; a finished one is no-op
        yield "data: [DONE]\n\n"

    async def respond(
        raw: Request,
        body,
        prompt_ids: list[int],
        kind: str,
        model: str | None = None,
        sources: Sources | None = None,
    ):
        """Queue, then stream (SSE) or wait; `kind` is "chat" or "text" (the two OpenAI shapes).

        `model` is the engine's name for the model asked for (`persona-raw` is `persona`).
        """
        request = GenerationRequest(
            model or body.model,
            prompt_ids,
            body.max_tokens or 128,
            stop=[body.stop] if isinstance(body.stop, str) else list(body.stop or []),
            seed=body.seed,
            timeout_s=timeout_s,
            stream=body.stream,
            pieces=Channel(asyncio.get_running_loop()),
            **sampling(body, defaults),
        )
        note(raw, model=body.model, generation=request)
        engine.submit(request)  # ApiError: 404 unknown model, 400 too long, 429 full, 503 unloaded
        prefix, obj = (
            ("chatcmpl", "chat.completion") if kind == "chat" else ("cmpl", "text_completion")
        )
        head = {
            "id": f"{prefix}-{uuid.uuid4().hex[:24]}",
            "created": int(time.time()),
            "model": body.model,
        }

        def choice(text: str, finish: str | None, streaming: bool) -> dict[str, Any]:
            if kind == "text":
                return {"index": 0, "text": text, "finish_reason": finish}
            if streaming:
                delta = {"role": "assistant", "content": text} if text or finish is None else {}
                return {"index": 0, "delta": delta, "finish_reason": finish}
            return {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish,
            }

        if body.stream:
            chunk_object = obj + ".chunk" if kind == "chat" else obj

            def chunk(piece: str, finish: str | None) -> dict[str, Any]:
                return {**head, "object": chunk_object, "choices": [choice(piece, finish, True)]}

            return StreamingResponse(
                sse(request, chunk), media_type="text/event-stream", headers=source_header(sources)
            )
        try:
            text = "".join([piece async for piece in engine.astream(request)])
        except (TimeoutError, asyncio.TimeoutError):  # one type from 3.11, two before
            request.cancelled = True
            return error(504, "generation timed out", "timeout")
        answer = {
            **head,
            "object": obj,
            "choices": [choice(text, request.finish_reason, False)],
            "usage": usage(request),
        }
        if kind == "chat" and sources is not None:
            answer["personaforge"] = sources.model_dump()
        return JSONResponse(answer, headers=source_header(sources))

    @app.post(
        "/v1/chat/completions",
        response_model=ChatCompletion,
        responses={**STREAM, **GENERATION_ERRORS},
        dependencies=v1,
    )
    async def chat(body: ChatRequest, raw: Request):
        model, messages, sources = await grounding(body)
        return await respond(raw, body, chat_prompt(messages), "chat", model, sources)

    @app.post(
        "/v1/completions",
        response_model=TextCompletion,
        responses={**STREAM, **GENERATION_ERRORS},
        dependencies=v1,
    )
    async def completions(body: CompletionRequest, raw: Request):
        ids = engine.tokenizer(body.prompt, add_special_tokens=False)["input_ids"]
        return await respond(raw, body, ids, "text")

    @app.get("/v1/models", response_model=ModelList, responses=READ_ERRORS, dependencies=v1)
    async def models():
        names = engine.models()
        if retriever is not None:  # each adapter also without retrieval
            names += [name + RAW for name in names if name != engine.base_name]
        return {
            "object": "list",
            "data": [{"id": name, "object": "model", "owned_by": "personaforge"} for name in names],
        }

    @app.get("/health", response_model=Health, responses=documented(500))
    async def health():
        return {
            "status": "unloaded" if engine.unloaded else "ok",
            "models": engine.models(),
            "persona": engine.aliases.get("persona"),
            "queue": engine.queue_depth,
            "batch": engine.batch_size,
        }

    @app.get(
        "/metrics", response_class=PlainTextResponse, responses={**PROMETHEUS, **documented(500)}
    )
    async def prometheus():
        stats = engine.stats
        gauges = {
            "personaforge_generated_tokens_total": ("counter", stats["generated_tokens"]),
            "personaforge_decode_steps_total": ("counter", stats["steps"]),
            "personaforge_decode_rows_total": ("counter", stats["rows"]),
            "personaforge_prefills_total": ("counter", stats["prefills"]),
            "personaforge_prefill_rows_total": ("counter", stats["prefill_rows"]),
            "personaforge_loaded_adapters": ("gauge", len(engine.loaded_paths)),
            "personaforge_queue_depth": ("gauge", engine.queue_depth),
            "personaforge_batch_size": ("gauge", engine.batch_size),
        }
        return PlainTextResponse(metrics.render(gauges), media_type=PROMETHEUS_TYPE)

    add_swap_routes(app, engine, admin, lambda: engine.loaded_paths)

    @app.post(
        "/admin/unload", response_model=EngineStatus, responses=ADMIN_ERRORS, dependencies=admin
    )
    async def unload():
        engine.unload()
        return {"status": "unloaded"}

    @app.post(
        "/admin/load", response_model=EngineStatus, responses=ADMIN_ERRORS, dependencies=admin
    )
    async def load():
        engine.load()
        return {"status": "ok"}

    return app
