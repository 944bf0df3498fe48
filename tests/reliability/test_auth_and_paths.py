"""Auth, path confinement, log injection, limits and binding, for both serving engines.

The path cases run three ways: through `serve.policy.adapter_folder` directly, through
the local engine's HTTP API and through the vLLM bridge's (against the stand-in vLLM
of tests/test_serve_vllm.py). One table, one function, the same answers.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest

from personaforge.errors import UserError
from personaforge.serve import check_bind, start_server
from personaforge.serve.policy import ApiError, adapter_folder
from tests.reliability.conftest import read_log
from tests.test_serve import oversized_post_status
from tests.test_serve_vllm import run_app, stand_in

ADMIN_ROUTES = ["/admin/reload-model", "/admin/rollback", "/admin/unload", "/admin/load"]


def request(url, body=None, token=None, method="POST", raw: bytes | None = None):
    data = raw if raw is not None else json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@pytest.fixture(scope="module")
def home(adapter_home_factory):
    paths = adapter_home_factory(3)
    (paths.adapters / "escape").symlink_to(paths.home.parent, target_is_directory=True)
    shutil.copytree(paths.adapters / "v1", paths.home.parent / "elsewhere" / "v2")
    shutil.copytree(paths.adapters / "v1", paths.adapters / ".hidden")
    return paths


@pytest.fixture(scope="module")
def local(home):
    handle = start_server(home, adapters={"other": "v2"})
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def vllm(home, micro_card_base):
    from personaforge.serve import build_vllm
    from personaforge.serve.guard import server_access_log

    upstream_url, upstream = run_app(stand_in(micro_card_base["location"]))
    app = build_vllm(home, upstream_url, None, access_log=server_access_log(home))
    url, server = run_app(app)
    yield url
    server.should_exit = upstream.should_exit = True


# The admin routes each engine has (the vLLM bridge cannot release vLLM's accelerator).
ADMIN_ROUTES_OF = {"local": ADMIN_ROUTES, "vllm": ADMIN_ROUTES[:2]}


@pytest.fixture(params=["local", "vllm"])
def engine(request, local, vllm) -> tuple[str, str]:
    """(engine name, base URL)."""
    return request.param, local.url if request.param == "local" else vllm


def path_cases(paths) -> list[tuple[str, dict, int]]:
    """(what, reload body, expected status): one table for the function and both engines."""
    adapters = paths.adapters.absolute()
    return [
        ("dot-dot out", {"model_path": "../../../etc"}, 400),
        ("dot-dot back in", {"model_path": "v1/../v2"}, 400),
        ("dot-dot after the folder", {"model_path": f"{adapters}/../adapters/v1"}, 400),
        ("backslash", {"model_path": "..\\v1"}, 400),
        ("backslash version", {"version": "v1\\"}, 400),
        ("leading-dot version", {"version": ".v1"}, 400),
        ("version with a slash", {"version": "../v1"}, 400),
        ("NUL in a path", {"model_path": "v1\u0000"}, 400),
        ("NUL in a version", {"version": "v1\u0000"}, 400),
        ("newline in a version", {"version": "v1\n"}, 400),
        ("absolute, outside", {"model_path": "/etc"}, 403),
        (
            "absolute, elsewhere, named like a version",
            {"model_path": f"{paths.home.parent}/elsewhere/v2"},
            403,
        ),
        ("symlink out", {"model_path": "escape"}, 403),
        ("symlink out, as a version", {"version": "escape"}, 403),
        ("hidden folder", {"model_path": ".hidden"}, 403),
        ("a file inside a version", {"model_path": "v1/adapter_config.json"}, 403),
        ("name too long", {"model_path": "x" * 300}, 404),
        ("missing version", {"version": "v9"}, 404),
        ("absolute, inside", {"model_path": f"{adapters}/v2"}, 200),
        ("relative, inside", {"model_path": "v3/"}, 200),
        ("version", {"version": "v1"}, 200),
    ]


def test_path_rules_in_the_one_confinement_function(home, trials):
    """adapter_folder: traversal, absolute, symlinks out, backslash, leading dot, NUL → 400/403/404."""
    for what, body, expected in path_cases(home):
        try:
            folder = adapter_folder(home, body.get("version"), body.get("model_path"))
            status = 200
            assert folder.parent == home.adapters.resolve(), what
        except ApiError as exc:
            status = exc.status
        assert status == expected, what
        trials.add()
    trials.held("every case refused or allowed as the table says")


def test_path_rules_through_both_engines(home, engine, trials):
    """Reload through the local engine and the vLLM bridge: the same table, the same statuses."""
    _, engine_url = engine
    token = (home.home / "serve" / "admin-token").read_text().strip()
    for what, body, expected in path_cases(home):
        status, answer = request(engine_url + "/admin/reload-model", body, token)
        assert status == expected, (what, answer)
        if status >= 400:
            assert answer["error"]["message"] and answer["error"]["type"], what
        trials.add()
    trials.held("the same statuses from both engines; no path outside adapters/ ever loaded")


def test_admin_needs_the_token(engine, trials):
    """Every admin route: no token, a wrong one, a non-ASCII one → 401 in the OpenAI shape."""
    name, engine_url = engine
    for route in ADMIN_ROUTES_OF[name]:
        for token in (None, "wrong", "wrong-ünïcode", ""):
            status, body = request(engine_url + route, {"version": "v1"}, token)
            assert status == 401, (route, token, body)
            assert body["error"]["type"] == "authentication_error"
            trials.add()
    trials.held("401 without the right token, never a 500 (non-ASCII tokens included)")


def test_wrong_methods_get_405_with_allow(local, trials):
    """TRACE, PUT, DELETE… on every route → 405 with an Allow header, before any auth check."""
    document = json.loads(urllib.request.urlopen(local.url + "/openapi.json").read())
    for path, item in document["paths"].items():
        allowed = {m.upper() for m in item}
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "TRACE"):
            if method in allowed:
                continue
            req = urllib.request.Request(local.url + path, method=method)
            with pytest.raises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(req, timeout=30)
            assert caught.value.code == 405, (method, path)
            assert set(caught.value.headers["Allow"].replace(" ", "").split(",")) >= allowed
            assert json.loads(caught.value.read())["error"]["message"]
            trials.add()
    trials.held("405 with Allow naming the route's methods; OpenAI error shape")


def test_api_key_guards_v1_only(home, local, trials):
    """With an API key, /v1 needs it (401 without); /health and /metrics stay open."""
    import uvicorn

    from personaforge.serve.app import create_app

    app = create_app(local.engine, home, api_key="sesame")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    try:
        chat = {
            "model": "persona",
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 2,
        }
        for token, expected in ((None, 401), ("nope", 401), ("sesame", 200)):
            assert request(url + "/v1/models", token=token, method="GET")[0] == expected
            assert request(url + "/v1/chat/completions", chat, token)[0] == expected
            trials.add(2)
        assert request(url + "/health", method="GET")[0] == 200
        trials.add()
    finally:
        server.should_exit = True
    trials.held("401 without the key on /v1; 200 with it")


LOG_FIELD = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


def parse_log_line(line: str) -> dict[str, object]:
    fields = {}
    for key, value in LOG_FIELD.findall(line):
        assert key not in fields, f"field {key} twice in {line!r}"
        fields[key] = json.loads(value) if value.startswith('"') else value
    return fields


FORGERIES = [
    'persona\ntime=2026-01-01T00:00:00Z client="6.6.6.6" method="POST" status=200',
    "persona\r\nadmin logged in",
    "persona\x1b[2J\x1b[1;1H",  # terminal escape: clear the screen of whoever tails the log
    "persona\u2028forged",  # a Unicode line separator
    'persona" status=200 client="6.6.6.6',
]


def test_request_fields_cannot_forge_log_lines(home, local, trials):
    """Newlines, CR, escape sequences and quotes in the model or the path stay inside one log line."""
    before = len(read_log(home))
    sent = 0
    for forged in FORGERIES:
        body = {"model": forged, "messages": [{"role": "user", "content": forged}]}
        assert request(local.url + "/v1/chat/completions", body)[0] == 404
        status, _ = request(local.url + "/v1/models%0d%0aclient=6.6.6.6%1b[2J", method="GET")
        assert status == 404
        sent += 2
        trials.add(2)
    deadline = time.monotonic() + 5
    while len(read_log(home)) < before + sent and time.monotonic() < deadline:
        time.sleep(0.05)
    raw = (home.home / "logs" / "serve-access.log").read_bytes()
    assert raw.isascii() and b"\x1b" not in raw and b"\r" not in raw
    lines = read_log(home)[before:]
    assert len(lines) == sent  # one line per request, however many newlines they carried
    models = []
    for line in lines:
        fields = parse_log_line(line)
        assert line.startswith("time=") and fields["client"] == "127.0.0.1", line
        if "model" in fields:
            models.append(fields["model"])
        else:
            assert "\r\n" in fields["path"]  # the decoded path, escaped, in its own field
    assert models == FORGERIES  # each forged text comes back intact, as data
    trials.held("one line per request; the forged text only inside its own quoted field")


def test_body_and_generation_limits(local, trials):
    """Oversized bodies 413; max_tokens, stop, seed, NaN and prompts beyond the context 400."""
    url = local.url + "/v1/chat/completions"
    hi = [{"role": "user", "content": "hi"}]
    assert oversized_post_status(url) == 413
    assert oversized_post_status(url, chunked=True) == 413
    trials.add(2)
    bad = [
        {"model": "persona", "messages": hi, "max_tokens": 0},
        {"model": "persona", "messages": hi, "max_tokens": 4097},
        {"model": "persona", "messages": hi, "stop": ["a", "b", "c", "d", "e"]},
        {"model": "persona", "messages": hi, "stop": "x" * 257},
        {"model": "persona", "messages": hi, "seed": 1 << 60},
        {"model": "persona", "messages": []},
        {"model": "persona", "messages": [{"role": "tool", "content": "hi"}]},
    ]
    for body in bad:
        status, answer = request(url, body)
        assert status == 400 and answer["error"]["param"], (body, answer)
        trials.add()
    raw = (
        b'{"model": "persona", "messages": [{"role": "user", "content": "hi"}], "temperature": NaN}'
    )
    assert request(url, raw=raw)[0] == 400
    trials.add()
    context = local.engine.context
    long = [{"role": "user", "content": "the cat sat " * context}]
    status, answer = request(url, {"model": "persona", "messages": long})
    assert status == 400 and "context" in answer["error"]["message"]
    # A prompt that leaves 20 tokens of context: generation stops there, whatever max_tokens says.
    ids = local.engine.tokenizer("the cat sat " * context, add_special_tokens=False)["input_ids"]
    prompt = local.engine.tokenizer.decode(ids[: context - 20])
    body = {"model": "tiny:micro", "prompt": prompt, "max_tokens": 4096}
    status, answer = request(local.url + "/v1/completions", body)
    assert status == 200 and answer["choices"][0]["finish_reason"] == "length"
    assert answer["usage"]["total_tokens"] <= context
    trials.add(2)
    trials.held(
        "413 for 2 MiB bodies (declared or chunked); 400 with the field named; context enforced"
    )


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "::", "[::]", "192.168.1.20", "example.com", "10.0.0.1"]
)
def test_binding_beyond_localhost_needs_a_key(host, trials):
    """Any non-loopback address without an API key is refused with one line; with a key it is allowed."""
    with pytest.raises(UserError, match="without an API key"):
        check_bind(host, None)
    check_bind(host, "a-key")
    trials.add(2)
    trials.held("refused without a key, allowed with one")


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_needs_no_key(host):
    """Loopback addresses (all of 127/8, ::1, localhost) need no key."""
    check_bind(host, None)


def test_the_cli_refuses_a_public_bind_in_one_line(capsys, trials):
    """`personaforge serve --host 0.0.0.0` without --api-key: exit 2, one line, no traceback."""
    from personaforge.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--host", "0.0.0.0"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "without an API key" in err and "Traceback" not in err
    trials.add()
    trials.held("exit 2, one line")
