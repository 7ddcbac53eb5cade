"""The dashboard's login page says how long to wait after too many failed logins (issue 13),
from the API's Retry-After, and keeps the button off meanwhile."""

from __future__ import annotations

from app.extensions import db
from app.services.auth import service as auth_service
from tests.live_server import browser_page, serving

ADMIN = ("wait-admin@example.com", "wait-admin-password")


def test_login_page_shows_the_wait_after_too_many_failures(app_factory):
    app = app_factory(AUTH_EMAIL_LIMIT="2 per 15 minutes")
    with app.app_context():
        auth_service.set_admin(email=ADMIN[0], password=ADMIN[1])
        db.session.remove()
    with serving(app) as base_url, browser_page() as page:
        page.goto(base_url + "/admin/")
        page.fill("input[name=email]", ADMIN[0])
        for n in range(3):
            page.fill("input[name=password]", f"wrong password {n}")
            with page.expect_response(lambda r: r.url.endswith("/api/v2/auth/login")) as info:
                page.click("button[type=submit]")
            status = info.value.status
            page.wait_for_selector("#message:not([hidden])")
        assert status == 429
        page.wait_for_function(
            "document.querySelector('#message').textContent.includes('Try again in')"
        )
        message = page.text_content("#message")
        assert message == "Too many failed attempts. Try again in 15 minutes.", message
        assert 800 < int(page.get_attribute("#message", "data-retry-after")) <= 901
        assert page.is_disabled("button[type=submit]")
        assert page.url == base_url + "/admin/"
        # The browser reports the 401s and the 429 themselves; nothing else may fail.
        assert [e for e in page.errors if "Failed to load resource" not in e] == []
