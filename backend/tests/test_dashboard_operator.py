"""Issue 16's "done when", walked in Chromium as a new operator would, with access tokens
that live 3 seconds: log in, read the overview, find a user by email, open their timeline,
share a link to a filtered funnel (opened in another browser, it shows the same funnel), and
leave Realtime open across many token lifetimes without being logged out, all well within
five minutes. (A day is 96 lifetimes of the default 15-minute token: the same silent
refresh with rotation, each refresh token good for 30 days from its own issue.)"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.dashboard_support import (
    ADMIN,
    CHARTS_JS,
    Server,
    launch_chromium,
    require_browser,
    run_server,
    table_rows,
)

# The timeline page writes its view state into the URL once loaded (tz, limit, user_id in
# its order): wait for the page, not for the link's exact text.
TIMELINE_URL = re.compile(r".*/admin/user-timeline\?(.*&)?user_id=\d+(&.*)?$")

ACCESS_SECONDS = 3
STEPS = "challenge_joined\nplan_viewed day_of_challenge=1\nplan_completed day_of_challenge=1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    require_browser()
    yield from run_server(
        tmp_path_factory.mktemp("dashboard-operator"), JWT_ACCESS_TOKEN_EXPIRES=ACCESS_SECONDS
    )


@pytest.fixture(scope="module")
def browser(server: Server):
    yield from launch_chromium()


def _tab(browser: Any) -> Any:
    # A context of its own: another browser, with no session (sessionStorage is per tab).
    context = browser.new_context(viewport={"width": 1300, "height": 900}, bypass_csp=True)
    tab = context.new_page()
    tab.set_default_timeout(20000)
    tab.errors, tab.statuses = [], []
    tab.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    tab.on("response", lambda r: tab.statuses.append((urlsplit(r.url).path, r.status)))
    return tab


def _log_in(tab: Any) -> None:
    tab.fill("input[name=email]", ADMIN[0])
    tab.fill("input[name=password]", ADMIN[1])
    tab.click("button[type=submit]")


def test_a_new_operator_walks_the_morning_path(browser: Any, server: Server) -> None:
    started = time.monotonic()
    page = _tab(browser)
    # Log in and read the overview.
    page.goto(server.base_url + "/admin/")
    _log_in(page)
    page.wait_for_url("**/admin/overview?*")
    page.wait_for_selector("body[data-state=ready]")
    figures = page.eval_on_selector_all(
        "#figures li", "els => els.map((e) => e.dataset.key)")
    assert {"dau", "wau", "mau"} <= set(figures)
    assert page.locator("#session-figures li").count() == 3

    # Find a user by email and open their timeline.
    page.click("nav >> text=People")
    page.wait_for_selector("body[data-state=ready]")
    page.fill("input[name=q]", "demo-member-01@")
    page.keyboard.press("Enter")
    page.wait_for_function("location.search.includes('q=demo-member-01')")
    page.wait_for_selector("body[data-state=ready]")
    page.click("#table-people tbody tr:first-child a")
    page.wait_for_url(TIMELINE_URL)
    page.wait_for_selector("body[data-state=ready]")
    assert len(table_rows(page, "table-timeline")) > 0

    # A funnel filtered by a property, and its link.
    page.click("nav >> text=Funnels")
    page.wait_for_selector("body[data-state=ready]")
    page.fill("textarea[name=steps]", STEPS)
    page.fill("input[name=window_days]", "7")
    page.click("#apply")
    page.wait_for_function("location.search.includes('window_days=7')")
    page.wait_for_selector("body[data-state=ready]")
    link = page.url
    assert parse_qs(urlsplit(link).query)["steps"] == [STEPS]
    funnel = page.evaluate(CHARTS_JS)["chart-funnel"]
    assert funnel["labels"][1] == "2. plan_viewed day_of_challenge=1"
    assert funnel["datasets"][0]["data"][0] > 0

    # A colleague opens the link in their own browser: log in, and the same funnel.
    colleague = _tab(browser)
    colleague.goto(link)
    colleague.wait_for_url(server.base_url + "/admin/")
    _log_in(colleague)
    colleague.wait_for_url("**/admin/funnels?*")
    colleague.wait_for_selector("body[data-state=ready]")
    shared = colleague.evaluate(CHARTS_JS)["chart-funnel"]
    assert (shared["labels"], shared["datasets"]) == (funnel["labels"], funnel["datasets"])
    colleague.context.close()

    # Realtime left open: many access tokens expire, the page never logs out.
    page.click("nav >> text=Realtime")
    page.wait_for_selector("body[data-state=ready]")
    page.select_option("select[name=every]", "5")
    page.click("#apply")
    refreshes = int(page.evaluate("Number(document.body.dataset.refreshes || 0)"))
    page.wait_for_function(
        f"Number(document.body.dataset.refreshes || 0) >= {refreshes + 5} && "
        "Number(document.body.dataset.loads || 0) >= 6",
        timeout=60000,
    )
    assert page.evaluate("document.body.dataset.session") != "ended"
    assert page.is_hidden("#message")
    assert page.evaluate("document.body.dataset.state") == "ready"
    assert {s for p, s in page.statuses if p.endswith("/auth/refresh")} == {200}
    assert {s for p, s in page.statuses if p.endswith("/insights/realtime")} == {200}
    assert page.errors == []
    assert time.monotonic() - started < 300
