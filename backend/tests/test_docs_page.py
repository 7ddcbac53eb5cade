"""/api/docs, its assets and the OpenAPI document send the security headers the /admin
pages send (issue 13), and Swagger UI still works under that CSP (no inline script)."""

from __future__ import annotations

import pytest

from tests.live_server import browser_page, serving

HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@pytest.mark.parametrize(
    "path",
    [
        "/api/docs",
        "/api/docs/assets/swagger-ui-bundle.js",
        "/api/docs/assets/swagger-ui.css",
        "/api/openapi.json",
        "/api/docs/assets/swagger-init.js",
    ],
)
def test_docs_responses_carry_the_security_headers(client, path):
    r = client.get(path)
    assert r.status_code == 200
    for name, value in HEADERS.items():
        assert r.headers[name] == value, name
    csp = r.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp


def test_the_docs_page_has_no_inline_script(client):
    html = client.get("/api/docs").get_data(as_text=True)
    assert "<script>" not in html and "SwaggerUIBundle(" not in html


def test_swagger_ui_renders_the_operations_under_the_csp(app):
    with serving(app) as base_url, browser_page() as page:
        failed: list[str] = []
        page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
        page.goto(base_url + "/api/docs")
        page.wait_for_selector(".opblock")
        assert page.locator(".opblock").count() >= 20
        page.locator(".opblock-summary").first.click()
        page.wait_for_selector(".opblock-body")
        # Chromium asks for /favicon.ico on its own; a CSP refusal would be a console error.
        assert [url for url in failed if not url.endswith("/favicon.ico")] == []
        assert [e for e in page.errors if "Failed to load resource" not in e] == []
