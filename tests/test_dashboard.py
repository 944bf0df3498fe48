"""The dashboard over HTTP: pages on trained micro versions, the live event stream, and its guard.

A real server (uvicorn in a thread) on a home with two micro versions: v1
promoted, v2 trained on top of it and evaluated against v1.
Requests go through http.client so a test can send any raw path or Host.
"""

from __future__ import annotations

import http.client
import json
import shutil
import sys
import types
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from personaforge.dashboard import home, start_dashboard
from personaforge.dashboard.live import LogTail, eta_seconds, summarize
from personaforge.errors import UserError
from personaforge.paths import Paths
from tests.helpers import micro_home, micro_settings

GATE = {
    "memorisation_prompts": 2,
    "max_eval_examples": 4,
    "general_texts": 4,
    "max_new_tokens": 8,
}
SECRET_KEY = "sk-proj-" + "Zq9" * 12  # matches the api_key detector


def build_dashboard_home(tmp_path_factory, micro_models_dir, sample_data) -> Paths:
    """v1 (promoted, not evaluated) and v2 (from v1, evaluated against it): built once per session."""
    from personaforge.evaluate import evaluate_version
    from personaforge.registry import Registry
    from personaforge.train.run import TrainRequest, train

    root = tmp_path_factory.getbasetemp() / "dashboard-home"
    if (root / "ready").exists():
        return Paths(root / "home")
    if root.exists():
        shutil.rmtree(root)
    root.mkdir()
    paths = micro_home(root, micro_models_dir, sample_data)
    settings = micro_settings(GATE, max_steps=8, eval_steps=4, save_steps=100)
    train(paths, settings, TrainRequest(fresh=True, show_progress=False))
    with Registry.open(paths) as registry:
        registry.promote("v1")
    train(
        paths,
        micro_settings(GATE, max_steps=10, eval_steps=5, seed=7),
        TrainRequest(show_progress=False),
    )
    report = evaluate_version(paths, settings, "v2", "v1")  # one evaluation: the slow part
    with Registry.open(paths) as registry:
        registry.record_evaluation("v2", report.verdict)
    (root / "ready").touch()
    return paths


@pytest.fixture(scope="module")
def shared_home(tmp_path_factory, micro_models_dir, sample_data) -> Paths:
    return build_dashboard_home(tmp_path_factory, micro_models_dir, sample_data)


@pytest.fixture(scope="module")
def dash(shared_home):
    handle = start_dashboard(shared_home, port=0)
    yield shared_home, handle.url
    handle.stop()


@pytest.fixture
def home_copy(shared_home, tmp_path) -> Paths:
    """A private copy of the trained home, for tests that change it."""
    copy = tmp_path / "copy"
    shutil.copytree(shared_home.home, copy, symlinks=True)
    return Paths(copy)


@pytest.fixture
def served_copy(home_copy):
    handle = start_dashboard(home_copy, port=0)
    yield home_copy, handle.url
    handle.stop()


def get(url: str, path: str, headers: dict | None = None, method: str = "GET"):
    """(status, headers, body) for a raw request path: nothing is normalised on the way."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return response.status, headers, response.read().decode()
    finally:
        connection.close()


class EventReader:
    """Reads one Server-Sent Events stream event by event."""

    def __init__(self, url: str, path: str):
        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        self.connection.request("GET", path)
        self.response = self.connection.getresponse()
        assert self.response.status == 200
        assert self.response.getheader("content-type").startswith("text/event-stream")

    def next(self) -> tuple[str, object]:
        name, data = None, []
        while True:
            line = self.response.readline().decode()
            if not line:
                raise EOFError("stream closed")
            if line == "\n" and name:
                return name, json.loads("".join(data))
            if line.startswith("event: "):
                name = line[len("event: ") :].strip()
            elif line.startswith("data: "):
                data.append(line[len("data: ") :].rstrip("\n"))

    def until(self, wanted: str, limit: int = 50) -> list[tuple[str, object]]:
        seen = []
        for _ in range(limit):
            seen.append(self.next())
            if seen[-1][0] == wanted:
                return seen
        raise AssertionError(f"no {wanted!r} event in {seen}")

    def close(self) -> None:
        self.connection.close()


# -- pages ------------------------------------------------------------------------------------------


def test_versions_page_lists_versions_with_status_current_mark_and_lineage(dash):
    _, url = dash
    status, headers, body = get(url, "/versions")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert 'data-version="v1"' in body and 'data-version="v2"' in body
    v1_row = body.split('data-version="v1"')[1].split("</tr>")[0]
    v2_row = body.split('data-version="v2"')[1].split("</tr>")[0]
    assert "promoted" in v1_row and "current" in v1_row and "not evaluated" in v1_row
    assert "candidate" in v2_row and "current" not in v2_row and "not evaluated" not in v2_row
    # lineage: v2 is nested under v1, v1 under the base
    lineage = body.split('class="lineage"')[1]
    assert lineage.index('href="/versions/v1"') < lineage.index('href="/versions/v2"')
    assert lineage.count('<ul class="tree">') == 2


def test_version_page_shows_gate_table_verdict_loss_curve_and_answers(dash):
    from personaforge.evaluate import SHOWCASE

    paths, url = dash
    evaluation = json.loads((paths.adapters / "v2" / "evaluation.json").read_text())
    status, _, body = get(url, "/versions/v2")
    assert status == 200
    for metric in ("style perplexity (held-out)", "general perplexity", "probes passed"):
        assert metric in body
    assert "<th>current</th>" in body  # v2 was measured against the promoted v1
    assert f"gate: {evaluation['verdict']['decision']}" in body
    style = evaluation["metrics"]["candidate"]["style_ppl"]
    assert f"{style:.3f}" in body
    assert '<img src="/charts/version/v2.svg"' in body
    assert all(prompt in body for prompt in SHOWCASE)
    assert "Not evaluated yet" in get(url, "/versions/v1")[2]
    status, headers, chart = get(url, "/charts/version/v2.svg")
    assert status == 200 and headers["content-type"] == "image/svg+xml"
    assert "<svg" in chart and chart.count("<path") > 10


def test_version_page_shows_what_the_persona_knows(dash):
    """The fact benchmark: three accuracies, a row per question, the gate's knows line."""
    import html

    paths, url = dash
    evaluation = json.loads((paths.adapters / "v2" / "evaluation.json").read_text())
    facts = evaluation["metrics"]["candidate"]["facts"]
    body = get(url, "/versions/v2")[2]
    assert f"Fact accuracy on {facts['n']} questions about the person" in body
    assert f"v2 + memories <b>{facts['grounded']:.2f}</b>" in body
    assert "fact accuracy (with memories)" in body  # the gate table's row
    assert "knows: " in body and "<th>v2 + memories</th>" in body
    assert facts["n"] == len(facts["answers"]) > 0
    for row in facts["answers"]:
        assert html.escape(row["question"], quote=False) in body


def test_compare_page_puts_two_versions_side_by_side(dash):
    _, url = dash
    status, _, body = get(url, "/compare?a=v1&b=v2")
    assert status == 200
    assert "<th>v1</th>" in body and "<th>v2</th>" in body
    assert 'src="/charts/compare.svg?a=v1&amp;b=v2"' in body
    # hyperparameters that differ are marked: v2 trained 10 steps with seed 7, v1 8 steps with seed 42
    assert '<tr class="differs"><td>max_steps</td><td>8</td><td>10</td></tr>' in body
    assert get(url, "/charts/compare.svg?a=v1&b=v2")[0] == 200
    assert get(url, "/compare?a=v1&b=v7")[0] == 404


def test_without_matplotlib_pages_say_so_and_draw_no_chart(dash, monkeypatch):
    from personaforge.dashboard import charts

    _, url = dash
    monkeypatch.setattr(charts, "available", lambda: False)
    for page in ("/live", "/versions/v2", "/compare?a=v1&b=v2", "/data"):
        status, _, body = get(url, page)
        assert status == 200 and "<img" not in body, page
    assert "Charts need matplotlib" in get(url, "/live")[2]
    assert get(url, "/charts/version/v2.svg")[0] == 404


def test_runs_page_lists_training_runs_and_says_when_no_pipeline_run_exists(dash, monkeypatch):
    paths, url = dash
    monkeypatch.setitem(sys.modules, "personaforge.pipeline", None)  # as before `run` existed
    status, _, body = get(url, "/runs")
    assert status == 200 and "No runs recorded yet" in body
    for folder in paths.runs.iterdir():
        assert f'href="/live/run/{folder.name}"' in body
    assert body.count('<span class="badge finished">finished</span>') == 2


def test_runs_page_reads_the_pipeline_module(dash, monkeypatch):
    """The contract the dashboard expects from personaforge.pipeline (see docs/dashboard.md)."""
    _, url = dash
    run = {
        "id": 7,
        "trigger": "schedule",
        "started_at": "2026-03-01T03:00:00+00:00",
        "finished_at": "2026-03-01T03:20:00+00:00",
        "status": "failed",
        "stages": [
            {
                "name": "ingest",
                "status": "done",
                "seconds": 1.5,
                "numbers": {"added": 12},
                "summary": "12 new memories",
            },
            {"name": "train", "status": "failed", "seconds": 30.0, "numbers": {}},
        ],
        "version": None,
        "error": f"train: cannot read {SECRET_KEY}",
    }

    def get_run(paths, run_id):
        if run_id != 7:  # the pipeline numbers its runs
            raise UserError(f"no run {run_id}")
        return run

    module = types.ModuleType("personaforge.pipeline")
    module.list_runs = lambda paths: [run]
    module.get_run = get_run
    monkeypatch.setitem(sys.modules, "personaforge.pipeline", module)
    status, _, body = get(url, "/runs")
    assert status == 200 and 'href="/runs/7"' in body and "schedule" in body
    assert '<span class="stage failed" title="failed">train</span>' in body
    status, _, body = get(url, "/runs/7")
    assert status == 200 and "added <b>12</b>" in body and "<td>30</td>" in body
    assert "<td>12 new memories</td>" in body
    assert SECRET_KEY not in body and "[API_KEY]" in body  # an error message is redacted too
    assert get(url, "/runs/8")[0] == 404


def test_runs_page_shows_a_run_recorded_by_the_real_pipeline(served_copy):
    """Against `personaforge run`'s own record: a broken import fails here, it never skips."""
    from personaforge import pipeline, runs

    assert pipeline.list_runs and pipeline.get_run  # the contract the runs page reads
    paths, url = served_copy
    with runs.RunLog.open(paths) as log:
        record = log.start("schedule", {})
        log.save_stage(record, runs.StageRecord("ingest", "done", 2.5, {"added": 5}, "5 new"))
        record.version = "v2"
        log.finish(record, "finished")
    body = get(url, "/runs")[2]
    assert f'href="/runs/{record.id}"' in body and "schedule" in body
    status, _, body = get(url, f"/runs/{record.id}")
    assert status == 200 and "<td>5 new</td>" in body and "added <b>5</b>" in body
    assert 'href="/versions/v2"' in body


def test_data_page_shows_counts_and_never_a_secret(served_copy):
    from personaforge.dataset.build import list_datasets
    from personaforge.evaluate import store_secrets
    from personaforge.store import MemoryStore

    paths, url = served_copy
    (paths.home / "USER_PROFILE.md").write_text(
        f"# Profile\n\nWrites short notes. key {SECRET_KEY}\n"
    )
    status, _, body = get(url, "/data")
    assert status == 200
    with MemoryStore.open(paths.memory_store) as store:
        stats = store.stats()
    assert len(stats["by_source"]) >= 5 and len(stats["by_month"]) >= 5  # the sample person
    for source, count in stats["by_source"].items():
        assert f"<tr><td>{source}</td><td>{count}</td></tr>" in body
    for month, count in stats["by_month"].items():
        assert f"<tr><td>{month}</td><td>{count}</td></tr>" in body
    manifest = list_datasets(paths)[0]
    privacy = manifest["privacy"]
    assert privacy["findings"] > 0 and privacy["by_kind"]
    assert "list" not in home.datasets(paths)[0]["privacy"]  # the page never gets the findings
    for kind, count in privacy["by_kind"].items():
        assert f"{kind} <b>{count}</b>" in body
    assert "Writes short notes." in body and "[API_KEY]" in body
    # Neither a secret from the store nor the manifest's masked previews of them reach the page.
    secrets = store_secrets(paths)
    assert secrets
    assert not any(value.splitlines()[0] in body for _, value in secrets)
    assert not any(finding["preview"] in body for finding in privacy["list"])
    assert SECRET_KEY not in body
    assert get(url, "/charts/memories-by-month.svg")[0] == 200


def test_model_answers_are_redacted(served_copy):
    paths, url = served_copy
    path = paths.adapters / "v2" / "evaluation.json"
    evaluation = json.loads(path.read_text())
    evaluation["generations"][0]["candidate"] = f"my key is {SECRET_KEY}"
    path.write_text(json.dumps(evaluation))
    body = get(url, "/versions/v2")[2]
    assert "my key is [API_KEY]" in body and SECRET_KEY not in body


# -- the live stream ----------------------------------------------------------------------------------


def test_event_stream_replays_a_finished_version(dash):
    paths, url = dash
    lines = (paths.adapters / "v1" / "metrics.jsonl").read_text().splitlines()
    reader = EventReader(url, "/events/version/v1")
    try:
        events = reader.until("status")
    finally:
        reader.close()
    names = [name for name, _ in events]
    assert names[0] == "run" and events[0][1]["chart"] == "/charts/version/v1.svg"
    records = [r for name, data in events if name == "records" for r in data["records"]]
    assert len(records) == len(lines)
    summary = next(data for name, data in reversed(events) if name == "records")["summary"]
    assert summary["step"] == summary["max_steps"] == 8
    last_loss = next(r["loss"] for r in map(json.loads, reversed(lines)) if "loss" in r)
    assert summary["text"]["loss"] == f"{last_loss:.4f}"
    assert events[-1][1] == {"status": "finished", "version": "v1", "final": True}


def test_event_stream_follows_the_newest_run_as_its_log_grows(served_copy):
    paths, url = served_copy
    folder = paths.runs / "sft-0123456789"
    folder.mkdir()
    (folder / "run.json").write_text(json.dumps({"status": "running"}))

    def record(step: int, **extra) -> str:
        base = {"step": step, "max_steps": 10, "time": float(step), "tokens_per_second": 100.0}
        return json.dumps({**base, **extra}) + "\n"

    log = folder / "metrics.jsonl"
    log.write_text(record(1, loss=3.0) + record(2, loss=2.5))
    reader = EventReader(url, "/events/live")
    try:
        name, data = reader.next()
        assert name == "run" and data["name"] == "sft-0123456789"
        name, data = reader.next()
        assert name == "records" and [r["step"] for r in data["records"]] == [1, 2]
        name, data = reader.next()
        assert name == "status" and data["status"] == "stopped"  # no training process holds a lock
        # Two more lines and half of a third: only the complete ones are sent.
        with log.open("a") as handle:
            handle.write(record(3, loss=2.0) + record(4, eval_loss=2.2) + record(5)[:10])
        name, data = reader.next()
        assert name == "records" and [r["step"] for r in data["records"]] == [3, 4]
        assert data["summary"]["step"] == 4 and data["summary"]["records"] == 4
        assert data["summary"]["text"]["loss"] == "2.0000"
        assert data["summary"]["text"]["eval_loss"] == "2.2000"
        assert data["summary"]["text"]["eta"] == "0:00:06"  # 1 s per step, 6 steps to go
        with log.open("a") as handle:
            handle.write(record(5, loss=1.5)[10:])
        name, data = reader.next()
        assert name == "records" and [r["step"] for r in data["records"]] == [5]
        assert data["summary"]["text"]["loss"] == "1.5000"
    finally:
        reader.close()


def test_eta_uses_the_latest_session_and_ignores_the_eval_before_training():
    records = [
        # held-out loss before training: logged before the trainer's clock starts
        {"step": 0, "max_steps": 0, "time": 952.5, "eval_loss": 4.9},
        {"step": 1, "max_steps": 100, "time": 5.0, "loss": 4.8},
        {"step": 10, "max_steps": 100, "time": 50.0, "loss": 4.0},
        # resumed from the step-8 checkpoint: a new clock, 2 s per step now
        {"step": 9, "max_steps": 100, "time": 3.0, "loss": 4.1},
        {"step": 20, "max_steps": 100, "time": 25.0, "loss": 3.0},
    ]
    assert eta_seconds(records) == pytest.approx(2.0 * 80)
    assert eta_seconds(records[:2]) is None  # one timed record: no pace yet
    summary = summarize(records)
    assert summary["step"] == 20 and summary["max_steps"] == 100
    assert summary["text"]["eta"] == "0:02:40" and summary["text"]["loss"] == "3.0000"
    assert summary["text"]["eval_loss"] == "4.9000"


def test_log_tail_sends_complete_lines_and_notices_a_restarted_log(tmp_path):
    log = tmp_path / "metrics.jsonl"
    tail = LogTail(tmp_path)
    assert tail.read() == ([], False)
    log.write_text('{"step": 1}\n{"step": 2}\nnot json\n{"step"')
    assert tail.read() == ([{"step": 1}, {"step": 2}], False)
    assert tail.read() == ([], False)
    log.unlink()
    log.write_text('{"step": 1}\n')  # the same training started over
    assert tail.read() == ([{"step": 1}], True)


# -- the guard ------------------------------------------------------------------------------------------


def test_binding_off_loopback_needs_a_key(paths, capsys):
    from personaforge.cli import main

    with pytest.raises(UserError, match=r"refusing to listen on 0\.0\.0\.0 without an API key"):
        start_dashboard(paths, host="0.0.0.0", port=0)
    with pytest.raises(SystemExit) as exit_:
        main(["dashboard", "--host", "0.0.0.0", "--port", "0"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith("error: refusing to listen on 0.0.0.0")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_key_is_needed_on_every_request_when_set(paths):
    key = "k3y-" + "x" * 20
    handle = start_dashboard(paths, port=0, api_key=key)
    try:
        assert get(handle.url, "/versions")[0] == 401
        assert get(handle.url, "/static/dashboard.js")[0] == 401
        assert get(handle.url, "/versions?key=wrong")[0] == 401
        status, headers, _ = get(handle.url, f"/data?dataset=x&key={key}")
        assert status == 303 and headers["location"] == "/data?dataset=x"
        cookie = headers["set-cookie"]
        assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
        cookie_header = {"Cookie": cookie.split(";")[0]}
        assert get(handle.url, "/versions", cookie_header)[0] == 200
        assert get(handle.url, "/versions", {"Authorization": f"Bearer {key}"})[0] == 200
        assert get(handle.url, "/versions", {"Authorization": "Bearer nope"})[0] == 401
    finally:
        handle.stop()


def test_only_loopback_host_names_and_reads_are_answered(dash):
    _, url = dash
    port = urlsplit(url).port
    assert get(url, "/versions", {"Host": "evil.example"})[0] == 400  # DNS rebinding
    assert get(url, "/versions", {"Host": f"evil.example:{port}"})[0] == 400
    assert get(url, "/versions", {"Host": f"localhost:{port}"})[0] == 200
    assert get(url, "/versions", method="POST")[0] == 405
    headers = get(url, "/versions")[1]
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"


def test_no_request_reads_outside_the_home(served_copy, tmp_path):
    paths, url = served_copy
    marker = "OUTSIDE-MARKER-4242"
    outside = tmp_path / "outside"
    outside.mkdir()
    card = json.loads((paths.adapters / "v1" / "personaforge.json").read_text())
    (outside / "personaforge.json").write_text(
        json.dumps({**card, "version": "v99", "parent": marker})
    )
    (outside / "evaluation.json").write_text(json.dumps({"verdict": {"decision": marker}}))
    line = json.dumps({"step": 3, "max_steps": 9, "time": 1.0, "loss": 987654.25, "note": marker})
    (outside / "metrics.jsonl").write_text(line + "\n")
    (outside / "run.json").write_text(json.dumps({"status": "running", "version": marker}))
    (outside / "manifest.json").write_text(json.dumps({"id": "ds-evil", "created_at": marker}))
    (paths.adapters / "v99").symlink_to(outside, target_is_directory=True)
    (paths.runs / "sft-evil").symlink_to(outside, target_is_directory=True)
    (paths.datasets / "ds-evil").symlink_to(outside, target_is_directory=True)
    real_run = next(p for p in paths.runs.iterdir() if not p.is_symlink())
    (real_run / "metrics.jsonl").unlink()
    (real_run / "metrics.jsonl").symlink_to(outside / "metrics.jsonl")
    (paths.home / "USER_PROFILE.md").symlink_to(outside / "run.json")

    probes = [
        "/versions/v99",
        "/live/version/v99",
        "/events/version/v99",
        "/charts/version/v99.svg",
        "/compare?a=v1&b=v99",
        "/charts/compare.svg?a=v99&b=v1",
        "/live/run/sft-evil",
        "/events/run/sft-evil",
        "/charts/run/sft-evil.svg",
        "/data?dataset=ds-evil",
        "/data?dataset=../../outside",
        "/versions/..",
        "/versions/%2e%2e",
        "/versions/..%2F..%2F..%2Fetc%2Fpasswd",
        "/live/run/..%2F..%2Fadapters%2Fv1",
        "/live/version/%2Fetc%2Fpasswd",
        "/charts/run/..%2Fsft-evil.svg",
        "/live/file/etc",
        "/static/../registry.db",
        "/static/..%2F..%2Fregistry.db",
        "/static/%2e%2e/%2e%2e/home.py",
        "//etc/passwd",
        "/runs/..%2F..%2Fetc",
    ]
    for probe in probes:
        status, _, body = get(url, probe)
        assert status in (400, 404), (probe, status)
        assert marker not in body and "root:x:0:0" not in body, probe
    for page in ("/versions", "/runs", "/data", f"/live/run/{real_run.name}"):
        status, _, body = get(url, page)
        assert status == 200 and marker not in body, page
    assert "v99" not in get(url, "/versions")[2]
    # The real run's log is now a symlink out: its stream and chart show nothing from it.
    reader = EventReader(url, f"/events/run/{real_run.name}")
    try:
        events = reader.until("status")
    finally:
        reader.close()
    assert all(name != "records" for name, _ in events)
    assert "987654" not in json.dumps(events)
    assert marker not in get(url, f"/charts/run/{real_run.name}.svg")[2]


def test_train_help_offers_the_dashboard(capsys):
    from personaforge.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0  # --help is a success
    assert "--dashboard" in out and "--dashboard-port" in out


def test_a_busy_port_is_a_clear_error(paths):
    first = start_dashboard(paths, port=0)
    try:
        port = urlsplit(first.url).port
        with pytest.raises(UserError, match=f"cannot listen on 127.0.0.1:{port}"):
            start_dashboard(paths, port=port)
    finally:
        first.stop()


def test_an_empty_home_renders_every_page(paths):
    handle = start_dashboard(paths, port=0)
    try:
        for page, text in (
            ("/live", "Follows the newest training run"),
            ("/runs", "No training runs yet"),
            ("/versions", "No versions yet"),
            ("/compare", "No versions yet"),
            ("/data", "No memory store yet"),
        ):
            status, _, body = get(handle.url, page)
            assert status == 200 and text in body, page
        reader = EventReader(handle.url, "/events/live")
        try:
            assert reader.next() == ("idle", {"message": "no training has run in this home yet"})
        finally:
            reader.close()
    finally:
        handle.stop()
    assert not Path(paths.home).exists()  # looking created nothing
