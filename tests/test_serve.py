"""The OpenAI-compatible server on micro adapters: the real openai client, streaming, reload, security."""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest

from personaforge.errors import UserError
from personaforge.registry import Registry
from personaforge.serve import check_bind, start_server
from personaforge.train.run import TrainRequest, train
from tests.helpers import micro_home, micro_settings


@pytest.fixture(scope="module")
def served(tmp_path_factory, micro_models_dir, sample_data):
    """Two micro adapters trained differently, v1 promoted, a server with v2 also named 'other'."""
    paths = micro_home(tmp_path_factory.mktemp("serve"), micro_models_dir, sample_data)
    train(
        paths,
        micro_settings(max_steps=8, learning_rate=3e-2, seed=11),
        TrainRequest(fresh=True, show_progress=False),
    )
    train(
        paths,
        micro_settings(max_steps=8, learning_rate=3e-2, seed=5),
        TrainRequest(fresh=True, show_progress=False),
    )
    with Registry.open(paths) as registry:
        registry.promote("v1")
    handle = start_server(paths, adapters={"other": "v2"})
    yield paths, handle
    handle.stop()


def call(
    url: str, body: bytes | dict | None = None, token: str | None = None, method: str = "POST"
):
    data = (
        body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else None
    )
    headers = {
        "Content-Type": "application/json",
        **({"Authorization": f"Bearer {token}"} if token else {}),
    }
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def oversized_post_status(url: str, chunked: bool = False) -> int:
    """POST of a 2 MiB body, declared in Content-Length or sent in chunks without one.

    The server answers 413 as soon as it knows and may close the socket before the
    body is all sent, so a send error is expected, not a failure.
    """
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    connection.putrequest("POST", parts.path)
    connection.putheader("Content-Type", "application/json")
    if chunked:
        connection.putheader("Transfer-Encoding", "chunked")
    else:
        connection.putheader("Content-Length", str(2 << 20))
    connection.endheaders()
    piece = b"x" * (64 << 10)
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        for _ in range(32 if chunked else 1):
            connection.send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        if chunked:
            connection.send(b"0\r\n\r\n")
    try:
        return connection.getresponse().status
    finally:
        connection.close()


def client(handle):
    from openai import OpenAI

    return OpenAI(base_url=handle.url + "/v1", api_key="unused", max_retries=0)


def ask(handle, model: str, text: str = "What is 3 + 4?", **kwargs) -> str:
    reply = client(handle).chat.completions.create(
        model=model, messages=[{"role": "user", "content": text}], max_tokens=12, **kwargs
    )
    return reply.choices[0].message.content


def test_openai_client_lists_chats_and_streams(served):
    _, handle = served
    names = [m.id for m in client(handle).models.list()]
    assert {"tiny:micro", "persona", "other", "persona:v1", "persona:v2"} <= set(names)
    # The micro base never ends its own turn, so its reply always has 12 tokens to stream; an
    # adapter's greedy reply may be empty (its training split depends on the temp path).
    for model in ("tiny:micro", "persona"):
        plain = ask(handle, model)
        stream = client(handle).chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "What is 3 + 4?"}],
            max_tokens=12,
            stream=True,
        )
        pieces = [chunk.choices[0].delta.content or "" for chunk in stream]
        assert "".join(pieces) == plain
        if model == "tiny:micro":
            assert len([p for p in pieces if p]) > 1
    completion = client(handle).completions.create(model="persona", prompt="The cat", max_tokens=5)
    assert completion.choices[0].text and completion.usage.completion_tokens <= 5


def test_each_adapter_gives_its_own_output(served):
    _, handle = served
    # Sampled with one seed, from adapters trained hard (lr 3e-2): the micro base's replies
    # are flat, and a gently trained adapter moved its logits by up to 2.7 without changing
    # the top token, so gentle adapters cannot be told apart by their text.
    sampled = {"temperature": 1.0, "seed": 3}
    outputs = {model: ask(handle, model, **sampled) for model in ("tiny:micro", "persona", "other")}
    assert len(set(outputs.values())) == 3, outputs
    assert ask(handle, "persona:v2", **sampled) == outputs["other"]
    assert ask(handle, "persona", **sampled) == outputs["persona"]  # the seed makes it repeatable


def test_stop_strings_and_max_tokens(served):
    _, handle = served
    full = ask(handle, "tiny:micro")  # the base always fills max_tokens; see the streaming test
    words = full.split()
    assert len(words) >= 2
    cut = ask(handle, "tiny:micro", stop=[words[1]])
    assert words[1] not in cut and full.startswith(cut.rstrip())


def test_reload_under_load_loses_no_request_and_rollback_works(served):
    _, handle = served
    before = ask(handle, "persona")
    results, failures = [], []

    def worker():
        for _ in range(4):
            try:
                results.append(ask(handle, "persona"))
            except Exception as exc:  # any failed request fails the test
                failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    status, body = call(handle.url + "/admin/reload-model", {"version": "v2"}, handle.token)
    for thread in threads:
        thread.join()
    assert status == 200 and body["persona"] == "v2"
    assert not failures and len(results) == 16 and set(results) <= {before, ask(handle, "other")}
    assert ask(handle, "persona") == ask(handle, "other")
    status, body = call(handle.url + "/admin/rollback", {}, handle.token)
    assert status == 200 and body["persona"] == "v1" and ask(handle, "persona") == before


def test_admin_needs_the_token_and_paths_stay_inside_home(served):
    paths, handle = served
    assert call(handle.url + "/admin/reload-model", {"version": "v2"})[0] == 401
    assert call(handle.url + "/admin/reload-model", {"version": "v2"}, "wrong")[0] == 401
    for body in ({"model_path": "../../../etc"}, {"model_path": "/etc"}, {"version": "../v1"}):
        status, answer = call(handle.url + "/admin/reload-model", body, handle.token)
        assert status == 400, body
    escape = paths.adapters / "escape"
    escape.symlink_to(paths.home.parent, target_is_directory=True)
    status, answer = call(
        handle.url + "/admin/reload-model", {"model_path": "escape"}, handle.token
    )
    assert status == 400 and "inside the adapters folder" in answer["error"]["message"]
    token_file = paths.home / "serve" / "admin-token"
    assert token_file.stat().st_mode & 0o777 == 0o600


def test_bad_requests_get_4xx_with_a_message(served):
    _, handle = served
    url = handle.url + "/v1/chat/completions"
    status, body = call(url, b"{not json")
    assert status == 400 and body["error"]["message"]
    status, body = call(url, {"model": "persona", "messages": []})
    assert status == 400 and "messages" in body["error"]["message"]
    status, body = call(url, {"model": "nobody", "messages": [{"role": "user", "content": "hi"}]})
    assert status == 404 and "unknown model" in body["error"]["message"]
    assert oversized_post_status(url) == 413
    assert oversized_post_status(url, chunked=True) == 413
    status, body = call(handle.url + "/v1/nowhere", {})
    assert status == 404 and body["error"]["message"]
    status, _ = call(handle.url + "/health", method="GET")
    assert status == 200


def test_metrics_are_prometheus_text(served):
    _, handle = served
    ask(handle, "persona")
    with urllib.request.urlopen(handle.url + "/metrics") as response:
        text = response.read().decode()
    assert 'personaforge_requests_total{path="/v1/chat/completions",status="200"}' in text
    assert (
        "personaforge_request_seconds_bucket" in text and "personaforge_loaded_adapters 2" in text
    )


def test_public_bind_needs_an_api_key():
    with pytest.raises(UserError, match="without an API key"):
        check_bind("0.0.0.0", None)
    check_bind("0.0.0.0", "secret")
    check_bind("127.0.0.1", None)


def test_a_training_takes_the_device_from_the_server_and_gives_it_back(served):
    from personaforge.serve import _device
    from personaforge.train.lock import AcceleratorLock, device_key

    paths, handle = served
    trainer = AcceleratorLock(paths.locks, device_key(_device()), "train")
    trainer.acquire(wait_for_server_s=10, poll_s=0.05)  # the server's watcher lets go
    try:
        assert handle.engine.unloaded
        status, body = call(
            handle.url + "/v1/chat/completions",
            {"model": "persona", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert status == 503 and "unloaded" in body["error"]["message"]
    finally:
        trainer.release()
    import time

    deadline = time.monotonic() + 10
    while handle.engine.unloaded and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not handle.engine.unloaded
    status, body = call(
        handle.url + "/v1/chat/completions",
        {"model": "persona", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert status == 200 and body["choices"][0]["finish_reason"] in {"stop", "length"}


def test_replies_match_plain_peft_for_each_adapter(served):
    """Routing check: the server's greedy reply under each name equals PEFT's own for that adapter."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    paths, handle = served
    engine = handle.engine
    prompt = engine.tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is 3 + 4?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )

    def expected(version: str | None) -> str:
        model = AutoModelForCausalLM.from_pretrained(engine.base_location)
        if version:
            model = PeftModel.from_pretrained(model, str(paths.adapters / version))
        out = model.generate(**prompt, max_new_tokens=12, do_sample=False, eos_token_id=[3])
        text = engine.tokenizer.decode(
            out[0, prompt["input_ids"].shape[1] :], skip_special_tokens=True
        )
        return text.strip()

    assert ask(handle, "tiny:micro").strip() == expected(None)
    assert ask(handle, "persona:v1").strip() == expected("v1")
    assert ask(handle, "other").strip() == expected("v2")
