"""The HTTP dashboard: its JSON API over urllib, and the page in headless
Chromium driven through chromedriver's WebDriver protocol."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import eventually, free_port
from workpool_server.app import RunningServer

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Without the background-networking flags Chromium keeps trying to reach
# Google's hosts, which this test machine's closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,900",
]
UNKNOWN_ID = "wk_01JD9V6GQ8M3T6Y4D3W0Y5B7ZC"
ELEMENT_KEY = "element-6066-11e4-a52e-4f735466cecf"


@pytest.fixture
async def server(make_server) -> RunningServer:
    """A server with the dashboard on a random loopback port, real clock."""
    return await make_server(http_listen="127.0.0.1:0")


@pytest.fixture
def base_url(server: RunningServer) -> str:
    return f"http://127.0.0.1:{server.http_port}"


@pytest.fixture
async def busy_pools(workpool_client, scripted_workers) -> dict[str, Any]:
    """Two pools: "emails" with 6 items (1 finished, 2 running, 3 pending)
    and "reports" with 2 pending items and no worker."""
    await workpool_client.create_pool("emails", max_parallelism=2)
    await workpool_client.create_pool("reports", max_parallelism=3)
    emails = [
        await workpool_client.enqueue("emails", "email.send", {"n": n})
        for n in range(6)
    ]
    reports = [await workpool_client.enqueue("reports", "report.build") for _ in "ab"]
    worker = await scripted_workers(["emails"], ["email.send"], capacity=4)
    await worker.wait_started(2)
    await worker.succeed(worker.started[0].work_id)
    await worker.wait_started(3)
    return {"emails": emails, "reports": reports, "worker": worker}


def _request(
    url: str, method: str = "GET", body: Any = None, headers: dict | None = None
) -> tuple[int, dict[str, str], bytes]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


async def fetch(url: str, method: str = "GET", body: Any = None, **kwargs: Any):
    """Make a request off the event loop, which the server under test needs."""
    return await asyncio.to_thread(_request, url, method, body, **kwargs)


async def fetch_json(url: str, method: str = "GET", body: Any = None, **kwargs):
    status, headers, raw = await fetch(url, method, body, **kwargs)
    assert headers["Content-Type"] == "application/json"
    return status, json.loads(raw)


# JSON API


async def test_pools_lists_counts_and_settings(base_url, busy_pools):
    status, data = await fetch_json(f"{base_url}/api/pools")

    assert status == 200
    pools = {pool["name"]: pool for pool in data["pools"]}
    assert list(pools) == ["emails", "reports"]
    emails, reports = pools["emails"], pools["reports"]
    assert emails["max_parallelism"] == 2
    assert emails["running"] == 2
    assert emails["pending"] == 3
    assert emails["completed_total"] == 1
    assert emails["oldest_ready_age_seconds"] >= 0
    assert reports["running"] == 0
    assert reports["pending"] == 2
    assert reports["completed_total"] == 0
    assert reports["retry_by_default"] is False
    assert reports["status_ttl_seconds"] > 0


async def test_pools_empty_server(base_url):
    status, data = await fetch_json(f"{base_url}/api/pools")

    assert status == 200
    assert data["pools"] == []


async def test_work_shows_status_and_explain(base_url, busy_pools):
    work_id = busy_pools["reports"][0]

    status, data = await fetch_json(f"{base_url}/api/work/{work_id}")

    assert status == 200
    assert data["status"]["work_id"] == work_id
    assert data["status"]["state"] == "pending"
    assert data["status"]["pool"] == "reports"
    assert data["explain"]["reason"] == "no_worker"
    assert "report.build" in data["explain"]["detail"]


async def test_work_lists_attempts(base_url, busy_pools):
    finished = busy_pools["worker"].started[0].work_id
    running = busy_pools["worker"].started[1].work_id

    _, finished_data = await fetch_json(f"{base_url}/api/work/{finished}")
    _, running_data = await fetch_json(f"{base_url}/api/work/{running}")
    _, pending_data = await fetch_json(
        f"{base_url}/api/work/{busy_pools['reports'][0]}"
    )

    [done] = finished_data["attempts"]
    assert done["attempt"] == 1
    assert done["worker_name"] == "scripted"
    assert done["worker_id"].startswith("ws_")
    assert done["outcome"] == "success"
    assert done["ended_at_seconds"] >= done["started_at_seconds"]
    assert done["error"] == ""
    [active] = running_data["attempts"]
    assert active["outcome"] is None
    assert active["ended_at_seconds"] is None
    assert pending_data["attempts"] == []


async def test_pool_failures_list_final_failures(base_url, busy_pools, workpool_client):
    worker = busy_pools["worker"]
    running = [s.work_id for s in worker.started if s.work_id in worker.running]
    await worker.fail(running[0], "smtp: connection refused\nretry later")
    await worker.wait_started(4)

    status, body = await fetch_json(base_url + "/api/pools/emails/failures")
    _, pools = await fetch_json(base_url + "/api/pools")

    assert status == 200
    [failure] = body["failures"]
    assert failure["work_id"] == running[0]
    assert failure["function"] == "email.send"
    assert failure["attempts"] == 1
    assert failure["error"] == "smtp: connection refused\nretry later"
    emails = next(pool for pool in pools["pools"] if pool["name"] == "emails")
    assert emails["failed_total"] == 1
    assert emails["retried_total"] == 0
    assert emails["completed_total"] == 2


async def test_pool_failures_errors(base_url):
    missing, body = await fetch_json(base_url + "/api/pools/ghost/failures")
    malformed, _ = await fetch_json(base_url + "/api/pools/a%20b/failures")

    assert missing == 404
    assert "ghost" in body["error"]
    assert malformed == 400


async def test_work_malformed_id_is_400(base_url):
    status, data = await fetch_json(f"{base_url}/api/work/not-an-id")

    assert status == 400
    assert "malformed work id" in data["error"]


async def test_work_unknown_id_is_404(base_url):
    status, data = await fetch_json(f"{base_url}/api/work/{UNKNOWN_ID}")

    assert status == 404
    assert UNKNOWN_ID in data["error"]


async def test_pause_and_resume_pool(base_url, workpool_client):
    await workpool_client.create_pool("jobs", max_parallelism=4)
    url = f"{base_url}/api/pools/jobs"

    paused_status, paused = await fetch_json(url, "POST", {"max_parallelism": 0})
    paused_pool = await workpool_client.get_pool("jobs")
    resumed_status, resumed = await fetch_json(url, "POST", {"max_parallelism": 7})
    resumed_pool = await workpool_client.get_pool("jobs")

    assert paused_status == 200
    assert paused["pool"]["max_parallelism"] == 0
    assert paused_pool.max_parallelism == 0
    assert resumed_status == 200
    assert resumed["pool"]["max_parallelism"] == 7
    assert resumed_pool.max_parallelism == 7


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param({}, "is required", id="missing"),
        pytest.param(
            {"max_parallelism": "4"}, 'a whole number such as 4, got "4"', id="string"
        ),
        pytest.param(
            {"max_parallelism": True}, "a whole number such as 4, got true", id="bool"
        ),
        pytest.param({"max_parallelism": 2.5}, "got 2.5", id="fraction"),
        pytest.param({"max_parallelism": -1}, "between 0", id="negative"),
        pytest.param({"max_parallelism": 100_001}, "between 0", id="too-large"),
        pytest.param([4], "is required", id="not-an-object"),
    ],
)
async def test_set_parallelism_invalid_is_400(
    base_url, workpool_client, body, expected
):
    await workpool_client.create_pool("jobs", max_parallelism=4)

    status, data = await fetch_json(f"{base_url}/api/pools/jobs", "POST", body)

    assert status == 400
    assert expected in data["error"]
    assert (await workpool_client.get_pool("jobs")).max_parallelism == 4


async def test_set_parallelism_unknown_pool_is_404(base_url):
    status, _ = await fetch_json(
        f"{base_url}/api/pools/nothing", "POST", {"max_parallelism": 1}
    )

    assert status == 404


async def test_set_parallelism_bad_pool_name_is_400(base_url):
    status, data = await fetch_json(
        f"{base_url}/api/pools/-bad", "POST", {"max_parallelism": 1}
    )

    assert status == 400
    assert "invalid pool name" in data["error"]


async def test_post_needs_json_content_type(base_url, workpool_client):
    await workpool_client.create_pool("jobs", max_parallelism=4)
    request_body = b"max_parallelism=0"

    def post_form() -> int:
        request = urllib.request.Request(
            f"{base_url}/api/pools/jobs", data=request_body, method="POST"
        )
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    status = await asyncio.to_thread(post_form)

    assert status == 415
    assert (await workpool_client.get_pool("jobs")).max_parallelism == 4


async def test_post_from_other_origin_is_403(base_url, workpool_client):
    await workpool_client.create_pool("jobs", max_parallelism=4)

    status, _ = await fetch_json(
        f"{base_url}/api/pools/jobs",
        "POST",
        {"max_parallelism": 0},
        headers={"Origin": "http://evil.example"},
    )

    assert status == 403
    assert (await workpool_client.get_pool("jobs")).max_parallelism == 4


async def test_post_invalid_json_is_400(base_url, workpool_client):
    await workpool_client.create_pool("jobs", max_parallelism=4)

    def post_broken() -> int:
        request = urllib.request.Request(
            f"{base_url}/api/pools/jobs", data=b"{", method="POST"
        )
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10):
                return 200
        except urllib.error.HTTPError as error:
            return error.code

    assert await asyncio.to_thread(post_broken) == 400


async def test_cancel_pending_item(base_url, busy_pools, workpool_client):
    work_id = busy_pools["reports"][1]

    status, data = await fetch_json(f"{base_url}/api/work/{work_id}/cancel", "POST", {})
    after = await workpool_client.status(work_id)

    assert status == 200
    assert data == {"work_id": work_id, "outcome": "canceled"}
    assert after.state.name == "FINISHED"


async def test_cancel_errors(base_url):
    bad_status, _ = await fetch_json(f"{base_url}/api/work/nope/cancel", "POST", {})
    unknown_status, _ = await fetch_json(
        f"{base_url}/api/work/{UNKNOWN_ID}/cancel", "POST", {}
    )

    assert bad_status == 400
    assert unknown_status == 404


async def test_unknown_path_is_404(base_url):
    get_status, _ = await fetch_json(f"{base_url}/api/nothing")
    post_status, _ = await fetch_json(f"{base_url}/api/nothing", "POST", {})

    assert get_status == 404
    assert post_status == 404


async def test_metrics_still_served(base_url, busy_pools):
    status, headers, raw = await fetch(f"{base_url}/metrics")

    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=")
    assert 'workpool_completed_total{pool="emails",result="success"} 1.0' in (
        raw.decode()
    )


async def test_page_and_assets_served(base_url):
    for path, content_type in [
        ("/", "text/html"),
        ("/static/dashboard.js", "text/javascript"),
        ("/static/dashboard.css", "text/css"),
    ]:
        status, headers, raw = await fetch(base_url + path)

        assert status == 200, path
        assert headers["Content-Type"].startswith(content_type), path
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        assert b"http://" not in raw, path
        assert b"https://" not in raw, path


async def test_http_off_with_empty_listen(make_server):
    server = await make_server(http_listen="")

    assert server.http_port is None


# Browser


class WebDriver:
    """A minimal W3C WebDriver client over urllib, for chromedriver."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = ""

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read())["value"]
        except urllib.error.HTTPError as error:
            raise AssertionError(
                f"WebDriver {method} {path} failed: {error.read()[:500]!r}"
            ) from error

    def start(self, profile: Path) -> None:
        options = {
            "binary": CHROMIUM,
            "args": [*CHROMIUM_ARGS, f"--user-data-dir={profile}"],
        }
        capabilities = {"browserName": "chrome", "goog:chromeOptions": options}
        value = self.call(
            "POST", "/session", {"capabilities": {"alwaysMatch": capabilities}}
        )
        self.session = value["sessionId"]

    def session_call(self, method: str, path: str, body: Any = None) -> Any:
        return self.call(method, f"/session/{self.session}{path}", body)

    def open(self, url: str) -> None:
        self.session_call("POST", "/url", {"url": url})

    def find(self, css: str) -> str:
        value = self.session_call(
            "POST", "/element", {"using": "css selector", "value": css}
        )
        assert isinstance(value, dict), f"no element {css!r}: {value!r}"
        return value[ELEMENT_KEY]

    def click(self, css: str) -> None:
        self.session_call("POST", f"/element/{self.find(css)}/click", {})

    def type(self, css: str, text: str) -> None:
        self.session_call("POST", f"/element/{self.find(css)}/value", {"text": text})

    def run(self, script: str) -> Any:
        return self.session_call(
            "POST", "/execute/sync", {"script": script, "args": []}
        )

    def screenshot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(self.session_call("GET", "/screenshot")))

    def quit(self) -> None:
        if self.session:
            self.session_call("DELETE", "")


@pytest.fixture
def browser(tmp_path) -> Iterator[WebDriver]:
    """Chromium under chromedriver on a loopback port; skipped without Chromium."""
    if not os.path.exists(CHROMIUM) or shutil.which(CHROMEDRIVER) is None:
        pytest.skip(
            f"{CHROMIUM} or {CHROMEDRIVER} is missing: install Debian's chromium "
            "and chromium-driver packages (.ci/run does)"
        )
    port = free_port()
    log = (tmp_path / "chromedriver.log").open("wb")
    process = subprocess.Popen(
        [CHROMEDRIVER, f"--port={port}", "--allowed-ips=127.0.0.1"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    driver = WebDriver(f"http://127.0.0.1:{port}")
    try:
        _wait_ready(driver)
        driver.start(tmp_path / "profile")
        yield driver
    finally:
        driver.quit()
        process.terminate()
        process.wait(10)
        log.close()


def _wait_ready(driver: WebDriver, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if driver.call("GET", "/status")["ready"]:
                return
        except (OSError, AssertionError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"chromedriver not ready after {timeout} s")


# The page uses the same JSON API on both databases, so one run is enough.
@pytest.mark.parametrize("database_engine", ["sqlite"])
async def test_browser_overview_and_pause(
    base_url, busy_pools, workpool_client, browser, tmp_path
):
    async def run(method, *args):
        return await asyncio.to_thread(method, *args)

    async def cell(pool: str, column: int) -> str:
        return await run(
            browser.run,
            f"const row = document.querySelector('tr[data-pool=\"{pool}\"]');"
            f"return row ? row.children[{column}].textContent : '';",
        )

    await run(browser.open, base_url + "/")
    await eventually(
        lambda: cell("emails", 2), timeout=15, message="the pools table to render"
    )

    assert await cell("emails", 0) == "emails"
    assert await cell("emails", 1) == "3"
    assert await cell("emails", 2) == "2 / 2"
    assert await cell("reports", 1) == "2"
    assert await cell("reports", 2) == "0 / 3"
    assert (await cell("emails", 6)).endswith(" s")

    await run(browser.click, 'tr[data-pool="reports"] button.pause')

    async def paused() -> bool:
        return (await workpool_client.get_pool("reports")).max_parallelism == 0

    await eventually(paused, timeout=10, message="the pause to reach the server")
    await eventually(
        lambda: _contains(cell("reports", 2), "paused"),
        timeout=10,
        message="the table to show the pool paused",
    )

    work_id = busy_pools["reports"][0]
    await run(browser.type, "#work-id", work_id)
    await run(browser.click, "#work-form button")

    async def reason() -> str:
        return await run(
            browser.run,
            "const dd = document.querySelector('dd[data-field=\"reason\"]');"
            "return dd ? dd.textContent : '';",
        )

    await eventually(
        lambda: _contains(reason(), "pool_paused"), message="the explain reason"
    )
    await asyncio.sleep(2.5)  # one more poll, so throughput has two points
    screenshot = tmp_path / "dashboard.png"
    await run(browser.screenshot, screenshot)
    print(f"dashboard screenshot: {screenshot}")

    assert screenshot.stat().st_size > 10_000


async def _contains(text, part: str) -> bool:
    return part in await text


@pytest.mark.parametrize("database_engine", ["sqlite"])
async def test_browser_shows_attempts(base_url, busy_pools, browser):
    async def run(method, *args):
        return await asyncio.to_thread(method, *args)

    async def attempt_cells() -> list[str]:
        return await run(
            browser.run,
            "const row = document.querySelector("
            "'#work-attempts tr[data-attempt=\"1\"]');"
            "return row ? [...row.children].map((cell) => cell.textContent) : [];",
        )

    work_id = busy_pools["worker"].started[0].work_id
    await run(browser.open, base_url + "/")
    await run(browser.type, "#work-id", work_id)
    await run(browser.click, "#work-form button")
    await eventually(attempt_cells, timeout=15, message="the attempts table")

    cells = await attempt_cells()
    assert cells[0] == "1"
    assert cells[1].startswith("scripted (ws_")
    assert cells[4] == "success"
    assert cells[5] == "–"


@pytest.mark.parametrize("database_engine", ["sqlite"])
async def test_browser_pool_page(base_url, busy_pools, browser, tmp_path):
    async def run(method, *args):
        return await asyncio.to_thread(method, *args)

    worker = busy_pools["worker"]
    running = [s.work_id for s in worker.started if s.work_id in worker.running]
    await worker.fail(running[0], "smtp: mailbox full")

    async def field(name: str) -> str:
        return await run(
            browser.run,
            "const dd = document.querySelector("
            f"'#pool-fields dd[data-field=\"{name}\"]');"
            "return dd ? dd.textContent : '';",
        )

    async def failure_cells() -> list[str]:
        return await run(
            browser.run,
            "const row = document.querySelector('#pool-failures tbody tr');"
            "return row ? [...row.children].map((cell) => cell.textContent) : [];",
        )

    await run(browser.open, base_url + "/")
    await eventually(
        lambda: run(
            browser.run,
            "return document.querySelector('tr[data-pool=\"emails\"] td.name a')"
            " !== null;",
        ),
        timeout=15,
        message="the pools table to render",
    )
    await run(browser.click, 'tr[data-pool="emails"] td.name a')
    await eventually(failure_cells, timeout=15, message="the recent failures table")

    assert await run(browser.run, "return document.location.hash;") == "#pool=emails"
    assert await run(
        browser.run, "return document.getElementById('pools-section').hidden;"
    )
    assert await field("running-limit") == "2 / 2"
    cells = await failure_cells()
    assert cells[0] == running[0]
    assert cells[1] == "email.send"
    assert cells[4] == "smtp: mailbox full"

    await asyncio.sleep(2.5)  # one more poll, so the rate chart has two points
    screenshot = tmp_path / "pool-page.png"
    await run(browser.screenshot, screenshot)
    print(f"pool page screenshot: {screenshot}")
    assert screenshot.stat().st_size > 10_000
