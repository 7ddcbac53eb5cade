"""The /admin pages as HTTP (no browser): served, local assets only, not request-logged,
and the vendored charting library is the version frontend/package.json pins."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from app.routes.admin_dashboard import PAGES

ROOT = Path(__file__).resolve().parents[2]
VENDORED = ROOT / "backend" / "app" / "static" / "vendor" / "chart.umd.min.js"


@pytest.mark.parametrize("slug", ["", "reset-password", *PAGES])
def test_admin_page_is_html_that_loads_only_our_own_assets(client, slug):
    response = client.get(f"/admin/{slug}")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    html = response.get_data(as_text=True)
    links = [link for link in re.findall(r'(?:src|href)="([^"]*)"', html) if link != "#main"]
    assert links and all(link.startswith("/") and not link.startswith("//") for link in links)
    for asset in [link for link in links if link.startswith("/static/")]:
        assert client.get(asset).status_code == 200, asset


def test_every_report_page_links_every_other(client):
    html = client.get("/admin/trends").get_data(as_text=True)
    for slug in PAGES:
        assert f'href="/admin/{slug}"' in html


def test_unknown_admin_page_is_404(client):
    assert client.get("/admin/nope").status_code == 404


def test_admin_pages_are_not_request_logged(client, flush_logs, query):
    client.get("/admin/trends")
    client.get("/api/v2/challenges")
    flush_logs()
    endpoints = [row[0] for row in query("SELECT endpoint FROM request_logs")]
    assert endpoints == ["/api/v2/challenges"]


def test_vendored_chart_library_is_the_pinned_version():
    package = json.loads((ROOT / "frontend" / "package.json").read_text())
    lock = json.loads((ROOT / "frontend" / "package-lock.json").read_text())
    pinned = package["dependencies"]["chart.js"]
    assert lock["packages"]["node_modules/chart.js"]["version"] == pinned
    assert f"Chart.js v{pinned}" in VENDORED.read_text(encoding="utf-8")[:200]
