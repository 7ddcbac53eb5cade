"""A real HTTP server thread and a headless Chromium for tests of pages in a browser."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from werkzeug.serving import make_server

from tests.dashboard_support import CHROMIUM, CHROMIUM_ARGS, require_browser


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """Serve app on a free local port; yields its base URL."""
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_port}"
    finally:
        http.shutdown()
        thread.join(timeout=10)


@contextmanager
def browser_page() -> Iterator[Any]:
    """A fresh Chromium tab that records script errors and console errors in .errors."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            tab = chromium.new_page()
            tab.set_default_timeout(15000)
            tab.errors = []
            tab.on("pageerror", lambda exc: tab.errors.append(str(exc)))
            tab.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)
            yield tab
        finally:
            chromium.close()
