"""The /admin dashboard in Chromium with access tokens that live 3 seconds (issue 16):
silent refresh with rotation, a Realtime page left open, the retry after a 401,
"session ended" only when the refresh fails, loading and error states, views in the URL,
finding a person, and the rough edges (funnel numbering, heat-map counts, wide tables,
breakdowns)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.dashboard_support import (
    ADMIN,
    CHARTS_JS,
    SCREENSHOT_DIR,
    Server,
    launch_chromium,
    require_browser,
    run_server,
    table_rows,
)

ACCESS_SECONDS = 3
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    require_browser()
    yield from run_server(
        tmp_path_factory.mktemp("dashboard-session"), JWT_ACCESS_TOKEN_EXPIRES=ACCESS_SECONDS
    )


@pytest.fixture(scope="module")
def browser(server: Server):
    yield from launch_chromium()


@pytest.fixture
def context(browser: Any):
    context = browser.new_context(
        timezone_id="Europe/Berlin",
        viewport={"width": 1300, "height": 900},
        # wait_for_function's polling evaluates strings, which the CSP forbids;
        # test_dashboard_browser.py runs every page under the CSP.
        bypass_csp=True,
    )
    yield context
    context.close()


def _tab(context: Any) -> Any:
    tab = context.new_page()
    tab.set_default_timeout(20000)
    tab.errors, tab.responses = [], []
    tab.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    tab.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)
    tab.on("response", lambda r: tab.responses.append((urlsplit(r.url).path, r.status)))
    return tab


@pytest.fixture
def page(context: Any):
    return _tab(context)


def _log_in(page: Any, server: Server) -> None:
    page.goto(server.base_url + "/admin/")
    page.fill("input[name=email]", ADMIN[0])
    page.fill("input[name=password]", ADMIN[1])
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/overview?*")
    page.wait_for_selector("body[data-state=ready]")


def _loads(page: Any) -> int:
    return int(page.evaluate("Number(document.body.dataset.loads || 0)"))


def _apply_and_wait(page: Any) -> None:
    before = _loads(page)
    page.click("#apply")
    page.wait_for_function(
        f"Number(document.body.dataset.loads || 0) > {before} || document.body.dataset.state "
        "=== 'error'"
    )


def _shot(page: Any, name: str) -> None:
    """Screenshots for the README (docs/screenshots) when DASHBOARD_SCREENSHOT_DIR is set."""
    if SCREENSHOT_DIR:
        page.screenshot(path=str(Path(SCREENSHOT_DIR) / f"{name}.png"))


def _real_errors(page: Any) -> list[str]:
    # The browser reports refused requests (401) itself; nothing else may fail.
    return [e for e in page.errors if "Failed to load resource" not in e]


def test_realtime_left_open_keeps_working_across_token_expiries(page, server):
    _log_in(page, server)
    first_refresh = page.evaluate("sessionStorage.getItem('insights.refresh')")
    page.goto(server.base_url + "/admin/realtime?every=5")
    page.wait_for_selector("body[data-state=ready]")
    # Three access tokens expire while the page reloads itself at least three times.
    page.wait_for_function(
        "Number(document.body.dataset.refreshes || 0) >= 3 && "
        "Number(document.body.dataset.loads || 0) >= 4",
        timeout=45000,
    )
    realtime = [status for path, status in page.responses if path.endswith("/realtime")]
    refreshes = [status for path, status in page.responses if path.endswith("/auth/refresh")]
    assert realtime and set(realtime) == {200}, page.responses
    assert refreshes and set(refreshes) == {200}
    assert page.is_hidden("#message")
    assert page.evaluate("document.body.dataset.state") == "ready"
    assert page.evaluate("sessionStorage.getItem('insights.refresh')") != first_refresh
    assert int(page.text_content("#active-now")) > 0
    assert _real_errors(page) == []


def test_an_expired_token_is_refreshed_and_the_request_retried_once(page, server):
    # A tab whose clock is an hour behind never refreshes ahead of time: the API's 401
    # token-expired is what makes it refresh, and the request is sent again.
    page.clock.set_fixed_time(time.time() - 3600)
    _log_in(page, server)
    issued = time.time()
    page.goto(server.base_url + "/admin/trends")
    page.wait_for_selector("body[data-state=ready]")
    time.sleep(max(0.0, issued + ACCESS_SECONDS + 1 - time.time()))  # real expiry
    page.responses.clear()
    _apply_and_wait(page)
    calls = [(p, s) for p, s in page.responses if p.startswith("/api/")]
    assert calls == [
        ("/api/v2/insights/trends", 401),
        ("/api/v2/auth/refresh", 200),
        ("/api/v2/insights/trends", 200),
    ]
    assert page.evaluate("document.body.dataset.state") == "ready"
    assert page.is_hidden("#message")


def test_session_ended_only_when_the_refresh_fails_and_login_returns_to_the_view(page, server):
    _log_in(page, server)
    page.goto(server.base_url + "/admin/funnels?window_days=7")
    page.wait_for_selector("body[data-state=ready]")
    refresh = page.evaluate("sessionStorage.getItem('insights.refresh')")
    logout = server.app.test_client().post(
        "/api/v2/auth/logout", headers={"Authorization": f"Bearer {refresh}"}
    )
    assert logout.status_code == 200
    _apply_and_wait(page)
    message = page.text_content("#message")
    assert "Your session has ended" in message, message
    assert page.evaluate("Object.keys(window.dashboard.charts).length") == 0
    assert page.locator("#table-funnel tr").count() == 0
    assert [s for p, s in page.responses if p.endswith("/auth/refresh")][-1] == 401
    _shot(page, "session-ended")
    page.click("#message a")
    page.wait_for_url(server.base_url + "/admin/")
    page.fill("input[name=email]", ADMIN[0])
    page.fill("input[name=password]", ADMIN[1])
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/funnels?*")
    assert parse_qs(urlsplit(page.url).query)["window_days"] == ["7"]
    page.wait_for_selector("body[data-state=ready]")


def test_loading_shows_and_an_error_clears_the_stale_chart(page, server):
    _log_in(page, server)
    page.goto(server.base_url + "/admin/trends")
    page.wait_for_selector("body[data-state=ready]")
    held: list[Any] = []
    page.route("**/api/v2/insights/trends?*", lambda route: held.append(route))
    page.click("#apply")
    page.wait_for_selector("body[data-state=loading]")
    assert page.text_content("#status") == "Loading…"
    assert page.get_attribute("main .card", "aria-busy") == "true"
    while not held:  # the request reaches the route handler
        page.wait_for_timeout(50)
    held[0].continue_()
    page.wait_for_selector("body[data-state=ready]")
    page.unroute("**/api/v2/insights/trends?*")
    assert page.evaluate("Object.keys(window.dashboard.charts)") == ["chart-trends"]
    page.fill("input[name=tz]", "Mars/Olympus_Mons")
    _apply_and_wait(page)
    assert page.evaluate("document.body.dataset.state") == "error"
    assert "tz" in page.text_content("#message") or "zone" in page.text_content("#message")
    assert page.evaluate("Object.keys(window.dashboard.charts)") == []
    assert page.locator("#chart-trends-table-details").count() == 0
    assert page.is_hidden("#status")
    page.fill("input[name=tz]", "Europe/Berlin")
    _apply_and_wait(page)
    assert page.evaluate("Object.keys(window.dashboard.charts)") == ["chart-trends"]
    assert page.is_hidden("#message")


def test_a_link_reproduces_the_view_in_a_new_tab(page, context, server):
    _log_in(page, server)
    page.goto(server.base_url + "/admin/funnels")
    page.wait_for_selector("body[data-state=ready]")
    page.fill("input[name=window_days]", "3")
    page.select_option("select[name=preset]", "last_7d")
    assert page.is_visible(".controls .pending")  # not applied yet
    _apply_and_wait(page)
    assert page.is_hidden(".controls .pending")
    link = page.url
    query = parse_qs(urlsplit(link).query)
    assert query["window_days"] == ["3"] and query["preset"] == ["last_7d"]
    assert query["steps"][0].startswith("challenge_joined\n")
    drawn = page.evaluate(CHARTS_JS)["chart-funnel"]
    labels = drawn["labels"]
    assert labels[0].startswith("1. challenge_joined") and labels[3].startswith("4. ")
    assert table_rows(page, "table-funnel")[0][0].startswith("1. ")
    # Back returns to the view before Apply (30 days, window 14).
    page.go_back()
    page.wait_for_function("document.querySelector('[name=window_days]').value === '14'")
    # A new tab has no session: it logs in, then shows the linked view.
    other = _tab(context)
    other.goto(link)
    other.wait_for_url(server.base_url + "/admin/")
    other.fill("input[name=email]", ADMIN[0])
    other.fill("input[name=password]", ADMIN[1])
    other.click("button[type=submit]")
    other.wait_for_url("**/admin/funnels?*")
    other.wait_for_selector("body[data-state=ready]")
    assert other.input_value("input[name=window_days]") == "3"
    assert other.evaluate(CHARTS_JS)["chart-funnel"]["datasets"] == drawn["datasets"]
    assert _real_errors(other) == []


def test_find_a_person_by_email_and_open_their_timeline(page, server):
    _log_in(page, server)
    page.click("nav >> text=People")
    page.wait_for_selector("body[data-state=ready]")
    page.fill("input[name=q]", "DEMO-MEMBER-01@")
    page.keyboard.press("Enter")
    page.wait_for_function("location.search.includes('q=DEMO-MEMBER-01')")
    page.wait_for_selector("body[data-state=ready]")
    rows = table_rows(page, "table-people")
    assert len(rows) >= 1 and all("demo-member-01@" in r[1] for r in rows), rows
    assert rows[0][3].endswith("ago") or "ago" in rows[0][3]
    _shot(page, "people")
    page.click("#table-people tbody tr:first-child a")
    page.wait_for_url("**/admin/user-timeline?user_id=*")
    page.wait_for_selector("body[data-state=ready]")
    assert len(table_rows(page, "table-timeline")) > 0


def test_heat_maps_show_counts_and_the_whole_challenge_scrolls(page, server):
    _log_in(page, server)
    page.goto(server.base_url + "/admin/challenge-progress")
    page.wait_for_selector("body[data-state=ready]")
    header = page.eval_on_selector_all(
        "#table-progress thead th", "(c) => c.map((x) => x.textContent)"
    )
    assert header[-1] == "Day 30" and len(header) == 32
    cell = page.text_content("#table-progress td.value")
    assert "%" in cell and " of " in cell, cell
    assert "scroll sideways" in page.text_content(".scroll-hint")
    scroller = page.locator("section.card.scroll")
    scroller.focus()
    for _ in range(60):
        page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.tagName") == "SECTION"
    # Keyboard scrolling is smooth: wait until it has reached the right end.
    page.wait_for_function(
        "(s => s.scrollLeft > 0 && s.scrollLeft + s.clientWidth >= s.scrollWidth - 1)"
        "(document.querySelector('section.card.scroll'))"
    )
    last = page.locator("#table-progress thead th").last.bounding_box()
    box = scroller.bounding_box()
    assert last["x"] + last["width"] <= box["x"] + box["width"] + 1
    page.goto(server.base_url + "/admin/retention")
    page.wait_for_selector("body[data-state=ready]")
    assert " of " in page.text_content("#table-retention td.value")


def test_breakdown_with_compare_draws_the_top_values_and_other_as_pairs(page, server):
    _log_in(page, server)
    query = "?event_type=plan_viewed&event_type=plan_completed&breakdown=day_of_challenge"
    page.goto(server.base_url + "/admin/trends" + query + "&compare=previous&preset=last_90d")
    page.wait_for_selector("body[data-state=ready]")
    assert page.is_checked("input[name=compare]")
    datasets = page.evaluate(
        "window.dashboard.charts['chart-trends'].data.datasets.map((d) => "
        "({label: d.label, dash: (d.borderDash || []).length > 0, color: d.borderColor}))"
    )
    current = [d for d in datasets if not d["dash"]]
    previous = [d for d in datasets if d["dash"]]
    assert len(current) <= 8 + 2 and len(previous) == len(current)
    assert sum("other" in d["label"] for d in current) == 2
    for now, then in zip(current, previous, strict=True):
        assert then["label"] == now["label"] + " (previous period)"
        assert then["color"] == now["color"]
    _shot(page, "trends-breakdown")


def test_keyboard_reaches_the_skip_link_and_a_chart_table(page, server):
    _log_in(page, server)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    summary = page.locator("#spark-dau-table-details summary")
    summary.focus()
    page.keyboard.press("Enter")
    assert page.locator("#spark-dau-table-details").get_attribute("open") is not None
    assert page.locator("#spark-dau-table tbody tr").count() == 30
    _shot(page, "overview")
