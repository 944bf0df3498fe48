"""Bad adapter loads while clients stream: the bad load gets a clear 4xx, nobody else notices.

While four clients stream completions from `persona`, a named adapter, a pinned
version and the bare base, the admin API is asked to load a missing adapter, a
truncated one, one with the wrong rank, two trained for other bases, one with a
broken config, two good ones at once, and the version already served. Every
client request must complete (200, a finish reason, `[DONE]`, no error event),
each bad load must be refused with its own 4xx and message, and the server must
still serve and load afterwards. The access log records which adapter answered
each request, so routing under the swaps is checked too.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from safetensors.torch import load_file, save_file

from personaforge.serve import start_server
from tests.reliability.conftest import read_log
from tests.reliability.test_auth_and_paths import parse_log_line, request

CLIENT_MODELS = ["persona", "other", "persona:v1", "tiny:micro"]


def other_base_adapter(folder, card: dict) -> None:
    """A real PEFT adapter for a differently shaped Llama (hidden 32), whose card claims our base."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    base = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=512,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
        )
    )
    config = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
    get_peft_model(base, config).save_pretrained(str(folder))
    (folder / "personaforge.json").write_text(json.dumps({**card, "version": folder.name}))


@pytest.fixture(scope="module")
def broken(adapter_home_factory):
    """A home with good versions v1-v4 and broken ones v5-v9 and v11; v10 does not exist."""
    paths = adapter_home_factory(4)
    adapters = paths.adapters

    def copy(version: str):
        shutil.copytree(adapters / "v3", adapters / version)
        card = json.loads((adapters / version / "personaforge.json").read_text())
        card["version"] = version
        (adapters / version / "personaforge.json").write_text(json.dumps(card))
        return adapters / version

    weights = copy("v5") / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    config_file = copy("v6") / "adapter_config.json"
    config = json.loads(config_file.read_text())
    config_file.write_text(json.dumps({**config, "r": 8}))
    card_file = copy("v7") / "personaforge.json"
    card = json.loads(card_file.read_text())
    card["base"] = {"name": "smollm2-135m", "fingerprint": "0123456789abcdef"}
    card_file.write_text(json.dumps(card))
    (adapters / "v8").mkdir()
    other_base_adapter(
        adapters / "v8", json.loads((adapters / "v3" / "personaforge.json").read_text())
    )
    (copy("v9") / "adapter_config.json").write_text("{not json")
    partial = copy("v11") / "adapter_model.safetensors"
    tensors = load_file(partial)
    save_file({k: v for k, v in tensors.items() if ".k_proj." not in k}, partial)
    handle = start_server(paths, adapters={"other": "v2"})
    yield paths, handle
    handle.stop()


# (what, reload body, expected status, words the error message must hold)
BAD_LOADS = [
    ("missing", {"version": "v10"}, 404, "no adapter"),
    ("truncated safetensors", {"version": "v5"}, 400, "cannot be read"),
    ("wrong rank", {"version": "v6"}, 400, "r=8"),
    ("another base, by its card", {"version": "v7"}, 400, "trained on base"),
    ("another base, by its shapes", {"version": "v8"}, 400, "another base"),
    ("broken config", {"version": "v9"}, 400, "not a PEFT config"),
    ("weights missing for a layer its config adapts", {"version": "v11"}, 400, "lacks"),
]


def stream_once(url: str, model: str) -> dict:
    """One streamed chat; what came back, and when it started and ended."""
    started = time.monotonic()
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "How was your week?"}],
        "max_tokens": 24,
        "stream": True,
    }
    req = urllib.request.Request(
        url + "/v1/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=120) as response:
            events = [line[6:] for line in response.read().decode().splitlines() if line]
            status = response.status
    except urllib.error.HTTPError as exc:
        return {"model": model, "status": exc.code, "done": False, "finish": None, "error": True}
    chunks = [json.loads(e) for e in events if e != "[DONE]"]
    return {
        "started": started,
        "ended": time.monotonic(),
        "model": model,
        "status": status,
        "done": events[-1:] == ["[DONE]"],
        "finish": chunks[-1]["choices"][0]["finish_reason"]
        if chunks and "choices" in chunks[-1]
        else None,
        "error": any("error" in c for c in chunks),
    }


def test_bad_adapter_loads_under_live_traffic(broken, trials):
    """Missing, truncated, wrong-rank, other-base, broken-config and partial loads, two at once, the served one, under streams."""
    paths, handle = broken
    url, token = handle.url, handle.token
    stop = threading.Event()
    results: list[dict] = []

    def client(model: str) -> None:
        while not stop.is_set():
            results.append(stream_once(url, model))

    threads = [threading.Thread(target=client, args=(m,)) for m in CLIENT_MODELS]
    for thread in threads:
        thread.start()
    while len(results) < len(CLIENT_MODELS):  # every client is streaming by now
        time.sleep(0.01)
    loads_began = time.monotonic()
    try:
        for what, body, expected, words in BAD_LOADS:
            status, answer = request(url + "/admin/reload-model", body, token)
            assert status == expected, (what, answer)
            assert words in answer["error"]["message"], (what, answer)
            trials.add()
        # A request addressed to a bad adapter gets its own clear 404.
        status, answer = request(
            url + "/v1/chat/completions",
            {"model": "persona:v5", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert status == 404 and "unknown model" in answer["error"]["message"]
        # Two good loads at once: both succeed, persona ends on one of them.
        with ThreadPoolExecutor(2) as pool:
            both = list(
                pool.map(
                    lambda v: request(url + "/admin/reload-model", {"version": v}, token),
                    ["v3", "v4"],
                )
            )
        assert [s for s, _ in both] == [200, 200], both
        persona = request(url + "/health", method="GET")[1]["persona"]
        assert persona in {"v3", "v4"}
        # Reloading the version being served changes nothing.
        status, answer = request(url + "/admin/reload-model", {"version": persona}, token)
        assert status == 200 and answer["persona"] == persona
        trials.add(4)
        loads_ended = time.monotonic()
        while sum(r["started"] > loads_ended for r in results) < len(CLIENT_MODELS):
            time.sleep(0.01)  # and they go on streaming afterwards
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    failed = [r for r in results if (r["status"], r["done"], r["error"]) != (200, True, False)]
    assert not failed, failed
    during = [r for r in results if r["started"] < loads_ended and r["ended"] > loads_began]
    assert len(during) >= len(CLIENT_MODELS)  # the loads really happened under traffic
    assert all(r["finish"] in {"stop", "length"} for r in results)
    trials.add(len(results))

    health = request(url + "/health", method="GET")[1]
    assert health["status"] == "ok" and set(health["models"]) >= {
        "persona:v3",
        "persona:v4",
        "other",
    }
    broken_names = {f"persona:v{n}" for n in (5, 6, 7, 8, 9, 11)}
    assert not broken_names & set(health["models"])
    assert stream_once(url, "persona")["done"]
    metrics = urllib.request.urlopen(url + "/metrics").read().decode()
    assert 'status="5' not in metrics
    # Routing held under the swaps: each name ran on the adapter it pointed to.
    ran = {}
    for line in read_log(paths):
        fields = parse_log_line(line)
        if fields.get("route") == "/v1/chat/completions" and fields.get("status") == "200":
            ran.setdefault(fields["model"], set()).add(fields["adapter"])
    assert ran["other"] == {"v2"} and ran["persona:v1"] == {"v1"} and ran["tiny:micro"] == {"base"}
    assert ran["persona"] <= {"v1", "v3", "v4"}
    trials.held(
        "0 failed client streams; each bad load a 4xx naming its fault; "
        "no 5xx; routing unchanged; the server still serves and loads"
    )
