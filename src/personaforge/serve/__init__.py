"""Serving: an OpenAI-compatible API over one base and many adapters (app.py, engine.py).

    handle = start_server(paths, adapters={"work": "v2"})   # a background server (demo, tests)
    ...
    handle.stop()

`personaforge serve` runs the same app in the foreground.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from personaforge.errors import UserError
from personaforge.paths import Paths

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
DEFAULT_PORT = 7373


@dataclass
class ServerHandle:
    url: str
    engine: object
    server: object
    thread: threading.Thread
    token: str

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.engine.close()


def check_bind(host: str, api_key: str | None) -> None:
    if host not in LOCAL_HOSTS and not api_key:
        raise UserError(
            f"refusing to listen on {host} without an API key: anyone on the network could use "
            "your model; pass --api-key (or bind 127.0.0.1)"
        )


def build_engine(paths: Paths, adapters: dict[str, str] | None = None, max_queue: int = 32):
    """The base of the current version (or of the newest), persona = current, plus named adapters."""
    from personaforge.base import resolve_base
    from personaforge.registry import Registry
    from personaforge.serve.engine import PERSONA, LocalEngine
    from personaforge.train.run import quiet_libraries, read_card

    quiet_libraries()
    with Registry.open(paths) as registry:
        current = registry.current()
        latest = registry.latest()
    anchor = current or (latest.name if latest else None)
    if anchor is None:
        raise UserError(
            "no adapter versions yet; run `personaforge train` (and `personaforge eval`) first"
        )
    card = read_card(paths.adapters / anchor)
    ref = resolve_base(card["base"]["name"], paths, card["base"].get("revision"))
    engine = LocalEngine(paths, ref.location, card["base"]["name"], max_queue=max_queue)
    if current:
        engine.set_alias(PERSONA, engine.load_adapter(engine.adapter_folder(current)))
    for name, version in (adapters or {}).items():
        engine.set_alias(name, engine.load_adapter(engine.adapter_folder(version)))
    return engine


def start_server(
    paths: Paths,
    host: str = "127.0.0.1",
    port: int = 0,
    adapters: dict[str, str] | None = None,
    api_key: str | None = None,
    max_queue: int = 32,
) -> ServerHandle:
    """Serve in a background thread; port 0 picks a free one."""
    import socket

    import uvicorn

    from personaforge.serve.app import admin_token, create_app

    check_bind(host, api_key)
    engine = build_engine(paths, adapters, max_queue)
    app = create_app(engine, paths, api_key)
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
    return ServerHandle(f"http://{host}:{port}", engine, server, thread, admin_token(paths))
