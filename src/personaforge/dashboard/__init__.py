"""The local dashboard: watch a training live, read the run history, compare versions, see the data.

    handle = start_dashboard(paths)          # in a background thread (train --dashboard, tests)
    print(handle.url)
    handle.stop()

`personaforge dashboard` serves the same app in the foreground (`serve_dashboard`).
It binds 127.0.0.1 by default; any other address needs an API key, by the
same rule as `personaforge serve` (`personaforge.serve.check_bind`).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from personaforge.errors import UserError, require
from personaforge.paths import Paths

DEFAULT_PORT = 7374  # the API server's 7373, plus one


@dataclass
class DashboardHandle:
    url: str
    server: object
    thread: threading.Thread
    app: object

    def stop(self) -> None:
        self.app.state.closing.set()  # open event streams end within one poll (0.5 s)
        self.server.should_exit = True
        self.thread.join(timeout=10)


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so a busy port is a clear error and port 0 a free port."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        raise UserError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); pick another port"
        ) from None
    sock.listen(128)
    return sock


def url_of(sock: socket.socket, host: str) -> str:
    port = sock.getsockname()[1]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _server(paths: Paths, host: str, api_key: str | None):
    for module in ("fastapi", "uvicorn", "jinja2"):
        require(module, extra="serve", feature="the dashboard")
    import uvicorn

    from personaforge.dashboard.app import create_app
    from personaforge.serve import check_bind, is_loopback

    check_bind(host, api_key)
    app = create_app(paths, api_key, loopback=is_loopback(host))
    # A page's event stream never ends by itself: give open connections one second at shutdown.
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=1)
    return app, uvicorn.Server(config)


def start_dashboard(
    paths: Paths, host: str = "127.0.0.1", port: int = DEFAULT_PORT, api_key: str | None = None
) -> DashboardHandle:
    """Serve the dashboard from a background thread; port 0 picks a free port."""
    app, server = _server(paths, host, api_key)
    sock = _listen(host, port)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="personaforge-dashboard", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            sock.close()
            raise UserError(f"the dashboard did not start on {host}:{port}")
        time.sleep(0.05)
    return DashboardHandle(url_of(sock, host), server, thread, app)


def serve_dashboard(
    paths: Paths,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    api_key: str | None = None,
    announce: Callable[[str], None] = print,
) -> None:
    """Serve in the foreground until Ctrl-C."""
    app, server = _server(paths, host, api_key)
    sock = _listen(host, port)
    url = url_of(sock, host)
    if api_key:
        announce(f"dashboard on {url} (open {url}/?key=KEY once; Ctrl-C to stop)")
    else:
        announce(f"dashboard on {url} (Ctrl-C to stop)")
    try:
        server.run(sockets=[sock])
    finally:
        app.state.closing.set()


def start_alongside(
    paths: Paths, port: int, announce: Callable[[str], None]
) -> DashboardHandle | None:
    """For `train --dashboard`: start it and say where; a busy port is a note, not a failed training."""
    try:
        handle = start_dashboard(paths, port=port)
    except UserError as exc:  # a busy port (often a dashboard already running: it shows this too)
        announce(f"dashboard not started: {exc}")
        return None
    announce(f"dashboard: {handle.url}/live (it stops when the training ends)")
    return handle
