"""The OpenAI-compatible HTTP API over the local engine.

Endpoints: POST /v1/chat/completions (plain and streaming SSE), POST
/v1/completions, GET /v1/models, GET /health, GET /metrics (Prometheus text),
and the admin endpoints POST /admin/reload-model, /admin/rollback,
/admin/unload, /admin/load, which need the bearer token from
`$PERSONAFORGE_HOME/serve/admin-token` (created at first start, mode 0600).
An optional API key guards /v1. Request bodies are validated (400 with a
message, never a traceback) and capped in size.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from personaforge.errors import UserError
from personaforge.paths import Paths
from personaforge.serve.engine import GenerationRequest, LocalEngine, QueueFull

MAX_BODY_BYTES = 1 << 20  # 1 MiB: a long chat, not a file upload
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class ChatMessage(BaseModel):
    role: str = Field(pattern="^(system|user|assistant)$")
    content: str


class Sampling(BaseModel):
    """Fields both OpenAI request shapes share."""

    model: str
    max_tokens: int = Field(128, ge=1, le=4096)
    temperature: float = Field(0.0, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False


class ChatRequest(Sampling):
    messages: list[ChatMessage] = Field(min_length=1)


class CompletionRequest(Sampling):
    prompt: str


class ReloadRequest(BaseModel):
    version: str | None = None
    model_path: str | None = None


def admin_token(paths: Paths) -> str:
    """The admin bearer token, created on first start, readable only by the user."""
    path = paths.home / "serve" / "admin-token"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        token = secrets.token_urlsafe(32)
        path.touch(mode=0o600)
        path.write_text(token + "\n")
    return path.read_text().strip()


class Metrics:
    """Prometheus text exposition, by hand: counters and one latency histogram."""

    def __init__(self):
        self.requests: dict[tuple[str, int], int] = {}
        self.latency_counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self.latency_sum = 0.0

    def observe(self, path: str, status: int, seconds: float) -> None:
        self.requests[(path, status)] = self.requests.get((path, status), 0) + 1
        index = next(
            (i for i, bound in enumerate(LATENCY_BUCKETS) if seconds <= bound), len(LATENCY_BUCKETS)
        )
        self.latency_counts[index] += 1
        self.latency_sum += seconds

    def render(self, engine: LocalEngine) -> str:
        lines = ["# TYPE personaforge_requests_total counter"]
        lines += [
            f'personaforge_requests_total{{path="{p}",status="{s}"}} {n}'
            for (p, s), n in self.requests.items()
        ]
        lines += [
            "# TYPE personaforge_generated_tokens_total counter",
            f"personaforge_generated_tokens_total {engine.stats['generated_tokens']}",
            "# TYPE personaforge_request_seconds histogram",
        ]
        cumulative = 0
        for bound, count in zip([*LATENCY_BUCKETS, "+Inf"], self.latency_counts, strict=True):
            cumulative += count
            lines.append(f'personaforge_request_seconds_bucket{{le="{bound}"}} {cumulative}')
        lines += [
            f"personaforge_request_seconds_sum {self.latency_sum:.6f}",
            f"personaforge_request_seconds_count {cumulative}",
            "# TYPE personaforge_loaded_adapters gauge",
            f"personaforge_loaded_adapters {len(engine.loaded_paths)}",
            "# TYPE personaforge_queue_depth gauge",
            f"personaforge_queue_depth {engine.queue.qsize()}",
        ]
        return "\n".join(lines) + "\n"


def error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind}}, status_code=status)


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int):
        super().__init__(413, f"request body over {limit} bytes")


class BodyLimit:
    """Counts the bytes of every request body as it arrives, so a chunked upload (no
    Content-Length for the guard to check) is cut off at the limit too."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        received = 0

        async def counting_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)  # FastAPI passes HTTPExceptions through
            return message

        await self.app(scope, counting_receive, send)


def install_guard(
    app: FastAPI, token: str, api_key: str | None, metrics: Metrics | None = None
) -> None:
    """Size limit, admin token, optional API key, request metrics, and 4xx for bad input: both engines."""
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        started = time.perf_counter()
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
            response = error(413, f"request body over {MAX_BODY_BYTES} bytes")
        elif (
            request.url.path.startswith("/admin")
            and request.headers.get("authorization") != f"Bearer {token}"
        ):
            response = error(
                401,
                "admin endpoints need 'Authorization: Bearer <token>' (see serve/admin-token)",
                "authentication_error",
            )
        elif (
            api_key
            and request.url.path.startswith("/v1")
            and request.headers.get("authorization") != f"Bearer {api_key}"
        ):
            response = error(401, "invalid or missing API key", "authentication_error")
        else:
            response = await call_next(request)
        if metrics is not None:
            metrics.observe(request.url.path, response.status_code, time.perf_counter() - started)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {"msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", []) if p != "body")
        return error(400, f"{where}: {first['msg']}" if where else first["msg"])

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        # Unknown routes, wrong methods and oversized bodies: the OpenAI error shape too.
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError):
        return error(
            404 if "unknown model" in str(exc) or "no adapter" in str(exc) else 400, str(exc)
        )


def create_app(
    engine: LocalEngine, paths: Paths, api_key: str | None = None, timeout_s: float = 120.0
) -> FastAPI:
    app = FastAPI(title="personaforge", docs_url=None, redoc_url=None)
    token = admin_token(paths)
    metrics = Metrics()

    install_guard(app, token, api_key, metrics)

    def chat_prompt(body: ChatRequest) -> list[int]:
        messages = [m.model_dump() for m in body.messages]
        return engine.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=True, return_dict=False
        )

    def make_request(body, prompt_ids: list[int]) -> GenerationRequest:
        stop = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
        return GenerationRequest(
            body.model,
            prompt_ids,
            body.max_tokens,
            body.temperature,
            body.top_p,
            stop,
            body.seed,
            timeout_s,
        )

    async def run(request: GenerationRequest):
        try:
            engine.submit(request)
        except QueueFull:
            return None, error(429, "the server is busy; retry shortly", "rate_limit_error")
        return request, None

    async def collect(request: GenerationRequest) -> str:
        return await asyncio.to_thread(lambda: "".join(engine.stream(request)))

    def usage(request: GenerationRequest) -> dict[str, int]:
        return {
            "prompt_tokens": len(request.prompt_ids),
            "completion_tokens": request.completion_tokens,
            "total_tokens": len(request.prompt_ids) + request.completion_tokens,
        }

    async def sse(request: GenerationRequest, shape):
        iterator = engine.stream(request)
        while True:
            piece = await asyncio.to_thread(next, iterator, None)
            if piece is None:
                break
            yield f"data: {json.dumps(shape(piece, None))}\n\n"
        yield f"data: {json.dumps(shape('', request.finish_reason))}\n\n"
        yield "data: [DONE]\n\n"

    async def respond(body, prompt_ids: list[int], kind: str):
        """Queue, then stream (SSE) or wait; `kind` is "chat" or "text" (the two OpenAI shapes)."""
        if engine.unloaded:
            return error(
                503,
                "the model is unloaded (a training has the accelerator); retry later",
                "unavailable",
            )
        request, refused = await run(make_request(body, prompt_ids))
        if refused:
            return refused
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

            return StreamingResponse(sse(request, chunk), media_type="text/event-stream")
        try:
            text = await collect(request)
        except TimeoutError:
            return error(504, "generation timed out", "timeout")
        return {
            **head,
            "object": obj,
            "choices": [choice(text, request.finish_reason, False)],
            "usage": usage(request),
        }

    @app.post("/v1/chat/completions")
    async def chat(body: ChatRequest):
        return await respond(body, chat_prompt(body), "chat")

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest):
        return await respond(
            body, engine.tokenizer(body.prompt, add_special_tokens=False)["input_ids"], "text"
        )

    @app.get("/v1/models")
    async def models():
        return {
            "object": "list",
            "data": [
                {"id": name, "object": "model", "owned_by": "personaforge"}
                for name in engine.models()
            ],
        }

    @app.get("/health")
    async def health():
        return {
            "status": "unloaded" if engine.unloaded else "ok",
            "models": engine.models(),
            "persona": engine.aliases.get("persona"),
            "queue": engine.queue.qsize(),
        }

    @app.get("/metrics")
    async def prometheus():
        return PlainTextResponse(metrics.render(engine))

    @app.post("/admin/reload-model")
    async def reload_model(body: ReloadRequest):
        adapter = await asyncio.to_thread(engine.reload, body.version, body.model_path)
        return {"persona": adapter, "loaded": sorted(engine.loaded_paths)}

    @app.post("/admin/rollback")
    async def rollback():
        return {"persona": engine.rollback()}

    @app.post("/admin/unload")
    async def unload():
        engine.unload()
        return {"status": "unloaded"}

    @app.post("/admin/load")
    async def load():
        engine.load()
        return {"status": "ok"}

    return app


def token_path(paths: Paths) -> Path:
    return paths.home / "serve" / "admin-token"
