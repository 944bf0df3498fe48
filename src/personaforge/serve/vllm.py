"""The vLLM engine: the same API, answered by a vLLM server, for users who outgrow one process.

Start vLLM with LoRA and runtime adapter updates enabled:

    VLLM_ALLOW_RUNTIME_LORA_UPDATING=True vllm serve <base model> --enable-lora \\
        --max-lora-rank 64 --max-loras 8 --port 8000

then `personaforge serve --engine vllm --vllm-url http://127.0.0.1:8000`. This
process keeps the names (`persona`, `persona:vN`, --adapter names), the admin
token and the path rules, and forwards generation to vLLM with the model field
rewritten to the LoRA name it registered there. Reload registers the new
version through POST /v1/load_lora_adapter before switching `persona`, rollback
switches back, and a version no name points to any more is released through
POST /v1/unload_lora_adapter (the previous persona stays for rollback).

vLLM cannot be installed on the machines this was built on; the protocol is
tested against a local stand-in that checks the request shapes vLLM documents.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request  # module level: FastAPI reads handler annotations at runtime
from fastapi.responses import Response, StreamingResponse

from personaforge.config import DecodeSettings
from personaforge.dataset.examples import CONTEXT_TURN
from personaforge.paths import Paths
from personaforge.serve.app import (
    GENERATION_ERRORS,
    RAW,
    Sources,
    add_swap_routes,
    resolve_grounding,
    source_header,
)
from personaforge.serve.engine import PERSONA, point_alias, roll_back_persona
from personaforge.serve.policy import ApiError, NotFound, Unavailable, adapter_folder
from personaforge.serve.retrieval import Retriever


class VllmBridge:
    def __init__(self, url: str, paths: Paths, base_model: str, timeout_s: float = 300.0):
        self.url = url.rstrip("/")
        self.paths = paths
        self.base_model = base_model  # the model id vLLM serves the base under
        self.timeout_s = timeout_s
        self.lock = threading.Lock()
        self.aliases: dict[str, str] = {}  # public name -> version
        self.loaded: set[str] = set()  # versions registered in vLLM
        self.previous: list[str] = []

    # -- talking to vLLM ---------------------------------------------------------------------------------

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except urllib.error.URLError as exc:
            raise Unavailable(f"no vLLM server at {self.url} ({exc.reason})") from None

    def stream(self, path: str, body: dict[str, Any]):
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            yield from response

    @staticmethod
    def lora_name(version: str) -> str:
        return f"{PERSONA}-{version}"

    # -- adapters -------------------------------------------------------------------------------------------

    def folder(self, version: str | None = None, model_path: str | None = None) -> Path:
        """The same confinement as the local engine (serve/policy.py): inside adapters/, or 400."""
        return adapter_folder(self.paths, version, model_path)

    def load(self, version: str) -> None:
        if version in self.loaded:
            return
        status, body = self.post(
            "/v1/load_lora_adapter",
            {"lora_name": self.lora_name(version), "lora_path": str(self.folder(version))},
        )
        if status != 200:
            raise ApiError(f"vLLM refused to load {version}: {body.decode(errors='replace')[:200]}")
        self.loaded.add(version)

    def unload_unused(self) -> None:
        keep = set(self.aliases.values()) | set(self.previous[-1:])
        for version in sorted(self.loaded - keep):
            status, _ = self.post("/v1/unload_lora_adapter", {"lora_name": self.lora_name(version)})
            if status == 200:
                self.loaded.discard(version)

    def set_alias(self, alias: str, version: str) -> None:
        self.load(version)
        with self.lock:
            point_alias(self.aliases, self.previous, alias, version)
        self.unload_unused()

    def reload(self, version: str | None = None, model_path: str | None = None) -> str:
        """Register the named version in vLLM (if new) and point `persona` at it."""
        version = self.folder(version, model_path).name
        self.set_alias(PERSONA, version)
        return version

    def rollback(self) -> str:
        with self.lock:
            persona = roll_back_persona(self.aliases, self.previous)
        self.unload_unused()
        return persona

    def models(self) -> list[str]:
        with self.lock:
            return list(
                dict.fromkeys(
                    [self.base_model, *self.aliases, *(f"{PERSONA}:{v}" for v in self.loaded)]
                )
            )

    def upstream_model(self, model: str) -> str:
        with self.lock:
            if model == self.base_model:
                return model
            if model in self.aliases:
                return self.lora_name(self.aliases[model])
            if model.startswith(PERSONA + ":") and model.split(":", 1)[1] in self.loaded:
                return self.lora_name(model.split(":", 1)[1])
        raise NotFound(f"unknown model '{model}'; see GET /v1/models", "model")


def decode_defaults(decoding: DecodeSettings | None) -> dict[str, Any]:
    """What a forwarded request leaves out, from settings `decode` (vLLM takes every one)."""
    if decoding is None:
        return {}
    names = ("temperature", "top_p", "frequency_penalty", "presence_penalty", "repetition_penalty")
    defaults = {name: getattr(decoding, name) for name in names}
    if decoding.no_repeat_ngram_size:
        defaults["no_repeat_ngram_size"] = decoding.no_repeat_ngram_size
    return defaults


def _plain_chat(messages: Any) -> bool:
    """Messages retrieval can read: a list of {"role", "content": str} (vLLM checks the rest)."""
    return isinstance(messages, list) and all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
        for m in messages
    )


def create_vllm_app(
    bridge: VllmBridge,
    paths: Paths,
    api_key: str | None = None,
    access_log=None,
    decoding: DecodeSettings | None = None,
    retriever: Retriever | None = None,
    persona_prompt: str = "",
) -> FastAPI:
    """The API in front of vLLM; with a `retriever`, chat answers are grounded as the local
    engine's are (the same models, `-raw` names, `retrieval` field and sources)."""
    from personaforge.serve.guard import admin_auth, admin_token, api_key_auth, error, install, note

    app = FastAPI(title="personaforge (vLLM)", docs_url=None, redoc_url=None)
    defaults = decode_defaults(decoding)
    install(app, access_log=access_log)
    admin = [admin_auth(admin_token(paths))]
    v1 = api_key_auth(api_key)

    async def ground(body: dict[str, Any]) -> Sources | None:
        """Rewrite a chat body for grounding (model name, messages); what it was given."""
        asked = body.pop("retrieval", None)  # ours: vLLM never sees it
        model, wanted = resolve_grounding(
            body["model"],
            asked if isinstance(asked, bool) else None,
            bridge.base_model,
            bridge.models(),
        )
        body["model"] = model
        if not wanted or retriever is None or not _plain_chat(body.get("messages")):
            return None
        grounded = await asyncio.to_thread(retriever.ground, body["messages"], persona_prompt)
        # The `context` flag is ours (training reads it); vLLM's API has no such field.
        body["messages"] = [
            {k: v for k, v in m.items() if k != CONTEXT_TURN} for m in grounded.messages
        ]
        return Sources(retrieval=True, **grounded.context.sources())

    async def forward(request: Request, path: str):
        try:
            body = json.loads(await request.body())
        except ValueError:
            return error(400, "the body is not valid JSON")
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            return error(400, "model: field required", param="model")
        note(request, model=body["model"])
        sources = await ground(body) if path == "/v1/chat/completions" else None
        body["model"] = bridge.upstream_model(body["model"])
        for name, value in defaults.items():
            if body.get(name) is None:
                body[name] = value
        headers = source_header(sources)
        if body.get("stream"):
            return StreamingResponse(
                bridge.stream(path, body), media_type="text/event-stream", headers=headers
            )
        status, payload = await asyncio.to_thread(bridge.post, path, body)  # keep the loop free
        if sources is not None and status == 200:
            with contextlib.suppress(ValueError, TypeError):
                payload = json.dumps(
                    {**json.loads(payload), "personaforge": sources.model_dump()}
                ).encode()
        return Response(payload, status_code=status, media_type="application/json", headers=headers)

    @app.post("/v1/chat/completions", responses=GENERATION_ERRORS, dependencies=v1)
    async def chat(request: Request):
        return await forward(request, "/v1/chat/completions")

    @app.post("/v1/completions", responses=GENERATION_ERRORS, dependencies=v1)
    async def completions(request: Request):
        return await forward(request, "/v1/completions")

    @app.get("/v1/models", dependencies=v1)
    async def models():
        names = bridge.models()
        if retriever is not None:  # each adapter also without retrieval
            names += [name + RAW for name in names if name != bridge.base_model]
        return {
            "object": "list",
            "data": [{"id": n, "object": "model", "owned_by": "personaforge"} for n in names],
        }

    @app.get("/health")
    async def health():
        return {
            "status": "ok",
            "engine": "vllm",
            "upstream": bridge.url,
            "persona": bridge.aliases.get(PERSONA),
        }

    add_swap_routes(app, bridge, admin, lambda: bridge.loaded)
    return app
