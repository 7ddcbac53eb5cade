"""The /admin dashboard in Chromium: resetting a password from the login page, saved
dashboards, and filtering a view by clicking a chart (issue 16)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.dashboard_support import (
    ADMIN,
    SCREENSHOT_DIR,
    Server,
    launch_chromium,
    require_browser,
    run_server,
)

# The timeline page writes its view state into the URL once loaded (tz, limit, user_id in
# its order): wait for the page, not for the link's exact text.
TIMELINE_URL = re.compile(r".*/admin/user-timeline\?(.*&)?user_id=\d+(&.*)?$")

NEW_PASSWORD = "a new admin passphrase"


class Outbox:
    def __init__(self) -> None:
        self.links: list[str] = []

    def send(self, *, email: str, link: str, expires_at: datetime) -> None:
        self.links.append(link)


OUTBOX = Outbox()
# The admin's password as the tests in this module left it.
PASSWORD = {"admin": ADMIN[1]}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    require_browser()
    yield from run_server(
        tmp_path_factory.mktemp("dashboard-workspace"),
        PASSWORD_RESET_SENDER=OUTBOX,
        PASSWORD_RESET_URL="{{base}}/admin/reset-password#token={token}",
    )


@pytest.fixture(scope="module")
def browser(server: Server):
    yield from launch_chromium()


@pytest.fixture
def page(browser: Any):
    context = browser.new_context(viewport={"width": 1300, "height": 900}, bypass_csp=True)
    tab = context.new_page()
    tab.set_default_timeout(20000)
    tab.errors, tab.requests = [], []
    tab.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    tab.on("request", lambda r: tab.requests.append(r.url))
    yield tab
    context.close()


def _shot(page: Any, name: str) -> None:
    if SCREENSHOT_DIR:
        page.screenshot(path=str(Path(SCREENSHOT_DIR) / f"{name}.png"), full_page=True)


def _log_in(page: Any, server: Server) -> None:
    page.goto(server.base_url + "/admin/")
    page.fill("input[name=email]", ADMIN[0])
    page.fill("input[name=password]", PASSWORD["admin"])
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/overview?*")
    page.wait_for_selector("body[data-state=ready]")


def test_forgotten_password_is_reset_from_the_login_page(page: Any, server: Server) -> None:
    page.goto(server.base_url + "/admin/")
    page.click("text=Forgot your password?")
    page.wait_for_selector("#request-form:not([hidden])")
    page.fill("input[name=email]", ADMIN[0].upper())
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-state=sent]")
    assert "on its way" in page.inner_text("#message")
    _shot(page, "dashboard-reset-requested")
    link = OUTBOX.links[-1].replace("{base}", server.base_url)

    page.goto(link)
    page.wait_for_selector("#confirm-form:not([hidden])")
    assert urlsplit(page.url).fragment == ""  # the token left the address bar
    page.fill("input[name=new_password]", NEW_PASSWORD)
    page.fill("input[name=repeat]", NEW_PASSWORD + "x")
    page.click("#confirm-form button[type=submit]")
    assert "differ" in page.inner_text("#message")
    page.fill("input[name=repeat]", NEW_PASSWORD)
    page.click("#confirm-form button[type=submit]")
    page.wait_for_selector("body[data-state=done]")
    assert "password is set" in page.inner_text("#message")
    # The token never went to the server in a URL (only in the confirm body).
    token = link.split("#token=")[1]
    assert not [url for url in page.requests if token in url]

    page.goto(link)  # the same link again: spent, and the page offers a new one
    page.wait_for_selector("#confirm-form:not([hidden])")
    page.fill("input[name=new_password]", "another passphrase")
    page.fill("input[name=repeat]", "another passphrase")
    page.click("#confirm-form button[type=submit]")
    page.wait_for_selector("#request-form:not([hidden])")
    assert "used already or expired" in page.inner_text("#message")

    PASSWORD["admin"] = NEW_PASSWORD
    _log_in(page, server)
    # The server's own API session ended with the reset too: a new one for the next tests.
    login = server.app.test_client().post(
        "/api/v2/auth/login", json={"email": ADMIN[0], "password": NEW_PASSWORD}
    )
    server.admin_headers = {"Authorization": f"Bearer {login.get_json()['access_token']}"}
    assert page.errors == []


def _save_view(page: Any, dashboard: str, title: str, new: bool) -> None:
    page.click("#save-view")
    page.wait_for_selector("#save-dialog[open]")
    if new:
        page.select_option("#save-form select[name=dashboard]", "")
        page.fill("#save-form input[name=name]", dashboard)
    else:
        page.select_option("#save-form select[name=dashboard]", label=dashboard)
    page.fill("#save-form input[name=title]", title)
    page.click("#save-form button[type=submit]")
    page.wait_for_selector("#save-dialog", state="hidden")
    assert f"Saved to “{dashboard}”" in page.inner_text("#message")


def test_views_are_saved_to_a_shared_dashboard_and_opened_from_it(
    page: Any, server: Server
) -> None:
    _log_in(page, server)
    page.goto(server.base_url + "/admin/trends?event_type=app_opened&preset=last_7d&tz=UTC")
    page.wait_for_selector("body[data-state=ready]")
    _save_view(page, "Morning", "Opens this week", new=True)
    funnel = "/admin/funnels?preset=last_30d&tz=UTC&steps=app_opened%0Aplan_viewed&window_days=3"
    page.goto(server.base_url + funnel)
    page.wait_for_selector("body[data-state=ready]")
    _save_view(page, "Morning", "Open to plan", new=False)
    saved = server.api("/dashboards").get_json()["items"]
    assert [(d["name"], [v["title"] for v in d["items"]]) for d in saved] == [
        ("Morning", ["Opens this week", "Open to plan"])
    ]
    assert saved[0]["items"][1]["query"] == funnel.split("?", 1)[1]

    page.click("nav >> text=Dashboards")
    page.wait_for_selector("body[data-state=ready]")
    page.click("#table-dashboards >> text=Morning")
    page.wait_for_url("**/admin/dashboards?id=*")
    page.wait_for_selector("body[data-state=ready]")
    titles = page.eval_on_selector_all(
        "#dashboard-views li > a", "els => els.map(e => e.textContent)"
    )
    assert titles == ["Opens this week", "Open to plan"]
    _shot(page, "dashboard-saved")
    page.click("#dashboard-views >> text=Open to plan")
    page.wait_for_url("**/admin/funnels?*")
    page.wait_for_selector("body[data-state=ready]")
    assert page.input_value("input[name=window_days]") == "3"
    assert page.input_value("textarea[name=steps]") == "app_opened\nplan_viewed"

    page.go_back()
    page.wait_for_selector("#dashboard-views li")
    page.click("#dashboard-views li:first-child button")  # remove "Opens this week"
    page.wait_for_function("document.querySelectorAll('#dashboard-views li').length === 1")
    assert [v["title"] for v in server.api("/dashboards").get_json()["items"][0]["items"]] == [
        "Open to plan"
    ]
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#delete-dashboard")
    page.wait_for_url("**/admin/dashboards")
    page.wait_for_selector("body[data-state=ready]")
    assert server.api("/dashboards").get_json() == {"items": []}
    assert "No dashboard saved yet." in page.inner_text("#table-dashboards")
    assert page.errors == []


def _labels(page: Any) -> list[str]:
    return page.evaluate(
        "window.dashboard.charts['chart-trends'].data.datasets.map((d) => d.label)"
    )


def test_clicking_a_breakdown_line_filters_the_view_and_the_link_keeps_it(
    page: Any, server: Server
) -> None:
    _log_in(page, server)
    query = "?event_type=plan_viewed&breakdown=day_of_challenge&preset=last_90d&tz=UTC"
    page.goto(server.base_url + "/admin/trends" + query)
    page.wait_for_selector("body[data-state=ready]")
    before = _labels(page)
    assert len(before) > 2 and any("other" in label for label in before)
    # Click the first line at its highest point (its pixel position from Chart.js).
    x, y = page.evaluate(
        """() => { const c = window.dashboard.charts['chart-trends'];
                   const points = c.getDatasetMeta(0).data;
                   const top = points.reduce((a, b) => (b.y < a.y ? b : a));
                   const box = c.canvas.getBoundingClientRect();
                   return [box.left + top.x, box.top + top.y]; }"""
    )
    page.mouse.click(x, y)
    page.wait_for_function("location.search.includes('only=')")
    page.wait_for_selector("body[data-state=ready]")
    value = page.evaluate("new URLSearchParams(location.search).get('only')")
    assert _labels(page) == [f"plan_viewed: {value}"] == [before[0]]
    assert page.input_value("#only-select") == value
    _shot(page, "dashboard-trends-filtered")
    # The link reproduces the filtered view; Back returns to every value.
    page.reload()
    page.wait_for_selector("body[data-state=ready]")
    assert _labels(page) == [before[0]]
    page.go_back()
    page.wait_for_function("!location.search.includes('only=')")
    page.wait_for_selector("body[data-state=ready]")
    assert _labels(page) == before
    # The same filter from the keyboard: the "Only the value" list.
    page.select_option("#only-select", value)
    page.wait_for_function("location.search.includes('only=')")
    page.wait_for_selector("body[data-state=ready]")
    assert _labels(page) == [before[0]]
    page.select_option("#only-select", "")
    page.wait_for_function("!location.search.includes('only=')")
    assert page.errors == []


def test_write_keys_are_created_shown_once_and_revoked(page: Any, server: Server) -> None:
    from tests.segment_support import basic

    _log_in(page, server)
    page.click("nav >> text=Write keys")
    page.wait_for_selector("body[data-state=ready]")
    page.select_option("#key-form select[name=source]", "web")
    page.fill("#key-form input[name=name]", "Marketing site")
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("#new-key:not([hidden])")
    key = page.inner_text("#new-key-value")
    assert key.startswith("wk_pub_")
    page.wait_for_selector("#table-keys >> text=Marketing site")
    row = page.locator("#table-keys tbody tr", has_text="Marketing site")
    assert "active" in row.inner_text() and key[:12] in row.inner_text()
    assert key not in page.inner_text("#table-keys")  # the table shows prefixes only
    _shot(page, "dashboard-write-keys")
    # The key works on /v1 until it is revoked.
    v1 = server.app.test_client()
    identify = {"type": "identify", "userId": None, "anonymousId": "anon-keys-test",
                "messageId": "m-1"}
    assert v1.post("/v1/identify", json=identify, headers=basic(key)).status_code != 401
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button", has_text="Revoke").click()
    page.wait_for_function(
        "[...document.querySelectorAll('#table-keys tbody tr')].some((r) => "
        "r.textContent.includes('Marketing site') && r.textContent.includes('revoked'))"
    )
    assert v1.post("/v1/identify", json=identify, headers=basic(key)).status_code == 401
    assert page.errors == []


def test_overview_shows_sessions_and_platforms_and_a_bar_opens_its_trend(
    page: Any, server: Server
) -> None:
    _log_in(page, server)
    page.wait_for_selector("#session-figures li")
    sessions = server.api("/sessions", query_string={"preset": "last_30d", "tz": "UTC"})
    expected = sum(p["sessions"] for p in sessions.get_json()["points"])
    page.goto(server.base_url + "/admin/overview?preset=last_30d&tz=UTC")
    page.wait_for_selector("body[data-state=ready]")
    shown = page.inner_text("#session-figures li[data-key=sessions] .figure-value")
    assert int(shown.replace(",", "").replace("\u202f", "").replace(".", "")) == expected > 0
    trends = server.api("/trends", query_string={
        "event_type": "app_opened", "breakdown_property": "platform", "preset": "last_30d",
        "tz": "UTC"}).get_json()
    totals = {str(s["value"]): sum(p["events"] for p in s["points"])
              for s in trends["series"] if not s.get("other") and s["value"] is not None}
    bars = page.evaluate(
        "(() => { const c = window.dashboard.charts['chart-platforms'];"
        " return Object.fromEntries(c.data.labels.map((l, i) => [l, c.data.datasets[0].data[i]]));"
        " })()"
    )
    assert bars == {k: v for k, v in totals.items() if v > 0} and len(bars) >= 2
    assert page.locator("#chart-platforms-table-details").count() == 1  # a table alternative
    links = page.eval_on_selector_all("#links-platforms a", "els => els.map((a) => a.textContent)")
    assert links == list(bars)  # and a link per bar, for the keyboard
    _shot(page, "dashboard-overview")
    top = max(bars, key=bars.get)
    x, y = page.evaluate(
        """() => { const c = window.dashboard.charts['chart-platforms'];
                   c.canvas.scrollIntoView({ block: "center" });
                   const bar = c.getDatasetMeta(0).data[0];
                   const box = c.canvas.getBoundingClientRect();
                   return [box.left + (bar.x + bar.base) / 2, box.top + bar.y]; }"""
    )
    page.mouse.click(x, y)
    page.wait_for_url("**/admin/trends?*")
    page.wait_for_selector("body[data-state=ready]")
    assert page.input_value("select[name=platform]") == top
    drawn = page.evaluate(
        "window.dashboard.charts['chart-trends'].data.datasets[0].data.reduce((a, b) => a + b, 0)"
    )
    assert drawn == bars[top]
    assert page.errors == []


def test_people_sorted_by_last_seen(page: Any, server: Server) -> None:
    from tests.dashboard_support import table_rows

    _log_in(page, server)
    page.goto(server.base_url + "/admin/people?limit=50&sort=last_seen&tz=UTC")
    page.wait_for_selector("body[data-state=ready]")
    people = server.api("/users", query_string={"limit": 50}).get_json()["items"]
    expected = sorted(people, key=lambda p: p["last_seen"] or "", reverse=True)
    ids = [row[2] for row in table_rows(page, "table-people")]
    assert ids == [str(p["id"]) for p in expected]
    assert page.get_attribute("#table-people thead th:nth-child(4)", "aria-sort") == "descending"
    page.select_option("select[name=sort]", "")
    page.click("#apply")
    page.wait_for_function("!location.search.includes('sort=')")
    page.wait_for_selector("body[data-state=ready]")
    assert [row[2] for row in table_rows(page, "table-people")] == [str(p["id"]) for p in people]


def test_a_funnel_bar_opens_the_people_who_dropped_there(page: Any, server: Server) -> None:
    from tests.dashboard_support import table_rows

    _log_in(page, server)
    steps = "challenge_joined\nplan_viewed day_of_challenge=1\nplan_completed day_of_challenge=7"
    query = "?preset=last_90d&tz=UTC&window_days=30&steps=" + steps.replace("\n", "%0A")
    page.goto(server.base_url + "/admin/funnels" + query)
    page.wait_for_selector("body[data-state=ready]")
    funnel = server.api("/funnels", method="POST", query_string={"preset": "last_90d", "tz": "UTC"},
                        json={"steps": [{"event_type": "challenge_joined"},
                                        {"event_type": "plan_viewed",
                                         "where": {"day_of_challenge": 1}},
                                        {"event_type": "plan_completed",
                                         "where": {"day_of_challenge": 7}}],
                              "window_days": 30}).get_json()
    lost = funnel["steps"][2]["drop_off"]
    assert lost > 0
    x, y = page.evaluate(
        """() => { const c = window.dashboard.charts['chart-funnel'];
                   const bar = c.getDatasetMeta(0).data[2];
                   const box = c.canvas.getBoundingClientRect();
                   return [box.left + (bar.x + bar.base) / 2, box.top + bar.y]; }"""
    )
    page.mouse.click(x, y)
    page.wait_for_function("location.search.includes('dropped=3')")
    page.wait_for_selector("#dropped-card:not([hidden]) #table-dropped tbody tr")
    assert page.inner_text("#dropped-title").startswith(f"{lost} dropped before step 3")
    people = server.api("/funnels/people", method="POST",
                        query_string={"preset": "last_90d", "tz": "UTC"},
                        json={"steps": [{"event_type": "challenge_joined"},
                                        {"event_type": "plan_viewed",
                                         "where": {"day_of_challenge": 1}},
                                        {"event_type": "plan_completed",
                                         "where": {"day_of_challenge": 7}}],
                              "window_days": 30, "step": 3}).get_json()
    assert people["dropped"] == lost
    rows = table_rows(page, "table-dropped")
    assert [r[2] for r in rows] == [str(u["id"]) for u in people["items"]]
    _shot(page, "dashboard-funnel-dropped")
    page.reload()  # the link keeps the people shown
    page.wait_for_selector("#dropped-card:not([hidden]) #table-dropped tbody tr")
    page.click("#table-dropped tbody tr:first-child a")
    page.wait_for_url(TIMELINE_URL)
    page.wait_for_selector("body[data-state=ready]")
    assert page.errors == []
