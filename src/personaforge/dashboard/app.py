"""The dashboard's web app: server-rendered pages, a live event stream, SVG charts.

Pages (Jinja2 templates, autoescaped): /live (the newest training, live or
replayed), /live/{run|version}/NAME, /runs, /runs/ID, /versions,
/versions/vN, /compare?a=vN&b=vM, /data. Streams: /events/live and
/events/{run|version}/NAME (Server-Sent Events, see live.py). Charts:
/charts/{run|version}/NAME.svg, /charts/compare.svg, /charts/memories-by-month.svg.
One small script (static/dashboard.js) drives the live view; nothing comes
from another host.

The guard: GET only, with one exception: POST /blindtest keeps one pick of the
blind test (/blindtest, "which one is you?"), and only with the form token the
page was rendered with (a page on another site cannot read it) and, when the
browser sends one, an Origin naming this host. Bound to
loopback, a request must name a loopback Host, so a web page that rebinds its
own domain to 127.0.0.1 still cannot read this one. With an API key (required
off loopback, see `personaforge.serve.check_bind`) every request needs it: a
bearer header, or the cookie set by opening any page once with `?key=KEY`.
Every response forbids framing, sniffing, referrers and any script or request
to another origin.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from personaforge.dashboard import charts, home, live
from personaforge.errors import UserError
from personaforge.paths import Paths
from personaforge.serve import is_loopback

COOKIE = "personaforge_dashboard"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
NAV = (("live", "/live", "Live"), ("runs", "/runs", "Runs"), ("versions", "/versions", "Versions"))
NAV += (("data", "/data", "Data"), ("blindtest", "/blindtest", "Blind test"))
BLINDTEST = "/blindtest"


def hostname(header: str) -> str:
    """The host part of a Host header: '127.0.0.1:7374' -> '127.0.0.1', '[::1]:7374' -> '::1'."""
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def authorized(request: Request, api_key: str) -> bool:
    offered = request.cookies.get(COOKIE) or ""
    bearer = request.headers.get("authorization", "")
    if bearer.startswith("Bearer "):
        offered = bearer[len("Bearer ") :]
    return secrets.compare_digest(offered.encode(), api_key.encode())


def same_origin(request: Request) -> bool:
    """An Origin header, when the browser sends one, names the host the request went to."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return origin.split("://", 1)[-1] == request.headers.get("host", "")


def install_guard(app: FastAPI, api_key: str | None, loopback: bool) -> None:
    @app.middleware("http")
    async def guard(request: Request, call_next):
        if request.method != "GET" and not (
            request.method == "POST" and request.url.path == BLINDTEST
        ):
            response = error_page(405, "the dashboard only reads; it changes nothing")
        elif request.method == "POST" and not same_origin(request):
            response = error_page(403, "a blind-test pick must come from this dashboard's page")
        elif loopback and not is_loopback(hostname(request.headers.get("host", ""))):
            response = error_page(400, "this dashboard answers only to 127.0.0.1 or localhost")
        elif api_key and not authorized(request, api_key):
            offered = request.query_params.get("key")
            if offered is not None and secrets.compare_digest(offered.encode(), api_key.encode()):
                rest = [(k, v) for k, v in request.query_params.multi_items() if k != "key"]
                target = request.url.path + ("?" + urlencode(rest) if rest else "")
                response = RedirectResponse(target, status_code=303)
                response.set_cookie(COOKIE, api_key, httponly=True, samesite="strict")
            else:
                response = error_page(
                    401, "this dashboard needs its key: open it once as /?key=KEY (the --api-key)"
                )
        else:
            response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response


# -- rendering ------------------------------------------------------------------------------------


def _templates():
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("personaforge.dashboard", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters.update(
        redact=home.redact,
        num=number,
        ago=ago,
        clock=live.clock,
        gib=lambda v: "-" if not v else f"{v / 2**30:.2f} GiB",
        day=lambda v: (v or "-")[:19].replace("T", " "),
    )
    return environment


TEMPLATES = None


def render(page: str, status: int = 200, **context: Any) -> HTMLResponse:
    global TEMPLATES
    if TEMPLATES is None:
        TEMPLATES = _templates()
    html = TEMPLATES.get_template(f"{page}.html").render(nav=NAV, page=page, **context)
    return HTMLResponse(html, status_code=status)


def error_page(status: int, message: str) -> HTMLResponse:
    return render("error", status, title=f"{status}", message=message)


def number(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}g}" if abs(value) < 1e5 else f"{value:,.0f}"


def ago(seconds_since_epoch: float) -> str:
    delta = max(time.time() - seconds_since_epoch, 0)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if delta >= size:
            return f"{delta // size:.0f} {unit} ago"
    return f"{delta:.0f} s ago"


class ChartCache:
    """SVGs by what they were drawn from (files' sizes and mtimes): a chart is redrawn only when its log grows."""

    def __init__(self, size: int = 32):
        self.size = size
        self.items: OrderedDict[tuple, bytes] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple, draw) -> bytes:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        svg = draw()
        with self.lock:
            self.items[key] = svg
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return svg


def stamp(folder: Path, name: str = home.METRICS) -> tuple[int, int]:
    try:
        stat = (folder / name).lstat()
        return stat.st_size, stat.st_mtime_ns
    except OSError:
        return 0, 0


def svg(data: bytes) -> Response:
    return Response(data, media_type="image/svg+xml")


# -- the app -----------------------------------------------------------------------------------------


def create_app(paths: Paths, api_key: str | None = None, loopback: bool = True) -> FastAPI:
    """The dashboard over one home. `loopback`: it listens on 127.0.0.1/::1, so Host is checked."""
    app = FastAPI(title="personaforge dashboard", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.closing = threading.Event()  # set on shutdown: open event streams end
    cache = ChartCache()
    install_guard(app, api_key, loopback)
    static = Path(__file__).parent / "static"
    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return error_page(exc.status_code, str(exc.detail))

    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError):
        return error_page(404 if isinstance(exc, home.NotFound) else 400, str(exc))

    def event_stream(target: tuple[str, str] | None) -> StreamingResponse:
        return StreamingResponse(
            live.stream(paths, target, app.state.closing),
            media_type="text/event-stream",
            headers={"X-Accel-Buffering": "no"},
        )

    # -- live -------------------------------------------------------------------------------------

    @app.get("/")
    def index():
        return RedirectResponse("/live", status_code=303)

    @app.get("/favicon.ico")
    def favicon():
        return Response(status_code=204)  # no icon, and no 404 in the browser's console

    @app.get("/live")
    def live_page():
        return render(
            "live",
            title="Live training",
            events="/events/live",
            following=None,
            charts=charts.available(),
        )

    @app.get("/live/{kind}/{name}")
    def live_of(kind: str, name: str):
        home.log_folder(paths, kind, name)
        return render(
            "live",
            title=f"{kind} {name}",
            events=f"/events/{kind}/{name}",
            following=live.describe(kind, name),
            charts=charts.available(),
        )

    @app.get("/events/live")
    def events_live():
        return event_stream(None)

    @app.get("/events/{kind}/{name}")
    def events_of(kind: str, name: str):
        home.log_folder(paths, kind, name)
        return event_stream((kind, name))

    # -- charts -----------------------------------------------------------------------------------

    def need_charts() -> None:
        if not charts.available():
            raise HTTPException(404, "charts need matplotlib: pip install 'personaforge[train]'")

    @app.get("/charts/{kind}/{name}.svg")
    def chart_of(kind: str, name: str):
        need_charts()
        folder = home.log_folder(paths, kind, name)
        key = ("training", kind, name, *stamp(folder))
        return svg(cache.get(key, lambda: charts.training_chart(home.read_records(folder))))

    @app.get("/charts/compare.svg")
    def chart_compare(a: str, b: str):
        need_charts()
        folders = {name: home.log_folder(paths, "version", name) for name in dict.fromkeys([a, b])}
        key = ("compare", *[(name, *stamp(folder)) for name, folder in folders.items()])
        return svg(
            cache.get(
                key,
                lambda: charts.compare_chart(
                    {name: home.read_records(folder) for name, folder in folders.items()}
                ),
            )
        )

    @app.get("/charts/memories-by-month.svg")
    def chart_months():
        need_charts()
        stats = home.memory_stats(paths) or {"by_month": {}}
        key = ("months", *stamp(paths.home, paths.memory_store.name))
        return svg(
            cache.get(key, lambda: charts.bar_chart(stats["by_month"], "memories per month"))
        )

    # -- runs ---------------------------------------------------------------------------------------

    @app.get("/runs")
    def runs_page():
        return render(
            "runs",
            title="Runs",
            pipeline=home.pipeline_runs(paths),
            trainings=home.training_runs(paths),
        )

    @app.get("/runs/{run_id}")
    def run_page(run_id: str):
        run = home.pipeline_run(paths, run_id)
        return render("run", title=f"run {run['id']}", run=run)

    # -- versions -----------------------------------------------------------------------------------

    @app.get("/versions")
    def versions_page():
        versions, current, _ = home.registry_snapshot(paths)
        return render(
            "versions",
            title="Versions",
            versions=list(reversed(versions)),
            current=current,
            lineage=home.lineage(versions),
            charts=charts.available(),
        )

    @app.get("/versions/{name}")
    def version_page(name: str):
        detail = home.version_detail(paths, name)
        return render("version", title=name, charts=charts.available(), **detail)

    # -- the blind test (the one page that writes: a pick, with the page's form token) ----------

    form_token = secrets.token_urlsafe(16)

    def blind_version(version: str | None) -> str:
        if version:
            return version
        _, current, _ = home.registry_snapshot(paths)
        if current is None:
            raise UserError("no promoted version yet: nothing to take the blind test on")
        return current

    @app.get(BLINDTEST)
    def blindtest_page(version: str | None = None):
        from personaforge.blindtest import next_pair, summary

        name = blind_version(version)
        pair, answered, total = next_pair(paths, name)
        return render(
            "blindtest",
            title="Blind test",
            version=name,
            pair=pair,
            answered=answered,
            total=total,
            summary=summary(paths, name),
            token=form_token,
        )

    @app.post(BLINDTEST)
    async def blindtest_pick(request: Request):
        from urllib.parse import parse_qs

        from personaforge.blindtest import blind_pairs, record

        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if not secrets.compare_digest(form.get("token", "").encode(), form_token.encode()):
            return error_page(403, "this pick came without the page's form token; reload the page")
        name = blind_version(form.get("version"))
        pair = next((p for p in blind_pairs(paths, name) if p.id == form.get("pair")), None)
        if pair is None:
            return error_page(404, f"no pair '{form.get('pair')}' for {name}")
        if form.get("picked") in ("a", "b"):
            record(paths, pair, form["picked"])
        return RedirectResponse(f"{BLINDTEST}?{urlencode({'version': name})}", status_code=303)

    @app.get("/compare")
    def compare_page(a: str | None = None, b: str | None = None):
        versions, current, _ = home.registry_snapshot(paths)
        names = [v.name for v in versions]
        if not names:
            return render("compare", title="Compare", names=[], pair=[], current=current)
        a = a or (names[-2] if len(names) > 1 else names[-1])
        b = b or names[-1]
        pair = [home.version_detail(paths, a), home.version_detail(paths, b)]
        return render(
            "compare",
            title=f"{a} vs {b}",
            names=names,
            pair=pair,
            current=current,
            charts=charts.available(),
            hyper=differences(pair),
            gates=gate_pairs(pair),
            prompts=prompts_of(pair),
        )

    # -- data ---------------------------------------------------------------------------------------

    @app.get("/data")
    def data_page(dataset: str | None = None):
        manifests = home.datasets(paths)
        chosen = next((m for m in manifests if m["id"] == dataset), None) if dataset else None
        if dataset and chosen is None:
            raise home.NotFound(f"no dataset {dataset!r}")
        return render(
            "data",
            title="Data",
            stats=home.memory_stats(paths),
            manifests=manifests,
            manifest=chosen or (manifests[0] if manifests else None),
            profile=home.profile_text(paths),
            charts=charts.available(),
        )

    return app


def differences(pair: list[dict[str, Any]]) -> list[tuple[str, Any, Any, bool]]:
    """Hyperparameters of two versions side by side: (name, a, b, differs)."""
    a, b = (detail["card"].get("hyperparameters") or {} for detail in pair)
    return [(key, a.get(key), b.get(key), a.get(key) != b.get(key)) for key in sorted({*a, *b})]


def gate_pairs(pair: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(metric, "base -> a", "base -> b") for each gate metric either version was measured on."""
    cells: dict[str, list[str]] = {}
    for index, detail in enumerate(pair):
        for row in (detail["gate"] or {}).get("rows", []):
            cells.setdefault(row[0], ["-", "-"])[index] = f"{row[1]} → {row[2]}"
    return [(metric, *values) for metric, values in cells.items()]


def prompts_of(pair: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The showcase prompts with the base's answer and each version's, where evaluated."""
    rows: dict[str, dict[str, str]] = {}
    for index, detail in enumerate(pair):
        for item in (detail["evaluation"] or {}).get("generations", []):
            prompt = item.get("prompt", "")
            row = rows.setdefault(prompt, {"prompt": prompt, "base": item.get("base", "")})
            row[f"v{index}"] = item.get("candidate", "")
    return list(rows.values())
