"""The dashboard in a real headless Chromium: Debian's `chromium`, driven by Playwright.

Playwright only drives the browser at /usr/bin/chromium (never `playwright
install`). Without chromium or the playwright package every test here skips
with the reason; `make browser` (part of `make test-full` and .ci/run) installs
chromium. Screenshots of every page go to bench/out/screenshots/ (git-ignored).

The page's Content-Security-Policy forbids eval, so the tests poll the DOM from
Python instead of using Playwright's wait_for_function.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from personaforge.dashboard import start_dashboard
from tests.helpers import micro_home
from tests.test_dashboard import build_dashboard_home

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed (the [dev] extra)"
)
CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on this machine (`make browser` installs Debian's)"
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "bench" / "out" / "screenshots"


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh page; every console error (a CSP violation, a 404, a script error) is collected."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.errors = []
    page.on("console", lambda message: message.type == "error" and page.errors.append(message.text))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


def shoot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000  # a page with content, not a blank frame
    return path


def wait_for(read: Callable[[], object], ok: Callable[[object], bool], what: str, timeout=180):
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = read()
        if ok(value):
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last seen {value!r}")


def step_of(page) -> int:
    return int(page.text_content("#step") or 0)


def chart_drawn(page, selector: str) -> bool:
    return page.locator(selector).evaluate("img => img.complete && img.naturalWidth > 0")


def test_live_view_updates_while_a_micro_training_runs(
    page, tmp_path, micro_models_dir, sample_data
):
    """`personaforge train --dashboard` prints the URL; the page's step count rises as it trains."""
    paths = micro_home(tmp_path, micro_models_dir, sample_data)
    settings = {
        "model.base": "tiny:micro",
        "train.logging_steps": 1,
        "train.eval_steps": 100000,
        "train.save_steps": 100000,
        "train.batch_size": 4,
        "train.lora_rank": 4,
        "train.max_seq_length": 256,
    }
    command = [sys.executable, "-m", "personaforge", "--home", str(paths.home)]
    command += [arg for key, value in settings.items() for arg in ("--set", f"{key}={value}")]
    # Far more steps than the test waits for: it stops the training once it has seen two reads.
    command += ["train", "--fresh", "--max-steps", "5000", "--dashboard", "--dashboard-port", "0"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    process = subprocess.Popen(
        command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, text=True
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(line) for line in process.stderr], daemon=True
    ).start()
    try:
        url = None
        deadline = time.monotonic() + 180
        while url is None and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                assert process.poll() is None, (
                    "the training exited before printing the dashboard URL"
                )
                continue
            found = re.search(r"dashboard: (http://127\.0\.0\.1:\d+/live)", line)
            url = found.group(1) if found else None
        assert url, "no dashboard URL printed"
        page.goto(url)
        # Generous limits for a busy 2-core machine: loading, the held-out loss before training
        # and the first step come first. Typically the first step shows within a minute.
        first = wait_for(lambda: step_of(page), lambda s: s >= 1, "the first step", timeout=600)
        second = wait_for(lambda: step_of(page), lambda s: s > first, "a later step", timeout=300)
        assert second > first >= 1
        assert page.text_content("#max-steps") == "5000"
        assert page.text_content("#live-status") == "running"
        assert page.text_content("#live-title").startswith("training run sft-")
        wait_for(
            lambda: page.text_content("#f-eta"),
            lambda eta: re.fullmatch(r"\d+:\d\d:\d\d", eta),
            "an ETA",
        )
        assert page.text_content("#f-tokens_per_second") != "-"
        assert page.text_content("#f-peak_memory").endswith("GiB")
        wait_for(lambda: chart_drawn(page, "#live-chart"), bool, "the live chart")
        shoot(page, "live")
        assert page.errors == []
    finally:
        process.terminate()
        process.wait(timeout=60)


@pytest.fixture(scope="module")
def served(tmp_path_factory, micro_models_dir, sample_data):
    paths = build_dashboard_home(tmp_path_factory, micro_models_dir, sample_data)
    handle = start_dashboard(paths, port=0)
    yield paths, handle.url
    handle.stop()


def test_versions_page_shows_the_trained_versions(page, served):
    _, url = served
    page.goto(f"{url}/versions")
    rows = page.locator("#versions tbody tr")
    assert rows.count() == 2
    assert [rows.nth(i).get_attribute("data-version") for i in range(2)] == ["v2", "v1"]
    assert "current" in rows.nth(1).inner_text() and "promoted" in rows.nth(1).inner_text()
    shoot(page, "versions")
    page.click("#versions a[href='/versions/v2']")
    page.wait_for_url(f"{url}/versions/v2")
    assert "style perplexity (held-out)" in page.inner_text("table.gate")
    assert page.locator("table.answers:not(.knows) tbody tr").count() == 4
    wait_for(lambda: chart_drawn(page, "figure.chart img"), bool, "the loss chart")
    shoot(page, "version")
    page.goto(f"{url}/versions")
    page.select_option("select[name=a]", "v1")
    page.select_option("select[name=b]", "v2")
    page.click("form.compare button")
    page.wait_for_url(f"{url}/compare?a=v1&b=v2")
    assert page.locator(".side-by-side section").count() == 2
    wait_for(lambda: chart_drawn(page, "figure.chart img"), bool, "the comparison chart")
    shoot(page, "compare")
    assert page.errors == []


def test_a_finished_training_replays_and_the_other_pages_render(page, served):
    paths, url = served
    records = len((paths.adapters / "v1" / "metrics.jsonl").read_text().splitlines())
    page.goto(f"{url}/live/version/v1")
    wait_for(lambda: page.text_content("#record-count"), lambda n: n == str(records), "the replay")
    assert page.text_content("#live-status") == "finished"
    assert page.text_content("#step") == page.text_content("#max-steps") == "8"
    wait_for(lambda: chart_drawn(page, "#live-chart"), bool, "the replayed chart")
    shoot(page, "live-replay")
    page.goto(f"{url}/runs")
    assert page.locator("text=replay").count() == 2
    shoot(page, "runs")
    page.goto(f"{url}/data")
    assert page.locator("#by-source tbody tr").count() >= 3
    assert page.locator("#privacy").is_visible()
    wait_for(lambda: chart_drawn(page, "figure.chart img"), bool, "the months chart")
    shoot(page, "data")
    assert page.errors == []
