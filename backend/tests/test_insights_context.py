"""Every report's context filters (platform, os_name, app_version, locale, identified) and
breakdown_property over HTTP, hand-computed, on the app database and on ClickHouse (chDB:
a filtered report reads the app database and gives the same answer). The definition, on
random data against plain-Python references: the test_oracle_* modules."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AnalyticsEvent, AnonymousIdentity, User
from tests.insights_data import URL, get, ts
from tests.problem_helpers import assert_problem


@pytest.fixture
def app(store_app):
    """Every test here on the app database and on ClickHouse (chDB)."""
    return store_app


DAY = {"from": "2026-03-30", "to": "2026-03-30", "tz": "Europe/Berlin"}
STEPS = {"steps": [{"event_type": "app_opened"}, {"event_type": "plan_viewed"}]}


def _opens(app) -> None:
    """On 2026-03-30: u1 opens on ios 1.2.0 (en-US), u2 on android 1.3.0, anon-a (never
    linked) on ios 1.3.0, anon-b (linked to u3) on ios 1.2.0; at 2026-04-01 09:58 (two
    minutes before now) anon-a again on ios. The data set's other events have no context."""
    with app.app_context():
        u1, u2, u3 = (
            db.session.scalars(select(User).where(User.email == f"{n}@example.com")).one()
            for n in ("u1", "u2", "u3")
        )
        db.session.add(AnonymousIdentity(anonymous_id="anon-b", user_id=u3.id, linked_by="login"))
        for user, anonymous, platform, version, at in (
            (u1, None, "ios", "1.2.0", "2026-03-30T09:30:00Z"),
            (u2, None, "android", "1.3.0", "2026-03-30T09:40:00Z"),
            (None, "anon-a", "ios", "1.3.0", "2026-03-30T09:50:00Z"),
            (None, "anon-b", "ios", "1.2.0", "2026-03-30T09:55:00Z"),
            (None, "anon-a", "ios", "1.3.0", "2026-04-01T09:58:00Z"),
        ):
            db.session.add(
                AnalyticsEvent(
                    user_id=None if user is None else user.id, anonymous_id=anonymous,
                    event_type="app_opened", event_data={}, occurred_at=ts(at),
                    created_at=ts(at), platform=platform, app_version=version,
                    os_name="iOS" if platform == "ios" else None,
                    locale="en-US" if user is u1 else None,
                )
            )
        db.session.commit()


def _dau(body) -> int:
    return body["days"][0]["dau"]


def test_active_users_filtered_by_each_context_parameter(client, data, app):
    _opens(app)
    # u1, u2, u3 (the data set) and anon-a.
    body = get(client, data, "active-users", **DAY)
    assert (_dau(body), body["filters"], body["groups"]) == (4, {}, None)
    for params, dau in (
        ({"platform": "ios"}, 3), ({"platform": "android"}, 1), ({"platform": "web"}, 0),
        ({"os_name": "iOS"}, 3), ({"app_version": "1.3.0"}, 2), ({"locale": "en-US"}, 1),
        ({"identified": "true"}, 3), ({"identified": "false"}, 1),
        ({"platform": "ios", "identified": "false"}, 1),
    ):
        body = get(client, data, "active-users", **DAY, **params)
        assert _dau(body) == dau, params
        assert body["filters"] == {
            k: (v == "true" if k == "identified" else v) for k, v in params.items()
        }
    # The first event of all, filtered or not.
    assert body["data_start"] == "2026-03-05"


def test_active_users_broken_down(client, data, app):
    _opens(app)
    body = get(client, data, "active-users", breakdown_property="platform", **DAY)
    # Events without a platform are the most (the data set's six), then ios (3), android.
    assert _dau(body) == 4 and body["breakdown_property"] == "platform"
    assert [(g["value"], _dau(g)) for g in body["groups"]] == [
        (None, 3), ("ios", 3), ("android", 1)
    ]
    body = get(client, data, "active-users", breakdown_property="identified", **DAY)
    assert [(g["value"], _dau(g)) for g in body["groups"]] == [
        ("identified", 3), ("anonymous", 1)
    ]
    body = get(client, data, "active-users", breakdown_property="app_version",
               platform="ios", **DAY)
    assert [(g["value"], _dau(g)) for g in body["groups"]] == [("1.2.0", 2), ("1.3.0", 1)]
    r = client.get(f"{URL}/active-users", headers=data["admin"],
                   query_string=DAY | {"breakdown_property": "identified", "format": "csv"})
    lines = r.get_data(as_text=True).splitlines()
    assert lines[0].startswith("group,value,day,partial,dau,")
    assert [line.split(",")[:5] for line in lines[1:]] == [
        ["all", "", "2026-03-30", "false", "4"],
        ["identified", "identified", "2026-03-30", "false", "3"],
        ["identified", "anonymous", "2026-03-30", "false", "1"],
    ]


def test_sessions_filtered_and_broken_down(client, data, app):
    _opens(app)
    body = get(client, data, "sessions", platform="ios", **DAY)
    point = body["points"][0]
    assert (point["sessions"], point["anonymous_sessions"], point["single_event_sessions"]) == (
        3, 1, 3
    )
    body = get(client, data, "sessions", breakdown_property="identified", **DAY)
    # u1: 00:30, 10:00, 11:00, 11:30 local (gaps of 30 minutes or more): 4 sessions; u2:
    # 11:40 and 14:00: 2; u3: 11:55 (anon-b) with 12:00, then 13:00: 2.
    assert [(g["value"], g["points"][0]["sessions"], g["points"][0]["anonymous_sessions"])
            for g in body["groups"]] == [("identified", 8, 0), ("anonymous", 1, 1)]


def _funnel(client, data, **params):
    r = client.post(f"{URL}/funnels", json=STEPS, headers=data["admin"],
                    query_string=DAY | params)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()


def _users(body) -> list[int]:
    return [s["users"] for s in body["steps"]]


def test_funnels_filtered_and_broken_down(client, data, app):
    _opens(app)
    # u1, u2, u3 (by anon-b) and anon-a open the app; the three users view a plan.
    assert _users(_funnel(client, data)) == [4, 3]
    assert _users(_funnel(client, data, identified="false")) == [1, 0]
    # Plans are viewed from no platform: a funnel of android events stops at step 1.
    assert _users(_funnel(client, data, platform="android")) == [1, 0]
    body = _funnel(client, data, breakdown_property="identified")
    assert [(g["value"], _users(g)) for g in body["groups"]] == [
        ("identified", [3, 3]), ("anonymous", [1, 0])
    ]
    r = client.post(f"{URL}/funnels/people", headers=data["admin"],
                    query_string=DAY | {"identified": "false"}, json=STEPS | {"step": 2})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert (r.get_json()["dropped"], r.get_json()["anonymous"]) == (1, 1)


def test_retention_filtered(client, data, app):
    _opens(app)
    params = {"start_event": "app_opened", "return_event": "plan_viewed", "periods": 1,
              "from": "2026-03-30", "to": "2026-03-31", "tz": "Europe/Berlin"}
    body = get(client, data, "retention", platform="ios", **params)
    # First ios opens: u1, anon-a and u3 on 03-30; plans are viewed from no platform.
    assert [(c["start"], c["size"], c["periods"][1]["on"]) for c in body["cohorts"]] == [
        ("2026-03-30", 3, 0)
    ]
    body = get(client, data, "retention", breakdown_property="platform", **params)
    assert [(g["value"], [c["size"] for c in g["cohorts"]]) for g in body["groups"]] == [
        (None, []), ("ios", [3]), ("android", [1])
    ]


def test_realtime_filtered_and_broken_down(client, data, app):
    _opens(app)
    assert get(client, data, "realtime", platform="ios")["active_users_5m"] == 1
    assert get(client, data, "realtime", platform="android")["active_users_5m"] == 0
    body = get(client, data, "realtime", breakdown_property="identified")
    assert [(g["value"], g["active_users_5m"]) for g in body["groups"]] == [("anonymous", 1)]


@pytest.mark.parametrize("report", ["active-users", "sessions", "retention", "realtime"])
def test_bad_context_parameters_are_422_naming_them(client, data, report):
    base = {"start_event": "app_opened", "return_event": "plan_viewed"}
    for params, field in (
        ({"platform": "windows"}, "platform"),
        ({"os_name": ""}, "os_name"),
        ({"locale": "x" * 65}, "locale"),
        ({"app_version": "x" * 65}, "app_version"),
        ({"identified": "maybe"}, "identified"),
        ({"breakdown_property": "device_model"}, "breakdown_property"),
    ):
        r = client.get(f"{URL}/{report}", query_string=base | params, headers=data["admin"])
        body = assert_problem(r, 422)
        assert [e["field"] for e in body["errors"]] == [field], body
