"""What every request to either engine passes through: limits, auth, errors, metrics, access log.

    install(app, paths, token, api_key, metrics, access_log)   # once per FastAPI app

- Bodies over MAX_BODY_BYTES get 413, from Content-Length at once or counted as
  chunks arrive.
- Admin routes need the admin token, /v1 routes the API key when one is set:
  FastAPI dependencies (`admin_auth`, `api_key_auth`), so routing answers first
  (an unknown method gets 405 with `Allow`, not 401) and the OpenAPI document
  declares the bearer schemes.
- Every error, 500s included, uses the OpenAI shape
  `{"error": {"message", "type", "param", "code"}}` and is counted in /metrics.
  A 500 logs its traceback to the server log; a client gets no internals.
- /metrics counts requests by route *template*, method and status, so the
  number of series is bounded however many odd paths clients send.
- The access log has one line per request. Fields a client controls are
  JSON-quoted, so a newline or an escape sequence in them cannot start a
  forged line.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.routing import Match

from personaforge.errors import UserError
from personaforge.paths import Paths
from personaforge.serve.policy import ApiError

MAX_BODY_BYTES = 1 << 20  # 1 MiB: a long chat, not a file upload
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
ACCESS_LOG_MAX_BYTES = 10 << 20  # then serve-access.log moves to .1 (one old file kept)
# Anything else a client sends as a method is counted as OTHER: a label per made-up
# method would let clients grow /metrics without bound.
KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
UNMATCHED = "unmatched"

log = logging.getLogger("personaforge.serve")


# -- the error shape --------------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorBody(BaseModel):
    """OpenAI's error shape; the openai client raises its typed errors from it."""

    error: ErrorDetail


def error(
    status: int,
    message: str,
    kind: str = "invalid_request_error",
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": param, "code": None}}
    return JSONResponse(body, status_code=status, headers=headers)


class Unauthorized(ApiError):
    status = 401
    kind = "authentication_error"


# What each status means, for the OpenAPI document (routes list theirs with `documented`).
STATUS_MEANING = {
    400: "The request is invalid (the message names the field).",
    401: "Missing or wrong bearer token.",
    403: "The path leads outside the adapters folder.",
    404: "Unknown model or adapter version.",
    409: "Nothing to roll back to.",
    413: f"The body is over {MAX_BODY_BYTES} bytes.",
    429: "The queue is full; retry shortly.",
    500: "A server bug; the server log has the traceback.",
    503: "The model is unloaded while a training has the accelerator.",
    504: "Generation timed out.",
}


# Retry-After (seconds) for the statuses a client should retry: a full queue drains in about one
# generation (~1 s on CPU for 64 tokens); an unloaded model waits for a training to finish, which
# takes minutes, so clients poll at 30 s rather than hammering.
RETRY_AFTER_S = {429: 1, 503: 30}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each error status with its meaning and the error schema."""
    return {s: {"model": ErrorBody, "description": STATUS_MEANING[s]} for s in statuses}


# -- auth -------------------------------------------------------------------------------------------------------


def _bearer_check(scheme: str, secret: str, message: str):
    bearer = HTTPBearer(scheme_name=scheme, auto_error=False)

    # A default, not Annotated: this module's annotations are strings, and `bearer` is local.
    async def check(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:  # noqa: B008
        given = credentials.credentials if credentials else ""
        # Bytes, not str: compare_digest refuses non-ASCII text, and a header may carry it.
        if not secrets.compare_digest(given.encode("utf-8", "replace"), secret.encode()):
            raise Unauthorized(message)

    return Depends(check)


def admin_auth(token: str):
    return _bearer_check(
        "AdminToken",
        token,
        "admin endpoints need 'Authorization: Bearer <token>' (see serve/admin-token)",
    )


def api_key_auth(api_key: str | None) -> list:
    """The dependency list for /v1 routes: empty when the server has no API key."""
    return [_bearer_check("ApiKey", api_key, "invalid or missing API key")] if api_key else []


def token_path(paths: Paths) -> Path:
    return paths.home / "serve" / "admin-token"


def admin_token(paths: Paths) -> str:
    """The admin bearer token, created on first start, readable only by the user."""
    path = token_path(paths)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()


# -- metrics ----------------------------------------------------------------------------------------------------


def _label(value: str) -> str:
    """A Prometheus label value: backslash, quote and newline escaped (the text format's rules)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """Prometheus text exposition, by hand: request counts and latency by route template."""

    def __init__(self):
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, int], int] = {}
        self.latency: dict[str, list[int]] = {}  # route -> counts per bucket, +Inf last
        self.latency_sum: dict[str, float] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        method = method if method in KNOWN_METHODS else "OTHER"
        bucket = next(
            (i for i, bound in enumerate(LATENCY_BUCKETS) if seconds <= bound), len(LATENCY_BUCKETS)
        )
        with self._lock:
            key = (route, method, status)
            self.requests[key] = self.requests.get(key, 0) + 1
            counts = self.latency.setdefault(route, [0] * (len(LATENCY_BUCKETS) + 1))
            counts[bucket] += 1
            self.latency_sum[route] = self.latency_sum.get(route, 0.0) + seconds

    def render(self, gauges: dict[str, tuple[str, float]] | None = None) -> str:
        """The exposition text; `gauges` adds engine numbers as name -> (type, value)."""
        with self._lock:
            requests = sorted(self.requests.items())
            latency = {r: list(c) for r, c in sorted(self.latency.items())}
            sums = dict(self.latency_sum)
        lines = ["# TYPE personaforge_requests_total counter"]
        lines += [
            f'personaforge_requests_total{{route="{_label(r)}",method="{m}",status="{s}"}} {n}'
            for (r, m, s), n in requests
        ]
        lines.append("# TYPE personaforge_request_seconds histogram")
        for route, counts in latency.items():
            cumulative, label = 0, _label(route)
            for bound, count in zip([*LATENCY_BUCKETS, "+Inf"], counts, strict=True):
                cumulative += count
                lines.append(
                    f'personaforge_request_seconds_bucket{{route="{label}",le="{bound}"}} {cumulative}'
                )
            lines.append(f'personaforge_request_seconds_sum{{route="{label}"}} {sums[route]:.6f}')
            lines.append(f'personaforge_request_seconds_count{{route="{label}"}} {cumulative}')
        for name, (kind, value) in (gauges or {}).items():
            lines += [f"# TYPE {name} {kind}", f"{name} {value}"]
        return "\n".join(lines) + "\n"


# -- access log ---------------------------------------------------------------------------------------------


class AccessLog:
    """One line per request, appended to a file and/or a stream (the foreground server's stderr).

    `time=… client="…" method="POST" path="/v1/chat/completions" route="/v1/chat/completions"
    status=200 ms=41.2 model="persona" adapter="v3" tokens=16` — every value a client chose is a JSON string
    (control characters, quotes and non-ASCII escaped), so one request is always one line.
    """

    def __init__(self, file: Path | None = None, stream: TextIO | None = None):
        self.file = file
        self.stream = stream
        self._lock = threading.Lock()
        self._handle = None
        if file is not None:
            file.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(file, "a", encoding="ascii")  # noqa: SIM115 - held for the server's life

    def write(self, **fields: Any) -> None:
        stamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        parts = [f"time={stamp}"]
        for key, value in fields.items():
            if value is None:
                continue
            shown = value if isinstance(value, int | float) else json.dumps(str(value))
            parts.append(f"{key}={shown}")
        line = " ".join(parts) + "\n"
        with self._lock:
            if self._handle is not None:
                if self._handle.tell() > ACCESS_LOG_MAX_BYTES:
                    self._rotate()
                self._handle.write(line)
                self._handle.flush()
            if self.stream is not None:
                self.stream.write(line)
                self.stream.flush()

    def _rotate(self) -> None:
        self._handle.close()
        os.replace(self.file, self.file.with_name(self.file.name + ".1"))
        self._handle = open(self.file, "a", encoding="ascii")  # noqa: SIM115

    def close(self) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None


def access_log_path(paths: Paths) -> Path:
    return paths.home / "logs" / "serve-access.log"


@dataclass
class RequestNote:
    """What an endpoint tells the guard about a request, for the access log."""

    model: str | None = None
    generation: Any = None  # a GenerationRequest: its completion_tokens are read at the end


NOTE_KEY = "personaforge.note"


def note(request: Request, model: str | None = None, generation: Any = None) -> None:
    entry = request.scope.get(NOTE_KEY)
    if entry is not None:
        entry.model = model if model is not None else entry.model
        entry.generation = generation if generation is not None else entry.generation


# -- the middleware ---------------------------------------------------------------------------------------------


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int):
        super().__init__(413, f"request body over {limit} bytes")


class Guard:
    """Pure ASGI middleware (no buffering, so streams pass through as they are produced)."""

    def __init__(
        self,
        app,
        routes: Callable[[], list],
        metrics: Metrics | None = None,
        access_log: AccessLog | None = None,
        limit: int = MAX_BODY_BYTES,
    ):
        self.app = app
        self.routes = routes
        self.metrics = metrics
        self.access_log = access_log
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        scope[NOTE_KEY] = entry = RequestNote()
        status = 0
        finished = False
        received = 0

        async def counting_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)  # FastAPI turns HTTPExceptions into responses
            return message

        async def watching_send(message):
            nonlocal status, finished
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                finished = True
            await send(message)

        length = dict(scope.get("headers") or []).get(b"content-length", b"")
        try:
            if length.isdigit() and int(length) > self.limit:
                await error(413, f"request body over {self.limit} bytes")(
                    scope, receive, watching_send
                )
            else:
                await self.app(scope, counting_receive, watching_send)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), self._route(scope))
            if status == 0:  # nothing sent yet: the client still gets a proper answer
                await error(
                    500, "internal server error; the server log has the details", "server_error"
                )(scope, receive, watching_send)
            elif not finished:
                status = 500  # a stream that broke after its headers went out
        finally:
            # 499 (nginx's "client closed request"): cancelled before any answer went out.
            self._record(scope, entry, status or 499, time.perf_counter() - started)

    def _route(self, scope) -> str:
        """The route template that served the request (bounded), not the raw path."""
        route = scope.get("route")
        if route is not None:
            return route.path
        for candidate in self.routes():
            if candidate.matches(scope)[0] != Match.NONE:
                return candidate.path
        return UNMATCHED

    def _record(self, scope, entry: RequestNote, status: int, seconds: float) -> None:
        route = self._route(scope)
        method = scope.get("method", "")
        if self.metrics is not None:
            self.metrics.observe(route, method, status, seconds)
        if self.access_log is not None:
            client = scope.get("client") or ("", 0)
            tokens = getattr(entry.generation, "completion_tokens", None)
            adapter = getattr(entry.generation, "adapter_used", None)
            self.access_log.write(
                client=client[0],
                method=method,
                path=scope.get("path", ""),
                route=route,
                status=status,
                ms=round(seconds * 1000, 1),
                model=entry.model,
                adapter=adapter,
                tokens=tokens,
            )


# -- putting it on an app -------------------------------------------------------------------------------------


def _openapi_without_422(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """FastAPI documents 422 for every body; this API answers 400 (OpenAI's status) instead."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            for item in schema.get("paths", {}).values():
                for operation in item.values():
                    operation.get("responses", {}).pop("422", None)
            for name in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(name, None)
            app.openapi_schema = schema
        return app.openapi_schema

    return openapi


def install(
    app: FastAPI,
    metrics: Metrics | None = None,
    access_log: AccessLog | None = None,
) -> None:
    """The guard middleware, OpenAI-shaped errors and the 400-not-422 document: both engines."""
    app.add_middleware(Guard, routes=lambda: app.routes, metrics=metrics, access_log=access_log)
    app.openapi = _openapi_without_422(app)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {"msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", []) if p != "body")
        message = f"{where}: {first['msg']}" if where else first["msg"]
        return error(400, message, param=where or None)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        # Unknown routes, wrong methods (with their Allow header) and oversized bodies.
        return error(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError):
        status = getattr(exc, "status", 400)
        kind = getattr(exc, "kind", "invalid_request_error")
        retry = RETRY_AFTER_S.get(status)
        headers = {"Retry-After": str(retry)} if retry else None
        return error(status, str(exc), kind, getattr(exc, "param", None), headers)


def server_access_log(paths: Paths, to_stderr: bool = False) -> AccessLog:
    """The access log a server writes: always the home's logs/serve-access.log, stderr on request."""
    return AccessLog(access_log_path(paths), sys.stderr if to_stderr else None)
