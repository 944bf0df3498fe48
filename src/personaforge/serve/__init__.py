"""Serving: an OpenAI-compatible API over one base and many adapters (app.py, engine.py).

    handle = start_server(paths, adapters={"work": "v2"})   # a background server (demo, tests)
    ...
    handle.stop()

`personaforge serve` runs the same app in the foreground.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from dataclasses import dataclass

from personaforge.config import DecodeSettings
from personaforge.errors import UserError
from personaforge.paths import Paths

DEFAULT_PORT = 7373
log = logging.getLogger("personaforge.serve")


@dataclass
class ServerHandle:
    url: str
    engine: object
    server: object
    thread: threading.Thread
    token: str
    guard: AcceleratorGuard | None = None
    access_log: object | None = None
    retriever: object | None = None  # serve/retrieval.Retriever when answers are grounded

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        if self.guard is not None:
            self.guard.stop()
        self.engine.close()
        if self.access_log is not None:
            self.access_log.close()
        if self.retriever is not None:
            self.retriever.close()


class AcceleratorGuard:
    """Holds the device lock as a server and gives it up when a training asks.

    A training writes `<device>.release` (see train/lock.py); the watcher then
    unloads the engine (requests get 503) and releases the lock. Once the
    training has taken the lock and removed its request, the watcher waits for
    the lock to come free again and loads the engine back.
    """

    def __init__(self, paths: Paths, engine, poll_s: float = 0.5):
        from personaforge.train.lock import AcceleratorLock, device_key

        self.engine = engine
        self.lock = AcceleratorLock(paths.locks, device_key(_device()), "serve")
        if not self.lock.try_acquire():
            owner = self.lock.owner() or {}
            raise UserError(
                f"{self.lock.key} is in use by a {owner.get('role', 'process')} (pid "
                f"{owner.get('pid', '?')}); serve again when it has finished"
            )
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._watch, args=(poll_s,), name="personaforge-lock", daemon=True
        )
        self._thread.start()

    def _watch(self, poll_s: float) -> None:
        while not self._stop.wait(poll_s):
            # A failure here must not end the thread: a dead watcher never lets go, and the
            # training that asked waits out its 120 s and fails. The next poll tries again.
            try:
                self._poll()
            except Exception:
                log.exception("the device watcher failed; trying again")

    def _poll(self) -> None:
        holding = self.lock._handle is not None
        if holding and self.lock.release_requested():
            self.engine.unload()
            self.lock.release()
        elif not holding and not self.lock.release_requested() and self.lock.try_acquire():
            self.engine.load()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.lock.release()


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1; anything else (0.0.0.0, ::, a LAN address, a name) is not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, api_key: str | None) -> None:
    if not is_loopback(host) and not api_key:
        raise UserError(
            f"refusing to listen on {host} without an API key: anyone on the network could use "
            "your model; pass --api-key (or bind 127.0.0.1)"
        )


def current_and_anchor(paths: Paths) -> tuple[str | None, str]:
    """The current version (may be None) and the version whose base the server loads."""
    from personaforge.registry import Registry

    with Registry.open(paths) as registry:
        current = registry.current()
        latest = registry.latest()
    anchor = current or (latest.name if latest else None)
    if anchor is None:
        raise UserError(
            "no adapter versions yet; run `personaforge train` (and `personaforge eval`) first"
        )
    return current, anchor


def build_engine(
    paths: Paths,
    adapters: dict[str, str] | None = None,
    max_queue: int = 32,
    max_batch: int | None = None,
):
    """The base of the current version (or of the newest), persona = current, plus named adapters."""
    from personaforge.bases import quiet_libraries, resolve_base
    from personaforge.registry import read_card
    from personaforge.serve.engine import DEFAULT_MAX_BATCH, PERSONA, LocalEngine

    quiet_libraries()
    current, anchor = current_and_anchor(paths)
    card = read_card(paths.adapters / anchor)
    ref = resolve_base(card["base"]["name"], paths, card["base"].get("revision"))
    engine = LocalEngine(
        paths,
        ref.location,
        card["base"]["name"],
        max_queue=max_queue,
        max_batch=DEFAULT_MAX_BATCH if max_batch is None else max_batch,
        base_fingerprint=card["base"].get("fingerprint"),
    )
    if current:
        engine.set_alias(PERSONA, engine.load_adapter(engine.adapter_folder(current)))
    for name, version in (adapters or {}).items():
        engine.set_alias(name, engine.load_adapter(engine.adapter_folder(version)))
    return engine


def build_retriever(paths: Paths, settings, engine) -> tuple[object | None, str]:
    """(the retriever for grounded answers, or None; the persona's system prompt).

    None when `serve.retrieval` is off or the home has no memory store yet. The context's
    token budget is counted with the engine's own tokenizer.
    """
    from personaforge.serve.retrieval import open_retriever

    def count(text: str) -> int:
        return len(engine.tokenizer(text, add_special_tokens=False)["input_ids"])

    prompt = settings.dataset.persona_prompt.replace("{name}", settings.dataset.person_name)
    return open_retriever(paths, settings, count), prompt


def start_server(
    paths: Paths,
    host: str = "127.0.0.1",
    port: int = 0,
    adapters: dict[str, str] | None = None,
    api_key: str | None = None,
    max_queue: int = 32,
    max_batch: int | None = None,
    decoding: DecodeSettings | None = None,
    settings=None,
) -> ServerHandle:
    """Serve in a background thread; port 0 picks a free one. Access log: the home's logs/ only.

    settings: the home's (config.toml) when None; `serve.retrieval` decides grounding and
    `decode` fills what a request leaves out, unless `decoding` is given.
    """
    import socket

    import uvicorn

    from personaforge.config import load_settings
    from personaforge.serve.app import admin_token, create_app
    from personaforge.serve.guard import server_access_log

    check_bind(host, api_key)
    settings = settings if settings is not None else load_settings(paths).settings
    engine = build_engine(paths, adapters, max_queue, max_batch)
    guard = AcceleratorGuard(paths, engine)
    access_log = server_access_log(paths)
    retriever, prompt = build_retriever(paths, settings, engine)
    app = create_app(
        engine,
        paths,
        api_key,
        access_log=access_log,
        decoding=decoding or settings.decode,
        retriever=retriever,
        persona_prompt=prompt,
    )
    if port == 0:
        with socket.socket() as probe:
            probe.bind((host, 0))
            port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, name="personaforge-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise UserError(f"the server did not start on {host}:{port}")
        time.sleep(0.05)
    return ServerHandle(
        f"http://{host}:{port}",
        engine,
        server,
        thread,
        admin_token(paths),
        guard,
        access_log,
        retriever,
    )


def build_vllm(
    paths: Paths,
    url: str,
    base_model: str | None,
    adapters: dict[str, str] | None = None,
    api_key: str | None = None,
    access_log=None,
    decoding: DecodeSettings | None = None,
    settings=None,
):
    """The API app in front of a vLLM server: persona = current version, plus named adapters.

    Answers are grounded as the local engine's are; the context's budget is counted with the
    adapter's tokenizer when its folder has one (else about four characters a token).
    """
    from personaforge.config import load_settings
    from personaforge.registry import read_card
    from personaforge.serve.retrieval import approximate_tokens, open_retriever
    from personaforge.serve.vllm import PERSONA, VllmBridge, create_vllm_app

    settings = settings if settings is not None else load_settings(paths).settings
    current, anchor = current_and_anchor(paths)
    base = base_model or read_card(paths.adapters / anchor)["base"]["location"]
    bridge = VllmBridge(url, paths, base)
    if current:
        bridge.set_alias(PERSONA, current)
    for name, version in (adapters or {}).items():
        bridge.set_alias(name, version)
    count = approximate_tokens
    if (paths.adapters / anchor / "tokenizer_config.json").is_file():
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(paths.adapters / anchor)

        def count(text: str) -> int:
            return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    prompt = settings.dataset.persona_prompt.replace("{name}", settings.dataset.person_name)
    retriever = open_retriever(paths, settings, count)
    return create_vllm_app(
        bridge, paths, api_key, access_log, decoding or settings.decode, retriever, prompt
    )
