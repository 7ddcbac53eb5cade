"""Trends and active users: exact numbers across the Berlin DST change, on both databases."""

from __future__ import annotations

import pytest

from tests.insights_data import BERLIN, get


@pytest.fixture
def app(store_app):
    """Every test here on the app database and on ClickHouse (chDB)."""
    return store_app

URL = "/api/v2/insights"


def counts(series):
    return [(p["start"], p["events"], p["users"], p["partial"]) for p in series["points"]]


def test_trends_bucket_by_local_day_and_exclude_internal_users(client, data):
    body = get(
        client,
        data,
        "trends",
        event_type="app_opened",
        tz=BERLIN,
        **{"from": "2026-03-27", "to": "2026-04-02"},
    )
    assert body["period"] == {
        "from": "2026-03-27",
        "to": "2026-04-02",
        "tz": BERLIN,
        "interval": "day",
        "week_start": "monday",
        "include_internal": False,
    }
    [series] = body["series"]
    assert counts(series) == [
        ("2026-03-27", 0, 0, False),
        ("2026-03-28", 2, 1, False),
        ("2026-03-29", 2, 1, False),
        ("2026-03-30", 2, 2, False),
        ("2026-03-31", 0, 0, False),
        ("2026-04-01", 0, 0, True),
        ("2026-04-02", 0, 0, True),
    ]
    body = get(
        client,
        data,
        "trends",
        event_type="app_opened",
        tz=BERLIN,
        include_internal="true",
        **{"from": "2026-03-30", "to": "2026-03-30"},
    )
    assert counts(body["series"][0]) == [("2026-03-30", 3, 3, False)]


def test_trends_in_utc_place_the_same_events_on_other_days(client, data):
    body = get(
        client,
        data,
        "trends",
        event_type="app_opened",
        tz="UTC",
        **{"from": "2026-03-27", "to": "2026-03-30"},
    )
    assert [(p["events"], p["users"]) for p in body["series"][0]["points"]] == [
        (1, 1),
        (2, 2),
        (2, 2),
        (1, 1),
    ]


def test_trends_weeks_start_on_monday_or_sunday(client, data):
    rng = {"from": "2026-03-27", "to": "2026-04-01"}
    body = get(client, data, "trends", event_type="app_opened", tz=BERLIN, interval="week", **rng)
    assert counts(body["series"][0]) == [("2026-03-23", 4, 2, False), ("2026-03-30", 2, 2, True)]
    body = get(
        client,
        data,
        "trends",
        event_type="app_opened",
        tz=BERLIN,
        interval="week",
        week_start="sunday",
        **rng,
    )
    assert counts(body["series"][0]) == [("2026-03-22", 2, 1, False), ("2026-03-29", 4, 3, True)]


def test_trends_hours_of_the_dst_day_are_23(client, data):
    body = get(
        client,
        data,
        "trends",
        event_type="app_opened",
        tz=BERLIN,
        interval="hour",
        **{"from": "2026-03-29", "to": "2026-03-29"},
    )
    points = body["series"][0]["points"]
    assert len(points) == 23
    assert [p["start"] for p in points[:3]] == [
        "2026-03-29T00:00:00+01:00",
        "2026-03-29T01:00:00+01:00",
        "2026-03-29T03:00:00+02:00",
    ]
    assert [(i, p["events"]) for i, p in enumerate(points) if p["events"]] == [(0, 1), (22, 1)]
    assert points[22]["start"] == "2026-03-29T23:00:00+02:00"


def test_trends_breakdown_by_event_data_key(client, data):
    body = get(
        client,
        data,
        "trends",
        event_type="plan_viewed",
        tz=BERLIN,
        breakdown="day_of_challenge",
        **{"from": "2026-03-30", "to": "2026-03-30"},
    )
    assert [
        (s["value"], s["other"], s["total_events"], s["points"][0]["users"]) for s in body["series"]
    ] == [("1", False, 2, 2), ("2", False, 1, 1), (None, False, 1, 1)]


def test_trends_compare_with_previous_period(client, data):
    body = get(
        client,
        data,
        "trends",
        event_type=["app_opened", "plan_viewed"],
        tz=BERLIN,
        compare="previous",
        **{"from": "2026-03-30", "to": "2026-04-01"},
    )
    current = {s["event_type"]: [p["events"] for p in s["points"]] for s in body["series"]}
    previous = {
        s["event_type"]: [(p["start"], p["events"]) for p in s["points"]] for s in body["previous"]
    }
    assert current == {"app_opened": [2, 0, 0], "plan_viewed": [4, 0, 0]}
    assert previous["app_opened"] == [("2026-03-27", 0), ("2026-03-28", 2), ("2026-03-29", 2)]
    assert previous["plan_viewed"] == [("2026-03-27", 0), ("2026-03-28", 0), ("2026-03-29", 0)]


def test_trends_as_csv(client, data):
    r = client.get(
        f"{URL}/trends",
        headers=data["admin"] | {"Accept": "text/csv"},
        query_string={
            "event_type": "app_opened",
            "tz": BERLIN,
            "from": "2026-03-28",
            "to": "2026-03-29",
        },
    )
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.get_data(as_text=True).splitlines() == [
        "period,event_type,value,bucket,partial,events,users",
        "current,app_opened,,2026-03-28,false,2,1",
        "current,app_opened,,2026-03-29,false,2,1",
    ]


def test_active_users_rolling_windows_and_stickiness(client, data):
    body = get(
        client, data, "active-users", tz=BERLIN, **{"from": "2026-03-28", "to": "2026-04-01"}
    )
    assert [
        (d["day"], d["dau"], d["wau"], d["mau"], d["stickiness"], d["partial"])
        for d in body["days"]
    ] == [
        ("2026-03-28", 1, 1, 2, 0.5, False),
        ("2026-03-29", 1, 2, 3, 0.3333, False),
        ("2026-03-30", 3, 3, 3, 1.0, False),
        ("2026-03-31", 0, 3, 3, 0.0, False),
        ("2026-04-01", 0, 3, 3, 0.0, True),
    ]
    body = get(
        client,
        data,
        "active-users",
        tz=BERLIN,
        include_internal="true",
        **{"from": "2026-03-30", "to": "2026-03-30"},
    )
    assert [(d["dau"], d["wau"], d["mau"]) for d in body["days"]] == [(4, 4, 4)]


def test_active_users_as_csv(client, data):
    r = client.get(
        f"{URL}/active-users",
        headers=data["admin"],
        query_string={"format": "csv", "tz": BERLIN, "from": "2026-03-28", "to": "2026-03-29"},
    )
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.get_data(as_text=True).splitlines() == [
        "day,partial,dau,wau,mau,stickiness,wau_complete,mau_complete",
        "2026-03-28,false,1,1,2,0.5,true,false",
        "2026-03-29,false,1,2,3,0.3333,true,false",
    ]


def test_preset_last_7d_ends_today_in_tz(client, data):
    body = get(client, data, "active-users", tz=BERLIN, preset="last_7d")
    assert [d["day"] for d in body["days"]][::6] == ["2026-03-26", "2026-04-01"]


def test_trends_breakdown_keeps_the_top_25_values_and_sums_the_rest_as_other(
    app, client, data
):
    """27 values of video_id: the 25 most frequent get a series each (ties by value), the
    two least frequent are summed in one "other" series (its users counted once), and
    events without the key form the value-less series."""
    from app.extensions import db
    from tests.insights_data import add_user, event

    with app.app_context():
        viewers = [add_user(f"viewer{i}") for i in range(3)]
        # video 1..25: (27 - v) events each by viewer0, so the ranking is 1, 2, ..., 25.
        for video in range(1, 26):
            for _ in range(27 - video):
                event(viewers[0], "video_started", "2026-03-30T09:00:00Z", {"video_id": video})
        # videos 26 and 27: one event each, by viewer1 and by viewer1 and viewer2.
        event(viewers[1], "video_started", "2026-03-30T09:00:00Z", {"video_id": 26})
        event(viewers[1], "video_started", "2026-03-30T09:00:00Z", {"video_id": 27})
        event(viewers[2], "video_started", "2026-03-30T09:00:00Z", {"video_id": 27})
        event(viewers[2], "video_started", "2026-03-30T09:00:00Z", {})  # no video_id
        db.session.commit()
    body = get(
        client,
        data,
        "trends",
        event_type="video_started",
        tz=BERLIN,
        breakdown="video_id",
        **{"from": "2026-03-30", "to": "2026-03-30"},
    )
    series = [(s["value"], s["other"], s["total_events"], s["points"][0]["users"])
              for s in body["series"]]
    assert series[:25] == [(str(v), False, 27 - v, 1) for v in range(1, 26)]
    assert series[25:] == [(None, False, 1, 1), (None, True, 3, 2)]
    csv = client.get(
        "/api/v2/insights/trends",
        query_string={"event_type": "video_started", "tz": BERLIN, "breakdown": "video_id",
                      "from": "2026-03-30", "to": "2026-03-30", "format": "csv"},
        headers=data["admin"],
    )
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    lines = csv.get_data(as_text=True).splitlines()
    assert lines[-2:] == [
        "current,video_started,,2026-03-30,false,1,1",
        "current,video_started,other,2026-03-30,false,3,2",
    ]
