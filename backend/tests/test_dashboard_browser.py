"""The /admin dashboard in headless Chromium: log in, every report page draws the seeded
data (the same numbers the API gives), CSV downloads work, and nothing loads off-site."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.dashboard_support import (
    ADMIN,
    CHARTS_JS,
    PLAIN,
    SCREENSHOT_DIR,
    Server,
    launch_chromium,
    require_browser,
    run_server,
    table_rows,
)

ZONE = "Europe/Berlin"
FUNNEL_BODY = {
    "steps": [
        {"event_type": "challenge_joined", "where": {}},
        {"event_type": "plan_viewed", "where": {"day_of_challenge": 1}},
        {"event_type": "plan_completed", "where": {"day_of_challenge": 1}},
        {"event_type": "plan_completed", "where": {"day_of_challenge": 7}},
    ],
    "window_days": 14,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    require_browser()
    yield from run_server(tmp_path_factory.mktemp("dashboard"))


@pytest.fixture(scope="module")
def browser(server: Server):
    yield from launch_chromium()


@pytest.fixture
def page(browser: Any, server: Server):
    """A fresh tab in the Berlin zone that records off-site requests and script errors."""
    context = browser.new_context(
        accept_downloads=True, timezone_id=ZONE, viewport={"width": 1300, "height": 900}
    )
    tab = context.new_page()
    tab.set_default_timeout(15000)
    tab.offsite, tab.errors = [], []
    tab.on("request", lambda r: None if _local(r.url, server) else tab.offsite.append(r.url))
    tab.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    tab.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)
    yield tab
    context.close()


def _local(url: str, server: Server) -> bool:
    return url.startswith((server.base_url + "/", "blob:", "data:"))


@pytest.fixture
def admin_page(page: Any, server: Server):
    token = server.admin_headers["Authorization"].removeprefix("Bearer ")
    page.add_init_script(f"sessionStorage.setItem('insights.token', {token!r})")
    return page


def _log_in(page: Any, server: Server, email: str, password: str) -> None:
    page.goto(server.base_url + "/admin/")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def _open(page: Any, server: Server, slug: str, query: str = "") -> dict[str, Any]:
    page.goto(f"{server.base_url}/admin/{slug}{query}")
    page.wait_for_selector("body[data-state=ready]")
    if SCREENSHOT_DIR:
        page.screenshot(path=str(Path(SCREENSHOT_DIR) / f"dashboard-{slug}.png"), full_page=True)
    charts = page.evaluate(CHARTS_JS)
    for chart in charts.values():
        assert chart["canvas"] and chart["width"] > 0
        for dataset in chart["datasets"]:
            assert dataset["drawn"] == len(dataset["data"]) == len(chart["labels"])
    return charts


def _download_csv(page: Any, slug: str) -> list[list[str]]:
    with page.expect_download() as info:
        page.click("#csv")
    download = info.value
    assert download.suggested_filename == f"{slug}.csv"
    return list(csv.reader(io.StringIO(Path(download.path()).read_text())))


def test_admin_logs_in_and_lands_on_the_overview_in_the_browser_zone(page, server):
    _log_in(page, server, *ADMIN)
    page.wait_for_url(server.base_url + "/admin/overview?*")
    page.wait_for_selector("body[data-state=ready]")
    assert page.input_value("input[name=tz]") == ZONE
    assert page.evaluate("sessionStorage.getItem('insights.token')")
    assert page.is_hidden("#message")


def test_non_admin_is_told_the_dashboard_is_for_admins_only(page, server):
    _log_in(page, server, *PLAIN)
    page.wait_for_selector("#message:not([hidden])")
    message = page.text_content("#message")
    assert "Admins only" in message and "Insights are for admins only." in message
    assert page.url == server.base_url + "/admin/"
    assert page.evaluate("sessionStorage.getItem('insights.token')") is None


def test_wrong_password_shows_the_api_problem(page, server):
    _log_in(page, server, ADMIN[0], "not-the-password")
    page.wait_for_selector("#message:not([hidden])")
    assert page.url == server.base_url + "/admin/"


def test_report_page_without_a_token_goes_to_login(page, server):
    page.goto(server.base_url + "/admin/funnels")
    page.wait_for_url(server.base_url + "/admin/")


def _params(**extra: Any) -> dict[str, Any]:
    return {"preset": "last_30d", "tz": ZONE} | extra


def check_overview(page: Any, server: Server, charts: dict[str, Any]) -> str:
    api = server.api("/overview", query_string=_params()).get_json()
    shown = page.eval_on_selector_all(
        "#figures li", "(items) => items.map((li) => li.dataset.key)"
    )
    assert shown == [f["key"] for f in api["figures"]]
    for figure in api["figures"] + api["top_events"]:
        drawn = charts["spark-" + figure["key"]]["datasets"][0]["data"]
        # The dashboard's own calls keep changing today's API figures.
        upto = -1 if figure["key"].startswith("api_") else None
        assert drawn[:upto] == [p["value"] for p in figure["points"]][:upto], figure["key"]
    dau = next(f for f in api["figures"] if f["key"] == "dau")
    assert dau["value"] > 3 and len(dau["points"]) == 30
    assert page.locator("#top-events li").count() == len(api["top_events"]) > 0
    assert "vs" in page.text_content("#figures li[data-key=mau] .figure-change")
    return server.api("/overview", query_string=_params(format="csv")).text


def check_people(page: Any, server: Server, charts: dict[str, Any]) -> str:
    api = server.api("/users").get_json()
    rows = table_rows(page, "table-people")
    assert [int(r[2]) for r in rows] == [p["id"] for p in api["items"]] and len(rows) > 5
    first = page.get_attribute("#table-people tbody tr:first-child a", "href")
    assert first == f"/admin/user-timeline?user_id={api['items'][0]['id']}"
    return server.api("/users", query_string={"format": "csv"}).text


def check_trends(page: Any, server: Server, charts: dict[str, Any]) -> str:
    types = ["app_opened", "plan_completed", "plan_viewed"]
    api = server.api("/trends", query_string=_params(event_type=types)).get_json()
    chart = charts["chart-trends"]
    assert [d["label"] for d in chart["datasets"]] == types
    assert [d["data"] for d in chart["datasets"]] == [
        [p["events"] for p in s["points"]] for s in api["series"]
    ]
    assert len(chart["labels"]) == 30 and chart["labels"][-1].endswith("(so far)")
    assert sum(chart["datasets"][2]["data"]) > 100
    return server.api("/trends", query_string=_params(event_type=types, format="csv")).text


def check_active_users(page: Any, server: Server, charts: dict[str, Any]) -> str:
    api = server.api("/active-users", query_string=_params()).get_json()
    dau = charts["chart-active"]["datasets"][0]
    assert dau["label"] == "DAU" and dau["data"] == [d["dau"] for d in api["days"]]
    assert max(dau["data"]) > 5
    assert charts["chart-active"]["labels"] == [d["day"] for d in api["days"]]
    assert any(v for v in charts["chart-stickiness"]["datasets"][0]["data"])
    return server.api("/active-users", query_string=_params(format="csv")).text


def check_challenge_progress(page: Any, server: Server, charts: dict[str, Any]) -> str:
    query = _params(challenge_id=server.challenge_id)
    api = server.api("/challenge-progress", query_string=query).get_json()
    rows = table_rows(page, "table-progress")
    assert [r[0] for r in rows] == [c["week_start"] for c in api["cohorts"]]
    assert [int(r[1]) for r in rows] == [c["size"] for c in api["cohorts"]]
    assert len(rows) >= 4 and all(len(r) == 2 + 30 for r in rows)
    drawn = page.locator("#table-progress td.value").count()
    assert drawn == sum(d["on"] is not None for c in api["cohorts"] for d in c["days"]) > 30
    return server.api("/challenge-progress", query_string=query | {"format": "csv"}).text


def check_funnels(page: Any, server: Server, charts: dict[str, Any]) -> str:
    response = server.api("/funnels", method="POST", query_string=_params(), json=FUNNEL_BODY)
    users = [s["users"] for s in response.get_json()["steps"]]
    assert charts["chart-funnel"]["datasets"][0]["data"] == users
    assert users[0] > users[-1] > 0
    assert len(table_rows(page, "table-funnel")) == 4
    query = _params(format="csv")
    return server.api("/funnels", method="POST", query_string=query, json=FUNNEL_BODY).text


def check_retention(page: Any, server: Server, charts: dict[str, Any]) -> str:
    query = _params(start_event="challenge_joined", return_event="app_opened", periods=14)
    api = server.api("/retention", query_string=query).get_json()
    rows = table_rows(page, "table-retention")
    assert [r[0] for r in rows] == [c["start"] for c in api["cohorts"]] and len(rows) > 10
    curve = charts["chart-retention"]["datasets"][0]["data"]
    assert len(curve) == 15 and curve[0] == 100 and 0 < curve[7] < 100
    return server.api("/retention", query_string=query | {"format": "csv"}).text


def check_api_health(page: Any, server: Server, charts: dict[str, Any]) -> str:
    api = server.api("/api-health", query_string=_params()).get_json()
    # The dashboard's own calls (insights, login, challenges) are logged too and keep
    # changing; the seeded routes must match exactly.
    own = ("/api/v2/insights/", "/api/v2/auth/", "/api/v2/challenges ")
    expected = {
        f"{r['method']} {r['endpoint']}": r["p95_ms"]
        for r in api["routes"]
        if not any(part in f"{r['endpoint']} " for part in own)
    }
    chart = charts["chart-latency"]
    p95 = chart["datasets"][1]
    assert p95["label"] == "p95"
    drawn = dict(zip(chart["labels"], p95["data"], strict=True))
    assert {label: drawn.get(label) for label in expected} == expected and len(expected) >= 5
    chosen = page.input_value("#route-select")
    first = next(r for r in api["routes"] if f"{r['method']} {r['endpoint']}" == chosen)
    assert chosen in expected
    series = charts["chart-route-series"]["datasets"][0]
    assert series["label"] == "requests" and sum(series["data"]) == first["requests"] > 100
    return server.api("/api-health", query_string=_params(format="csv")).text


def check_realtime(page: Any, server: Server, charts: dict[str, Any]) -> str:
    assert int(page.text_content("#active-now")) > 0
    events = charts["chart-realtime"]["datasets"][0]["data"]
    assert len(events) == 30 and sum(events) > 0
    return server.api("/realtime", query_string={"format": "csv"}).text


def check_user_timeline(page: Any, server: Server, charts: dict[str, Any]) -> str:
    query = {"user_id": server.member_id}
    api = server.api("/user-timeline", query_string=query).get_json()
    rows = table_rows(page, "table-timeline")
    assert len(rows) == len(api["items"]) > 0
    assert [r[1] for r in rows] == [i["kind"] for i in api["items"]]
    return server.api("/user-timeline", query_string=query | {"format": "csv"}).text


CHECKS = {
    "overview": check_overview,
    "trends": check_trends,
    "active-users": check_active_users,
    "challenge-progress": check_challenge_progress,
    "funnels": check_funnels,
    "retention": check_retention,
    "api-health": check_api_health,
    "realtime": check_realtime,
    "people": check_people,
    "user-timeline": check_user_timeline,
}


@pytest.mark.parametrize("slug", list(CHECKS))
def test_report_page_draws_the_seeded_data_and_downloads_csv(admin_page, server, slug):
    query = f"?user_id={server.member_id}" if slug == "user-timeline" else ""
    charts = _open(admin_page, server, slug, query)
    api_csv = CHECKS[slug](admin_page, server, charts)
    rows = _download_csv(admin_page, slug)
    assert rows[0] == next(csv.reader(io.StringIO(api_csv)))
    assert len(rows) > 1
    assert admin_page.offsite == [] and admin_page.errors == []


def test_every_report_has_a_page_and_a_check():
    from app.routes.admin_dashboard import NOT_REPORTS, PAGES

    # The Dashboards page is no report (test_dashboard_workspace.py drives it).
    assert [slug for slug in PAGES if slug not in NOT_REPORTS] == list(CHECKS)


# Context filters and breakdowns (issue 15): what the page draws is the API's answer.
def _group_name(value: str | None) -> str:
    return "(not sent)" if value is None else value


def _apply(page: Any, expect_in_url: str) -> None:
    page.click("#apply")
    page.wait_for_function(f"location.search.includes({expect_in_url!r})")
    page.wait_for_selector("body[data-state=ready]")


def test_a_filter_and_a_breakdown_chosen_on_the_page_show_the_api_answer(admin_page, server):
    charts = _open(admin_page, server, "active-users", "?preset=last_30d")
    everyone = charts["chart-active"]["datasets"][0]["data"]
    assert admin_page.is_hidden("#groups-card")

    admin_page.select_option("select[name=platform]", "android")
    _apply(admin_page, "platform=android")
    android = server.api("/active-users", query_string=_params(platform="android")).get_json()
    drawn = admin_page.evaluate(CHARTS_JS)["chart-active"]["datasets"][0]["data"]
    assert drawn == [d["dau"] for d in android["days"]] != everyone
    assert 0 < sum(drawn) < sum(everyone)

    admin_page.select_option("select[name=breakdown_property]", "identified")
    _apply(admin_page, "breakdown_property=identified")
    query = _params(platform="android", breakdown_property="identified")
    api = server.api("/active-users", query_string=query).get_json()
    groups = admin_page.evaluate(CHARTS_JS)["chart-groups"]
    # Anonymous and identified persons, each a line of their own with the API's numbers.
    assert sorted(d["label"] for d in groups["datasets"]) == ["anonymous", "identified"]
    assert [(d["label"], d["data"]) for d in groups["datasets"]] == [
        (g["value"], [d["dau"] for d in g["days"]]) for g in api["groups"]
    ]
    assert all(sum(d["data"]) > 0 for d in groups["datasets"])
    rows = table_rows(admin_page, "table-groups")
    assert [r[0] for r in rows] == ["all (as filtered)"] + [g["value"] for g in api["groups"]]
    assert [r[2:] for r in rows] == [
        [str(r["days"][-1]["wau"]), str(r["days"][-1]["mau"])] for r in [api, *api["groups"]]
    ]
    assert admin_page.is_visible("#groups-card")
    if SCREENSHOT_DIR:
        path = Path(SCREENSHOT_DIR) / "dashboard-breakdown.png"
        admin_page.screenshot(path=str(path), full_page=True)
    admin_page.reload()  # the link keeps the filter and the breakdown
    admin_page.wait_for_selector("body[data-state=ready]")
    assert admin_page.input_value("select[name=breakdown_property]") == "identified"
    assert admin_page.input_value("select[name=platform]") == "android"
    assert admin_page.locator("#table-groups tbody tr").count() == len(api["groups"]) + 1
    assert admin_page.errors == []


def _retention_query() -> dict[str, Any]:
    return _params(start_event="challenge_joined", return_event="app_opened", periods=14)


def _by_platform(slug: str, server: Server) -> tuple[list[dict[str, Any]], list[list[Any]]]:
    """Per group of the API's answer broken down by platform: its name, and the values the
    page's breakdown chart draws for it."""
    by = {"breakdown_property": "platform"}
    if slug == "funnels":
        api = server.api("/funnels", method="POST", query_string=_params(**by),
                         json=FUNNEL_BODY).get_json()
        return api["groups"], [[s["users"] for s in g["steps"]] for g in api["groups"]]
    if slug == "retention":
        api = server.api("/retention", query_string=_retention_query() | by).get_json()
        curves = []
        for group in api["groups"]:
            curve = []
            for p in range(15):
                cells = [(c["size"], next(x for x in c["periods"] if x["period"] == p))
                         for c in group["cohorts"]]
                cells = [(size, cell["on"]) for size, cell in cells if cell["on"] is not None]
                size = sum(s for s, _ in cells)
                curve.append(round(100 * sum(n for _, n in cells) / size, 1) if size else None)
            curves.append(curve)
        return api["groups"], curves
    api = server.api("/realtime", query_string=by).get_json()
    return api["groups"], [[m["events"] for m in g["minutes"]] for g in api["groups"]]


@pytest.mark.parametrize("slug", ["funnels", "retention", "realtime"])
def test_a_breakdown_draws_a_line_and_a_row_per_value(admin_page, server, slug):
    before = _by_platform(slug, server)
    charts = _open(admin_page, server, slug, "?breakdown_property=platform")
    after = _by_platform(slug, server)
    groups = charts["chart-groups"]
    drawn = ([d["label"] for d in groups["datasets"]], [d["data"] for d in groups["datasets"]])
    # Realtime's last 30 minutes move on while the page loads: either answer will do.
    answers = [([_group_name(g["value"]) for g in ans[0]], ans[1]) for ans in (before, after)]
    assert drawn in answers
    assert {"ios", "android"} <= set(drawn[0])
    assert any(v for values in drawn[1] for v in values)  # not only zeros
    rows = table_rows(admin_page, "table-groups")
    assert [r[0] for r in rows] == ["all (as filtered)", *drawn[0]]
    assert admin_page.text_content("#groups-title").endswith(" by platform")
    assert admin_page.errors == []


def test_trends_break_down_by_identified_and_anonymous_persons(admin_page, server):
    query = {"event_type": "app_opened", "breakdown_property": "identified"}
    charts = _open(admin_page, server, "trends", "?" + urlencode(query))
    api = server.api("/trends", query_string=_params(**query)).get_json()
    lines = [(d["label"], d["data"]) for d in charts["chart-trends"]["datasets"]]
    assert lines == [
        (f"app_opened: {s['value']}", [p["events"] for p in s["points"]]) for s in api["series"]
    ]
    assert sorted(label for label, _ in lines) == [
        "app_opened: anonymous", "app_opened: identified"
    ]
    assert admin_page.errors == []
