"""The OpenAI-compatible server on micro adapters: the real openai client, streaming, reload, security."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from personaforge.config import DecodeSettings
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
    # Greedy, no penalties: these tests compare replies with plain PEFT generation and with
    # each other; the home's decode defaults have a test of their own.
    greedy = DecodeSettings(temperature=0, repetition_penalty=1.0)
    handle = start_server(paths, adapters={"other": "v2"}, decoding=greedy)
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


def test_persona_answers_are_grounded_in_the_store_and_say_what_they_were_given(served):
    """The openai client keeps working; the sources come in a header and an extra field."""
    from personaforge.store import MemoryStore

    paths, handle = served
    question = [{"role": "user", "content": "Which code editor do you use?"}]

    def asked(model: str, **kwargs):
        return client(handle).chat.completions.with_raw_response.create(
            model=model, messages=question, max_tokens=6, **kwargs
        )

    grounded = asked("persona")
    sources = json.loads(grounded.headers["x-personaforge-sources"])
    completion = grounded.parse()
    assert completion.model_extra["personaforge"] == sources
    assert sources["retrieval"] is True and sources["memories"]
    with MemoryStore.open(paths.memory_store) as store:  # each one is a memory she wrote
        assert {store.get(m["id"]).speaker for m in sources["memories"]} == {"self"}
    assert any("Neovim" in store_text for store_text in _texts(paths, sources))
    for plain in (asked("persona-raw"), asked("persona", extra_body={"retrieval": False})):
        assert "x-personaforge-sources" not in plain.headers
        assert "personaforge" not in (plain.parse().model_extra or {})
        # The context is what makes the prompt longer: same adapter, same question.
        assert plain.parse().usage.prompt_tokens < completion.usage.prompt_tokens
    # A stream carries the sources in its header; the base is grounded only when asked.
    stream = asked("persona", stream=True)
    assert json.loads(stream.headers["x-personaforge-sources"]) == sources
    streamed = "".join(c.choices[0].delta.content or "" for c in stream.parse() if c.choices)
    assert streamed == completion.choices[0].message.content
    assert "x-personaforge-sources" not in asked("tiny:micro").headers
    assert "x-personaforge-sources" in asked("tiny:micro", extra_body={"retrieval": True}).headers
    names = [m.id for m in client(handle).models.list()]
    assert {"persona-raw", "other-raw", "persona:v1-raw"} <= set(names)
    assert "tiny:micro-raw" not in names


def _texts(paths, sources) -> list[str]:
    from personaforge.store import MemoryStore

    with MemoryStore.open(paths.memory_store) as store:
        return [store.get(m["id"]).text for m in sources["memories"]]


def test_each_adapter_gives_its_own_output(served):
    _, handle = served
    # Sampled with one seed, from adapters trained hard (lr 3e-2): the micro base's replies
    # are flat, and a gently trained adapter moved its logits by up to 2.7 without changing
    # the top token, so gentle adapters cannot be told apart by their text.
    # Retrieval off: this checks routing, and a long shared context makes micro adapters agree.
    sampled = {"temperature": 1.0, "seed": 3, "extra_body": {"retrieval": False}}
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
    for body, expected in (
        ({"model_path": "../../../etc"}, 400),
        ({"model_path": "/etc"}, 403),
        ({"version": "../v1"}, 400),
    ):
        status, answer = call(handle.url + "/admin/reload-model", body, handle.token)
        assert status == expected, body
    escape = paths.adapters / "escape"
    escape.symlink_to(paths.home.parent, target_is_directory=True)
    status, answer = call(
        handle.url + "/admin/reload-model", {"model_path": "escape"}, handle.token
    )
    assert status == 403 and "inside the adapters folder" in answer["error"]["message"]
    token_file = paths.home / "serve" / "admin-token"
    assert token_file.stat().st_mode & 0o777 == 0o600


def test_a_nul_byte_in_a_model_path_is_a_400_not_a_500(served, caplog):
    """Issue 24: `{"model_path": "v1\\u0000"}` gave a plain-text 500 and a traceback."""
    _, handle = served
    with caplog.at_level("WARNING"):
        for body in ({"model_path": "v1\u0000"}, {"version": "v1\u0000"}):
            status, answer = call(handle.url + "/admin/reload-model", body, handle.token)
            assert status == 400 and answer["error"]["type"] == "invalid_request_error", answer
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


def test_a_server_error_is_openai_shaped_and_counted(served, monkeypatch, caplog):
    """Any 500 gets the OpenAI error shape (no internals) and shows in /metrics."""
    _, handle = served

    def broken():
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(handle.engine, "models", broken)
    with caplog.at_level("ERROR"):
        status, body = call(handle.url + "/v1/models", method="GET")
    assert status == 500 and body["error"]["type"] == "server_error"
    assert "secret" not in body["error"]["message"]
    assert any("secret internal detail" in r.getMessage() or r.exc_info for r in caplog.records)
    monkeypatch.undo()
    text = urllib.request.urlopen(handle.url + "/metrics").read().decode()
    assert 'personaforge_requests_total{route="/v1/models",method="GET",status="500"} 1' in text


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


SAMPLE = re.compile(r'^[a-z_]+(\{([a-z]+="([^"\\\n]|\\[\\"n])*",?)*\})? [0-9.e+-]+$')


def metrics_text(handle) -> str:
    with urllib.request.urlopen(handle.url + "/metrics") as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return response.read().decode()


def test_metrics_are_prometheus_text(served):
    _, handle = served
    ask(handle, "persona")
    text = metrics_text(handle)
    assert (
        'personaforge_requests_total{route="/v1/chat/completions",method="POST",status="200"}'
        in text
    )
    assert 'personaforge_request_seconds_bucket{route="/v1/chat/completions",le="+Inf"}' in text
    assert "personaforge_loaded_adapters 2" in text
    for line in text.splitlines():
        assert line.startswith("# TYPE ") or SAMPLE.match(line), line


def test_metrics_label_routes_not_raw_paths(served):
    """Issue 24: 300 random 404 paths added 300 series; quotes and newlines broke the format."""
    _, handle = served

    def series() -> set[str]:
        return {
            line.rsplit(" ", 1)[0]
            for line in metrics_text(handle).splitlines()
            if line.startswith("personaforge_requests_total{")
        }

    call(handle.url + "/nowhere", method="GET")
    before = series()
    for index in range(300):
        status, _ = call(handle.url + f'/x{index}%22%0a"y', method="GET")
        assert status == 404
    call(handle.url + "/v1/models", method="TRACE")
    call(handle.url + "/v1/models", method="BREW")  # a made-up method is counted as OTHER
    after = series()
    assert len(after - before) <= 2, after - before
    assert 'personaforge_requests_total{route="unmatched",method="GET",status="404"}' in after
    text = metrics_text(handle)
    assert "%22" not in text and "/x1" not in text
    for line in text.splitlines():
        assert line.startswith("# TYPE ") or SAMPLE.match(line), line


def test_label_values_are_escaped():
    from personaforge.serve.guard import _label

    assert _label('a"b\\c\nd') == 'a\\"b\\\\c\\nd'


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
        request = urllib.request.Request(
            handle.url + "/v1/chat/completions",
            data=json.dumps(
                {"model": "persona", "messages": [{"role": "user", "content": "hi"}]}
            ).encode(),
            headers={"Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=60)
        assert refused.value.headers["Retry-After"] == "30"  # clients back off, not hammer
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


def test_the_device_watcher_survives_a_failed_unload_and_loads_wait(served, monkeypatch):
    """A reload that attached an adapter while a training asked for the device made `.to()`
    fail in the watcher thread, which died holding the device: the training waited 120 s.
    Now the unload waits for a load in progress, and a failed poll is tried again."""
    import threading
    import time

    from personaforge.serve import _device
    from personaforge.train.lock import AcceleratorLock, device_key

    paths, handle = served
    engine = handle.engine
    real_unload, failures = engine.unload, []

    def unload_failing_once():
        if not failures:
            failures.append(1)
            raise RuntimeError("dictionary changed size during iteration")
        real_unload()

    monkeypatch.setattr(engine, "unload", unload_failing_once)
    # An adapter load in progress: the unload waits for it, then no load starts after it.
    engine._loading.acquire()
    released = threading.Timer(1.0, engine._loading.release)
    released.start()
    trainer = AcceleratorLock(paths.locks, device_key(_device()), "train")
    started = time.monotonic()
    trainer.acquire(wait_for_server_s=15, poll_s=0.05)
    try:
        assert failures and engine.unloaded
        assert time.monotonic() - started >= 1.0  # it waited for the load to finish
    finally:
        released.join()
        trainer.release()
    deadline = time.monotonic() + 10
    while engine.unloaded and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not engine.unloaded


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
    # Without retrieval, so the prompt is exactly the one above (grounding has its own tests).
    assert ask(handle, "persona:v1-raw").strip() == expected("v1")
    assert ask(handle, "other", extra_body={"retrieval": False}).strip() == expected("v2")


def test_a_batch_sharing_one_adapter_computes_what_the_mixed_path_does(served):
    """In the running engine, a row under v1 computes the same beside a row of v1 as beside a
    row of another adapter (serve/lora_rows.py's two paths; tests/test_lora_rows.py holds
    both to PEFT's own per-row forward)."""
    import torch

    _, handle = served
    engine = handle.engine
    ids = torch.tensor([engine.tokenizer.encode("Tell me about the garden.")] * 2)
    persona, other = engine.resolve("persona"), engine.resolve("other")
    assert persona != other
    found: dict[str, torch.Tensor] = {}

    def forward(name: str, adapters: list[str | None]) -> None:
        with torch.no_grad():
            found[name] = engine._forward(ids, None, None, None, adapters).logits[0]

    for name, adapters in {
        "shared": [persona, persona],
        "mixed": [persona, other],
        "base": [None, None],
        "base beside other": [None, other],
    }.items():
        engine._in_worker(lambda name=name, adapters=adapters: forward(name, adapters))
    assert torch.allclose(found["shared"], found["mixed"], atol=1e-5)
    assert torch.allclose(found["base"], found["base beside other"], atol=1e-5)
    assert not torch.allclose(found["shared"], found["base"], atol=1e-3)  # the adapter acts


def test_concurrent_requests_are_batched_and_answer_as_alone(served):
    """Four clients on four models at once: one batch, and each reply equals its reply alone."""
    from concurrent.futures import ThreadPoolExecutor

    _, handle = served
    models = ["tiny:micro", "persona", "other", "persona:v2"]
    alone = {model: ask(handle, model, "Tell me about the garden.") for model in models}
    steps, rows = handle.engine.stats["steps"], handle.engine.stats["rows"]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda m: ask(handle, m, "Tell me about the garden."), models * 2))
    assert together == [alone[m] for m in models * 2]
    stepped = handle.engine.stats["steps"] - steps
    batched = handle.engine.stats["rows"] - rows
    assert batched > stepped  # more rows than forward passes: requests shared passes


def test_prompts_admitted_together_share_one_pass_and_score_as_alone(served, monkeypatch):
    """Prompts of different lengths that arrive together run as one left-padded pass. Every
    token of each reply is then picked from the scores the request gets alone: the padding
    and the shared pass change no row's logits, in the prefill or in the steps after it."""
    import torch

    from personaforge.serve import engine as engine_module
    from personaforge.serve.generation import GenerationRequest

    _, handle = served
    engine = handle.engine
    picked_from: list[tuple[GenerationRequest, torch.Tensor]] = []
    real_pick = engine_module.pick_next

    def recording_pick(rows, logits):
        picked_from.extend(
            (row.request, row_logits.clone()) for row, row_logits in zip(rows, logits, strict=True)
        )
        return real_pick(rows, logits)

    monkeypatch.setattr(engine_module, "pick_next", recording_pick)
    prompts = {
        model: engine.tokenizer.apply_chat_template(
            [{"role": "user", "content": text}],
            add_generation_prompt=True,
            tokenize=True,
            return_dict=False,
        )
        for model, text in [
            ("persona", "Hi."),
            ("other", "Tell me about the garden you planted last spring, and the tomatoes."),
            ("tiny:micro", "What is 3 + 4?"),
        ]
    }
    assert len({len(ids) for ids in prompts.values()}) == 3

    def run(requests: dict[str, GenerationRequest]) -> dict[str, list[torch.Tensor]]:
        for request in requests.values():
            "".join(engine.stream(request))
        return {
            model: [scores for asked, scores in picked_from if asked is request]
            for model, request in requests.items()
        }

    def request(model: str) -> GenerationRequest:
        return GenerationRequest(model, prompts[model], 12, temperature=0.0, stream=False)

    alone = {model: run({model: engine.submit(request(model))})[model] for model in prompts}
    passes, prompt_rows = engine.stats["prefills"], engine.stats["prefill_rows"]
    with engine._wake:  # the worker admits nothing until all three wait
        submitted = {model: engine.submit(request(model)) for model in prompts}
    together = run(submitted)
    assert engine.stats["prefills"] - passes == 1
    assert engine.stats["prefill_rows"] - prompt_rows == 3
    assert "personaforge_prefill_rows_total" in metrics_text(handle)
    for model in prompts:
        assert len(together[model]) == len(alone[model]) == 12
        for step, (shared, own) in enumerate(zip(together[model], alone[model], strict=True)):
            assert torch.allclose(shared, own, atol=1e-4), (model, step)


def test_a_client_that_leaves_a_stream_frees_its_row(served):
    """A disconnected streaming client stops its generation instead of running to max_tokens."""
    _, handle = served
    before = handle.engine.stats["generated_tokens"]
    stream = client(handle).chat.completions.create(
        model="tiny:micro",  # the micro base never ends its own turn
        messages=[{"role": "user", "content": "Write a long story."}],
        max_tokens=900,
        stream=True,
    )
    next(iter(stream))
    stream.close()
    deadline = time.monotonic() + 20
    while handle.engine.batch_size and time.monotonic() < deadline:
        time.sleep(0.05)
    assert handle.engine.batch_size == 0
    assert handle.engine.stats["generated_tokens"] - before < 900


def test_streamed_text_never_shows_part_of_a_stop_string(served):
    _, handle = served
    full = ask(handle, "tiny:micro")
    words = full.split()
    start = full.index(words[1], len(words[0]))
    # Spans pieces: the second word must be held back while it might start the stop, then dropped.
    stop = full[start : start + len(words[1]) + 2]
    pieces = [
        chunk.choices[0].delta.content or ""
        for chunk in client(handle).chat.completions.create(
            model="tiny:micro",
            messages=[{"role": "user", "content": "What is 3 + 4?"}],
            max_tokens=12,
            stop=[stop],
            stream=True,
        )
    ]
    assert "".join(pieces) == ask(handle, "tiny:micro", stop=[stop])
    assert "".join(pieces).rstrip() == full[: full.index(stop)].rstrip()


def test_incremental_detokenizing_equals_decoding_the_whole(micro_base):
    """The engine decodes a few tokens per step; the pieces must add up to the full decode."""
    import random

    from transformers import AutoTokenizer

    from personaforge.serve.engine import Detokenizer

    tokenizer = AutoTokenizer.from_pretrained(micro_base)
    rng = random.Random(7)
    for _ in range(50):
        ids = [rng.randrange(len(tokenizer)) for _ in range(rng.randrange(1, 40))]
        detokenizer = Detokenizer(tokenizer)
        text = "".join(detokenizer.push(token) for token in ids) + detokenizer.flush()
        assert text == tokenizer.decode(ids, skip_special_tokens=True)


def test_decode_settings_fill_what_a_request_leaves_out(served):
    """The server decodes a request as the gate decodes its answers (settings `decode`), and a
    request's own temperature or penalty replaces the default, as in OpenAI's API."""
    from fastapi.testclient import TestClient

    from personaforge.evaluate import generate_many
    from personaforge.serve.app import create_app

    paths, handle = served
    engine = handle.engine
    penalised = DecodeSettings(temperature=0, repetition_penalty=1.8)
    api = TestClient(create_app(engine, paths, decoding=penalised))
    question = [{"role": "user", "content": "Tell me about the garden."}]

    def answer(**fields) -> str:
        body = {"model": "tiny:micro", "messages": question, "max_tokens": 12, **fields}
        response = api.post("/v1/chat/completions", json=body)
        assert response.status_code == 200, response.text
        return response.json()["choices"][0]["message"]["content"]

    greedy = ask(handle, "tiny:micro", question[0]["content"])  # the fixture's greedy server
    defaulted = answer()
    # The micro base loops ("assistant\nassistant..."); a 1.8 penalty must change that.
    assert defaulted != greedy
    # The engine's reply under the defaults is the gate's reply under the same settings.
    gate_reply = generate_many(engine._base, engine.tokenizer, [question], 12, decoding=penalised)
    assert defaulted == gate_reply[0][0]
    # Any field the request gives replaces the server's.
    assert answer(repetition_penalty=1.0) == greedy
    # And a sampled request with a seed is repeatable, and differs from greedy.
    sampled = answer(temperature=1.0, seed=4)
    assert sampled == answer(temperature=1.0, seed=4) and sampled != defaulted


def test_chat_sends_the_home_decode_settings(served, capsys, monkeypatch):
    """`personaforge chat` asks with this home's decode settings, so its replies are the ones a
    request carrying those settings gets (and not the server's greedy defaults)."""
    import io

    from tests.test_cli import run_cli

    paths, handle = served
    monkeypatch.setenv("PERSONAFORGE_HOME", str(paths.home))
    monkeypatch.setattr("sys.stdin", io.StringIO("Tell me about the garden.\n/quit\n"))
    code, out, _ = run_cli(
        capsys,
        "chat",
        "--url",
        handle.url,
        "--model",
        "tiny:micro",
        "--max-tokens",
        "12",
        "--set",
        "decode.temperature=0",
        "--set",
        "decode.repetition_penalty=1.8",
    )
    assert code == 0
    reply = out.split("tiny:micro> ", 1)[1].rsplit("you>", 1)[0].strip()
    penalised = client(handle).chat.completions.create(
        model="tiny:micro",
        messages=[{"role": "user", "content": "Tell me about the garden."}],
        max_tokens=12,
        temperature=0,
        extra_body={"repetition_penalty": 1.8},
    )
    assert reply == penalised.choices[0].message.content.strip()
    assert reply != ask(handle, "tiny:micro", "Tell me about the garden.").strip()


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread niceness is Linux's")
def test_adapters_load_on_a_thread_at_the_servers_priority(served):
    """Loads run on the engine's loader thread, at the worker's priority, not niced below it.

    Whatever the loader runs with the GIL held, the worker waits for; niced, it can be
    preempted mid-way (a garbage collection did that: bench/RESULTS.md, "reload stalls").
    """
    _, handle = served
    engine = handle.engine
    worker = engine._worker.native_id
    loader = engine._loader.submit(threading.get_native_id).result()
    assert loader not in (worker, threading.get_native_id())
    niceness = engine._loader.submit(lambda: os.getpriority(os.PRIO_PROCESS, 0)).result()
    assert niceness == os.getpriority(os.PRIO_PROCESS, worker)
