"""The /admin browser test's server: a real HTTP server thread on a migrated SQLite file,
seeded with the demo challenge, its activity, an admin and a plain user."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from app import create_app
from app.extensions import db
from app.services.auth import service as auth_service
from app.services.demo import seed as seed_service
from app.services.request_logs.capture import get_writer
from tests import services as svc
from tests.conftest import IN_CI, make_config

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ADMIN = ("dash-admin@example.com", "dash-admin-password")
PLAIN = ("dash-plain@example.com", "dash-plain-password")
# Screenshots of every page when set (for looking at the pages; off by default).
SCREENSHOT_DIR = os.environ.get("DASHBOARD_SCREENSHOT_DIR")


def require_browser() -> None:
    """Skip (locally) or fail (CI=true) when Playwright or Debian's chromium is missing."""
    problem = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problem = "the playwright Python package is not installed (pip install -e '.[dev]')"
    if problem is None and not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing (apt-get install -y chromium; .ci/run does it)"
    if problem:
        if IN_CI:
            pytest.fail(f"browser test: {problem}; CI=true requires it", pytrace=False)
        pytest.skip(f"browser test: {problem}")


def launch_chromium() -> Iterator[Any]:
    """Debian's chromium driven by Playwright, for a module's `browser` fixture."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Server:
    app: Flask
    base_url: str
    challenge_id: int
    member_id: int
    admin_headers: dict[str, str]

    def api(self, path: str, **kwargs: Any) -> Any:
        """The same report straight from the API (the numbers the page must show)."""
        method = kwargs.pop("method", "GET")
        response = self.app.test_client().open(
            "/api/v2/insights" + path, method=method, headers=self.admin_headers, **kwargs
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        return response


def run_server(tmp_dir: Path, **overrides: Any) -> Iterator[Server]:
    url = f"sqlite:///{tmp_dir / 'dashboard.db'}"
    svc.upgrade_to_head(url)
    app = create_app(make_config(url, TESTING=False, **overrides))
    with app.app_context():
        seeded = seed_service.seed_demo()
        seed_service.seed_activity(challenge=seeded.challenge)
        auth_service.set_admin(email=ADMIN[0], password=ADMIN[1], display_name="Dash Admin")
        auth_service.create(email=PLAIN[0], password=PLAIN[1], display_name="Dash Plain")
        member = auth_service.get_by_email(email=seed_service.MEMBER_EMAIL.format(1))
        challenge_id, member_id = seeded.challenge.id, member.id
    login = app.test_client().post(
        "/api/v2/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]}
    )
    headers = {"Authorization": f"Bearer {login.get_json()['access_token']}"}
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, name="dashboard-server", daemon=True)
    thread.start()
    try:
        yield Server(
            app, f"http://127.0.0.1:{http.server_port}", challenge_id, member_id, headers
        )
    finally:
        http.shutdown()
        thread.join(timeout=10)
        get_writer(app).close()
        with app.app_context():
            db.engine.dispose()


# Every drawn chart of the page: labels, and per dataset its values and drawn elements.
CHARTS_JS = """() => Object.fromEntries(Object.entries(window.dashboard.charts).map(([id, c]) => [
  id, {
    labels: c.data.labels,
    canvas: Chart.getChart(document.getElementById(id)) === c,
    width: c.width,
    datasets: c.data.datasets.map((d, i) => ({
      label: d.label, data: d.data, drawn: c.getDatasetMeta(i).data.length})),
  }]))"""


def table_rows(page: Any, table_id: str) -> list[list[str]]:
    return page.evaluate(
        """(id) => [...document.querySelectorAll('#' + id + ' tbody tr')].map(
             (tr) => [...tr.cells].map((td) => td.textContent))""",
        table_id,
    )
