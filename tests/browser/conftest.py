"""Browser fixtures: the test app served over HTTP, and Debian's Chromium driven by Playwright.

The live server runs the same `app` (and so the same database) as the test, in a daemon
thread; commit before driving the browser, and expire what the test holds before reading
what the browser did.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Auto-waiting bounds, in milliseconds: generous for a loaded CI machine, never slept.
TIMEOUT_MS = 10_000


@pytest.fixture
def live_server(app):
    """The test app on 127.0.0.1 at a free port; yields its base URL."""
    # The `app` fixture names the host "localhost"; the browser comes to 127.0.0.1:port.
    app.config["SERVER_NAME"] = None
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, for one test module; skips when it is not installed."""
    if not (CHROMIUM.is_file() and shutil.which(str(CHROMIUM))):
        pytest.skip("Debian chromium not found at /usr/bin/chromium; .ci/run installs it")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Pages:
    """`pages()` opens a page in a fresh context: its own cookies, so one person each.

    Every response of 400 or more (but the favicon, which the portal does not have) is
    kept in `errors`, for the test to see that the walk met no error page on the way.
    """

    def __init__(self, browser, base_url: str):
        self.browser = browser
        self.base_url = base_url
        self.contexts = []
        self.errors: list[str] = []

    def __call__(self):
        context = self.browser.new_context(base_url=self.base_url, accept_downloads=True)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        context.on("response", self._check)
        self.contexts.append(context)
        return context.new_page()

    def _check(self, response) -> None:
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            self.errors.append(f"{response.status} {response.request.method} {response.url}")

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def new_page(browser, live_server):
    pages = Pages(browser, live_server)
    yield pages
    pages.close()
