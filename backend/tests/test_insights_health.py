"""API health, user timeline and realtime: exact numbers on both databases, read from the
app database and from ClickHouse (chDB)."""

from __future__ import annotations

import pytest
from flask import Flask

from app.extensions import db
from tests.insights_data import BERLIN, event, get

URL = "/api/v2/insights"
DAY = "/api/v2/plans/<int:day>"
COMPLETE = "/api/v2/plans/<int:day>/complete"


@pytest.fixture
def app(store_app):
    return store_app


def stats(item):
    return (
        item["requests"],
        item["rate_4xx"],
        item["rate_5xx"],
        item["p50_ms"],
        item["p95_ms"],
        item["p99_ms"],
    )


def test_api_health_per_route_with_percentile_cont(client, data):
    # Up to 03-31: the fixture's own register/login requests are logged "today" (04-01).
    body = get(client, data, "api-health", tz=BERLIN, **{"from": "2026-03-30", "to": "2026-03-31"})
    assert [(r["endpoint"], r["method"], *stats(r)) for r in body["routes"]] == [
        (DAY, "GET", 4, 0.25, 0.25, 25.0, 38.5, 39.7),
        (COMPLETE, "POST", 1, 0.0, 0.0, 100.0, 100.0, 100.0),
        ("/api/v2/videos", "GET", 1, 1.0, 0.0, 5.0, 5.0, 5.0),
    ]
    assert [r["endpoint"] for r in body["slowest"]] == [COMPLETE, DAY, "/api/v2/videos"]
    body = get(
        client,
        data,
        "api-health",
        tz=BERLIN,
        include_internal="true",
        **{"from": "2026-03-30", "to": "2026-03-31"},
    )
    assert stats(body["routes"][1]) == (2, 0.0, 0.5, 550.0, 955.0, 991.0)


def test_api_health_series_for_one_route(client, data):
    body = get(
        client,
        data,
        "api-health",
        tz=BERLIN,
        endpoint=DAY,
        method="GET",
        **{"from": "2026-03-30", "to": "2026-04-01"},
    )
    assert [(p["start"], p["partial"], *stats(p)) for p in body["series"]] == [
        ("2026-03-30", False, 2, 0.0, 0.0, 15.0, 19.5, 19.9),
        ("2026-03-31", False, 2, 0.5, 0.5, 35.0, 39.5, 39.9),
        ("2026-04-01", True, 0, 0.0, 0.0, None, None, None),
    ]


def test_api_health_as_csv(client, data):
    r = client.get(
        f"{URL}/api-health",
        headers=data["admin"],
        query_string={"format": "csv", "tz": BERLIN, "from": "2026-03-30", "to": "2026-03-30"},
    )
    assert r.mimetype == "text/csv"
    assert r.get_data(as_text=True).splitlines()[:2] == [
        "endpoint,method,requests,rate_4xx,rate_5xx,p50_ms,p95_ms,p99_ms",
        f"{DAY},GET,2,0.0,0.0,15.0,19.5,19.9",
    ]


def test_user_timeline_interleaves_newest_first_across_pages(client, data):
    seen, cursor = [], None
    for _ in range(4):
        params = {"user_id": data["u1"], "limit": 3} | ({"cursor": cursor} if cursor else {})
        body = get(client, data, "user-timeline", **params)
        seen += [(i["kind"], i["at"][:16], i["event_type"] or i["endpoint"]) for i in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [
        ("request", "2026-03-30T09:00", DAY),
        ("event", "2026-03-30T09:00", "plan_viewed"),
        ("request", "2026-03-30T08:00", DAY),
        ("event", "2026-03-30T08:00", "plan_viewed"),
        ("event", "2026-03-29T22:30", "app_opened"),
        ("event", "2026-03-28T22:30", "app_opened"),
        ("event", "2026-03-27T23:30", "app_opened"),
    ]
    assert cursor is None


def test_realtime_active_users_and_events_per_minute(client, data, app: Flask, at):
    from app.models import User

    at("2026-04-01T10:00:30Z")
    with app.app_context():
        u1, u2, u3, u4 = (db.session.get(User, data[k]) for k in ("u1", "u2", "u3", "u4"))
        event(u1, "app_opened", "2026-04-01T09:58:00Z")
        event(u2, "app_opened", "2026-04-01T09:59:59Z")
        event(u1, "app_opened", "2026-04-01T09:56:00Z")
        event(u3, "app_opened", "2026-04-01T09:55:00Z")
        event(u4, "app_opened", "2026-04-01T10:00:10Z")
        db.session.commit()
    body = get(client, data, "realtime")
    assert body["active_users_5m"] == 2
    minutes = body["minutes"]
    assert len(minutes) == 30 and minutes[0]["start"].startswith("2026-04-01T09:31:00")
    assert [(i, m["events"]) for i, m in enumerate(minutes) if m["events"]] == [
        (24, 1),
        (25, 1),
        (27, 1),
        (28, 1),
    ]
    assert minutes[-1]["partial"] is True and minutes[0]["partial"] is False
    body = get(client, data, "realtime", include_internal="true")
    assert body["active_users_5m"] == 3 and body["minutes"][-1]["events"] == 1
