"""Fixtures for the browser tests: a real `streamlit run` server and Debian's Chromium.

Set MLP_EXPLORER_APP to the path of another copy of app.py to run the tests against
it. The server runs from that file's folder, so the copy's `.streamlit/config.toml`,
`components/` and `mlp/` are the ones used.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from page_helpers import IDLE_APP, save_full_page_screenshot
from playwright.sync_api import Browser, Page, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from ws_client import stop_server

ROOT = Path(__file__).resolve().parents[2]
APP_ENV = "MLP_EXPLORER_APP"
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOT_DIR = ARTIFACTS / "screenshots"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
INSTALL_CHROMIUM = "sudo apt-get install -y chromium"
VIEWPORT = {"width": 1280, "height": 720}

# Generous on purpose: a shared 2-core machine can take several seconds to import
# torch and start the server, and a rerun can queue behind other processes.
SERVER_START_TIMEOUT_S = 90
PAGE_TIMEOUT_MS = 30_000
SERVER_LOG_TAIL_LINES = 60
TRACEBACK = "Traceback (most recent call last)"

PAGE_KEY = pytest.StashKey[Page]()
SERVER_KEY = pytest.StashKey["StreamlitServer"]()
LOG_START_KEY = pytest.StashKey[int]()


@dataclass
class StreamlitServer:
    """A `streamlit run` process started by the tests, and where it writes its log."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = SERVER_LOG_TAIL_LINES) -> str:
        """Return the last `lines` lines of the server log."""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def log_size(self) -> int:
        return self.log_path.stat().st_size

    def log_since(self, offset: int) -> str:
        """Return what the server logged after byte `offset`."""
        with self.log_path.open("rb") as log:
            log.seek(offset)
            return log.read().decode("utf-8", errors="replace")


def running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def app_path() -> Path:
    """Return the app script to serve: $MLP_EXPLORER_APP, or app.py of this checkout."""
    path = Path(os.environ.get(APP_ENV) or ROOT / "app.py").resolve()
    if not path.is_file():
        pytest.fail(f"{APP_ENV}={path} is not a file; point it at a copy of app.py")
    return path


def free_port() -> int:
    """Return a free loopback port picked by the OS. Another process may take it before use."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(app: Path, port: int, log_file) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
    ]
    return subprocess.Popen(
        command, cwd=app.parent, stdout=log_file, stderr=subprocess.STDOUT
    )


def wait_for_health(server: StreamlitServer, timeout_s: float) -> None:
    """Poll `/_stcore/health` until it returns "ok", and fail with the server log if it never does."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(
                f"streamlit exited with code {server.process.returncode} before it "
                f"became healthy. Server log:\n{server.log_tail()}"
            )
        try:
            with urllib.request.urlopen(
                f"{server.url}/_stcore/health", timeout=2
            ) as response:
                if response.read().strip() == b"ok":
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    pytest.fail(
        f"streamlit did not answer {server.url}/_stcore/health within {timeout_s} s. "
        f"Server log:\n{server.log_tail()}"
    )


# Module scope, not session: while Playwright's sync API is started, its asyncio loop
# counts as running on the main thread, so asyncio.run() in later tests would raise.
@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's headless Chromium. Without it the tests are skipped, or fail when CI=true."""
    if not CHROMIUM.is_file():
        message = (
            f"Chromium not found at {CHROMIUM}; the browser tests need Debian's "
            f"chromium package. Install it with: {INSTALL_CHROMIUM}"
        )
        if running_in_ci():
            pytest.fail(f"{message} (CI=true, so a missing browser fails the run)")
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def streamlit_server() -> Iterator[StreamlitServer]:
    """`streamlit run` of the app on a free loopback port, stopped after the session."""
    app = app_path()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = free_port()
    # One log per port, so test runs started side by side keep separate logs.
    log_path = ARTIFACTS / f"streamlit-server-{port}.log"
    with log_path.open("wb") as log_file:
        process = start_server(app, port, log_file)
        server = StreamlitServer(
            url=f"http://127.0.0.1:{port}", process=process, log_path=log_path
        )
        try:
            wait_for_health(server, SERVER_START_TIMEOUT_S)
            yield server
        finally:
            stop_server(process)


@pytest.fixture
def console_errors() -> list[str]:
    """Errors the browser logs while the test's page is open."""
    return []


@pytest.fixture
def page(
    request: pytest.FixtureRequest,
    chromium: Browser,
    streamlit_server: StreamlitServer,
    console_errors: list[str],
) -> Iterator[Page]:
    """A fresh browser session on the app, loaded and idle at the default spec."""
    request.node.stash[SERVER_KEY] = streamlit_server
    context = chromium.new_context(viewport=VIEWPORT)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    new_page = context.new_page()
    new_page.on(
        "console",
        lambda message: (
            console_errors.append(message.text) if message.type == "error" else None
        ),
    )
    new_page.on("pageerror", lambda error: console_errors.append(f"uncaught {error}"))
    request.node.stash[PAGE_KEY] = new_page
    request.node.stash[LOG_START_KEY] = streamlit_server.log_size()
    try:
        new_page.goto(streamlit_server.url)
        new_page.get_by_test_id("stMetricValue").first.wait_for()
        new_page.locator(IDLE_APP).wait_for()
        yield new_page
    finally:
        context.close()


def pytest_configure(config: pytest.Config) -> None:
    expect.set_options(timeout=PAGE_TIMEOUT_MS)


def screenshot_path(item: pytest.Item) -> Path:
    return SCREENSHOT_DIR / (re.sub(r"[^\w.-]", "_", item.name) + ".png")


def logged_traceback(item: pytest.Item) -> str | None:
    """Return the first traceback the server logged since the test's page opened, if any.

    The page can hide an exception behind a short message, but the log keeps its traceback.
    """
    server = item.stash.get(SERVER_KEY, None)
    log_start = item.stash.get(LOG_START_KEY, None)
    if server is None or log_start is None:
        return None
    logged = server.log_since(log_start)
    if TRACEBACK not in logged:
        return None
    return logged[logged.index(TRACEBACK) :][:4000]


def attach_failure_evidence(item: pytest.Item, report: pytest.TestReport) -> None:
    """Save the failing page as a screenshot and add it and the server log to the report."""
    page = item.stash.get(PAGE_KEY, None)
    if page is not None and not page.is_closed():
        path = screenshot_path(item)
        try:
            save_full_page_screenshot(page, path)
            report.sections.append(("browser screenshot", f"saved to {path}"))
        except (PlaywrightError, OSError) as err:
            report.sections.append(("browser screenshot", f"not saved: {err}"))
    server = item.stash.get(SERVER_KEY, None)
    if server is not None:
        report.sections.append(
            (
                f"streamlit server log (last lines of {server.log_path})",
                server.log_tail(),
            )
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Iterator[None]:
    report: pytest.TestReport = yield
    skipped = report.skipped and not hasattr(report, "wasxfail")
    if skipped and running_in_ci() and item.get_closest_marker("browser"):
        # With CI=true a browser test that did not run must not look like a pass.
        reason = report.longrepr
        if isinstance(reason, tuple):  # (path, line number, "Skipped: reason")
            reason = reason[2]
        report.outcome = "failed"
        report.longrepr = f"browser test skipped while CI=true: {reason}"
    if report.passed and report.when == "call":
        traceback = logged_traceback(item)
        if traceback is not None:
            report.outcome = "failed"
            report.longrepr = (
                f"the server logged an exception during this test:\n{traceback}"
            )
    if report.failed and report.when in ("setup", "call"):
        attach_failure_evidence(item, report)
    return report
