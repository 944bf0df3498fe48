"""The vLLM engine's protocol, against a local stand-in that checks the shapes vLLM documents.

vLLM itself cannot be installed here (it needs CUDA and a newer torch). The
stand-in accepts exactly what vLLM's runtime LoRA API and OpenAI server accept
and refuses the rest, so a wrong request shape fails these tests.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

# Module-level imports: FastAPI reads these annotations at runtime (postponed evaluation).


def stand_in(base: str):
    """A FastAPI app speaking vLLM's runtime-LoRA and OpenAI endpoints, recording every call."""
    app = FastAPI()
    app.state.loras, app.state.calls = {}, []

    @app.post("/v1/load_lora_adapter")
    async def load(request: Request):
        body = await request.json()
        app.state.calls.append(("load", body))
        if set(body) != {"lora_name", "lora_path"} or not Path(body["lora_path"]).is_dir():
            return JSONResponse({"error": "bad load request"}, status_code=400)
        if not (Path(body["lora_path"]) / "adapter_config.json").exists():
            return JSONResponse({"error": "not a PEFT adapter"}, status_code=400)
        app.state.loras[body["lora_name"]] = body["lora_path"]
        return JSONResponse(f"Success: LoRA adapter '{body['lora_name']}' added successfully.")

    @app.post("/v1/unload_lora_adapter")
    async def unload(request: Request):
        body = await request.json()
        app.state.calls.append(("unload", body))
        if body.get("lora_name") not in app.state.loras:
            return JSONResponse({"error": "not loaded"}, status_code=404)
        del app.state.loras[body["lora_name"]]
        return JSONResponse("Success")

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        app.state.calls.append(("chat", body))
        if body["model"] != base and body["model"] not in app.state.loras:
            return JSONResponse(
                {"error": {"message": f"model {body['model']} does not exist"}}, status_code=404
            )
        if body.get("stream"):

            def events():
                for piece in ("served by ", body["model"]):
                    chunk = {
                        "choices": [
                            {"index": 0, "delta": {"content": piece}, "finish_reason": None}
                        ]
                    }
                    yield f"data: {json.dumps(chunk)}\n\n"
                yield "data: [DONE]\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")
        return {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": f"served by {body['model']}"},
                    "finish_reason": "stop",
                }
            ],
        }

    return app


def run_app(app) -> tuple[str, object]:
    import socket

    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return f"http://127.0.0.1:{port}", server


NOTE = "What editor do you use? Neovim. Boring, fast, mine."


def write_memory(paths) -> str:
    """One memory of the person's own in the home's store; returns its id."""
    from personaforge.store import MemoryDraft, MemoryStore, memory_id

    with MemoryStore.open(paths.memory_store) as store, store.batch():
        draft = MemoryDraft("editor", NOTE, "2026-10-31", title="Editor")
        store.replace_file("/notes/editor.md", "vault", 1, 1, "h", [draft])
    return memory_id("vault", "editor")


@pytest.fixture
def setup(paths, tmp_path, request):
    from personaforge.registry import Registry
    from personaforge.serve import build_vllm

    if getattr(request, "param", None) == "with memories":
        write_memory(paths)
    for version in ("v1", "v2", "v3"):
        folder = paths.adapters / version
        folder.mkdir(parents=True)
        (folder / "adapter_config.json").write_text("{}")
        card = {
            "version": version,
            "method": "sft",
            "created_at": "2026-01-01T00:00:00",
            "parent": None,
            "base": {"name": "org/base", "location": "org/base", "fingerprint": "f"},
            "dataset": {"id": "d", "manifest_sha256": "h"},
            "metrics": {},
        }
        (folder / "personaforge.json").write_text(json.dumps(card))
    with Registry.open(paths) as registry:
        registry.promote("v1")
    fake = stand_in("org/base")
    fake_url, fake_server = run_app(fake)
    ours_url, ours_server = run_app(build_vllm(paths, fake_url, None, {"work": "v3"}))
    from personaforge.serve.app import admin_token

    yield ours_url, fake, admin_token(paths)
    ours_server.should_exit = fake_server.should_exit = True


def post(url, body, token=None):
    headers = {
        "Content-Type": "application/json",
        **({"Authorization": f"Bearer {token}"} if token else {}),
    }
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_names_map_to_vllm_lora_names_and_the_openai_client_works(setup):
    from openai import OpenAI

    url, fake, _ = setup
    assert fake.state.loras.keys() == {"persona-v1", "persona-v3"}
    client = OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
    assert {"org/base", "persona", "work", "persona:v1", "persona:v3"} <= {
        m.id for m in client.models.list()
    }

    def ask(model):
        return (
            client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "hi"}]
            )
            .choices[0]
            .message.content
        )

    assert ask("persona") == "served by persona-v1"
    assert ask("work") == "served by persona-v3"
    assert ask("org/base") == "served by org/base"
    stream = client.chat.completions.create(
        model="persona", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream) == "served by persona-v1"


def test_reload_loads_then_switches_and_rollback_unloads(setup):
    url, fake, token = setup
    assert post(url + "/admin/reload-model", {"version": "v2"})[0] == 401
    status, body = post(url + "/admin/reload-model", {"version": "v2"}, token)
    assert status == 200 and body["persona"] == "v2"
    assert fake.state.loras.keys() == {
        "persona-v1",
        "persona-v2",
        "persona-v3",
    }  # v1 kept for rollback
    status, body = post(
        url + "/v1/chat/completions",
        {"model": "persona", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert status == 200 and body["choices"][0]["message"]["content"] == "served by persona-v2"
    status, body = post(url + "/admin/rollback", {}, token)
    assert status == 200 and body["persona"] == "v1"
    assert ("unload", {"lora_name": "persona-v2"}) in fake.state.calls
    assert fake.state.loras.keys() == {"persona-v1", "persona-v3"}


def test_vllm_path_rules_and_unknown_models(setup):
    url, _, token = setup
    assert post(url + "/admin/reload-model", {"version": "../v1"}, token)[0] == 400
    assert post(url + "/admin/reload-model", {"version": "v9"}, token)[0] == 404
    status, body = post(url + "/v1/chat/completions", {"model": "nobody", "messages": []})
    assert status == 404 and "unknown model" in body["error"]["message"]


@pytest.mark.parametrize("setup", ["with memories"], indirect=True)
def test_vllm_answers_are_grounded_like_the_local_engines(setup, paths):
    """The same models, `-raw` names, `retrieval` field and sources in front of vLLM."""
    from personaforge.store import memory_id

    url, fake, _ = setup
    question = {"role": "user", "content": "Which editor do you use?"}
    request = urllib.request.Request(
        url + "/v1/chat/completions",
        data=json.dumps({"model": "persona", "messages": [question]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        header = json.loads(response.headers["X-Personaforge-Sources"])
        body = json.loads(response.read())
    sent = fake.state.calls[-1][1]
    assert sent["model"] == "persona-v1" and "retrieval" not in sent
    assert sent["messages"][0]["role"] == "system" and "Neovim" in sent["messages"][0]["content"]
    assert sent["messages"][-1] == question
    assert body["personaforge"] == header
    assert [m["id"] for m in header["memories"]] == [memory_id("vault", "editor")]
    for plain in ({"model": "persona-raw"}, {"model": "persona", "retrieval": False}):
        status, answer = post(url + "/v1/chat/completions", {**plain, "messages": [question]})
        assert status == 200 and "personaforge" not in answer
        sent = fake.state.calls[-1][1]  # plus the decode defaults the request left out
        assert (sent["model"], sent["messages"]) == ("persona-v1", [question])
        assert "retrieval" not in sent and "personaforge" not in sent
    assert (
        post(url + "/v1/chat/completions", {"model": "org/base", "messages": [question]})[0] == 200
    )
    assert fake.state.calls[-1][1]["messages"] == [question]  # the base: not grounded
    with urllib.request.urlopen(url + "/v1/models", timeout=30) as response:
        names = {m["id"] for m in json.loads(response.read())["data"]}
    assert {"persona-raw", "work-raw", "persona:v1-raw"} <= names and "org/base-raw" not in names
