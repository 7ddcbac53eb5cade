"""Trends by context over HTTP: breakdown_property (a context column), the platform and
app_version filters, and their 422s (the definition: test_oracle_trends)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AnalyticsEvent, User
from tests.insights_data import URL, get, ts
from tests.problem_helpers import assert_problem


@pytest.fixture
def app(store_app):
    """Every test here on the app database and on ClickHouse (chDB)."""
    return store_app


DAY = {"from": "2026-03-30", "to": "2026-03-30", "event_type": "screen_viewed"}


def _screens(app) -> None:
    """u1: ios 1.2 twice, android 1.3 once; u2: web (no app version) once."""
    with app.app_context():
        u1, u2 = (
            db.session.scalars(select(User).where(User.email == f"{n}@example.com")).one()
            for n in ("u1", "u2")
        )
        for user, platform, version in (
            (u1, "ios", "1.2.0"), (u1, "ios", "1.2.0"), (u1, "android", "1.3.0"),
            (u2, "web", None),
        ):
            db.session.add(
                AnalyticsEvent(
                    user_id=user.id, event_type="screen_viewed", event_data={"screen": "home"},
                    occurred_at=ts("2026-03-30T09:30:00Z"), created_at=ts("2026-03-30T09:30:00Z"),
                    platform=platform, app_version=version,
                )
            )
        db.session.commit()


def _totals(body) -> dict:
    return {(s["value"], s["other"]): s["points"][0]["events"] for s in body["series"]}


def test_breakdown_by_a_context_column(client, data, app):
    _screens(app)
    body = get(client, data, "trends", breakdown_property="platform", **DAY)
    assert body["breakdown_property"] == "platform" and body["breakdown"] is None
    assert _totals(body) == {("ios", False): 2, ("android", False): 1, ("web", False): 1}
    body = get(client, data, "trends", breakdown_property="app_version", **DAY)
    assert _totals(body) == {("1.2.0", False): 2, ("1.3.0", False): 1, (None, False): 1}


def test_platform_and_app_version_filters(client, data, app):
    _screens(app)
    body = get(client, data, "trends", platform="ios", **DAY)
    assert body["filters"] == {"platform": "ios"}
    assert body["series"][0]["points"][0] | {"start": None} == {
        "start": None, "partial": False, "events": 2, "users": 1
    }
    body = get(client, data, "trends", app_version="1.3.0", breakdown_property="platform", **DAY)
    assert _totals(body) == {("android", False): 1}
    body = get(client, data, "trends", platform="web", app_version="1.2.0", **DAY)
    assert body["series"][0]["points"][0]["events"] == 0


def test_bad_context_parameters_are_422(client, data):
    for params, field in (
        ({"breakdown_property": "ip_address"}, "breakdown_property"),
        ({"breakdown_property": "platform", "breakdown": "screen"}, "breakdown_property"),
        ({"platform": "windows"}, "platform"),
        ({"app_version": "x" * 65}, "app_version"),
    ):
        r = client.get(f"{URL}/trends", query_string=DAY | params, headers=data["admin"])
        body = assert_problem(r, 422)
        assert field in [e["field"] for e in body["errors"]], body


def test_identified_os_and_locale_filters_and_the_identified_breakdown(client, data, app):
    """The filters every report shares (insights/context.py), on trends: anon-a (never
    linked) adds an ios screen in fr-FR."""
    _screens(app)
    with app.app_context():
        db.session.add(
            AnalyticsEvent(
                anonymous_id="anon-a", event_type="screen_viewed", event_data={},
                occurred_at=ts("2026-03-30T09:45:00Z"), created_at=ts("2026-03-30T09:45:00Z"),
                platform="ios", os_name="iOS", locale="fr-FR",
            )
        )
        db.session.commit()

    def point(body):
        return (body["series"][0]["points"][0]["events"], body["series"][0]["points"][0]["users"])

    assert point(get(client, data, "trends", **DAY)) == (5, 3)
    body = get(client, data, "trends", identified="false", **DAY)
    assert (point(body), body["filters"]) == ((1, 1), {"identified": False})
    assert point(get(client, data, "trends", identified="true", platform="ios", **DAY)) == (2, 1)
    assert point(get(client, data, "trends", os_name="iOS", **DAY)) == (1, 1)
    assert point(get(client, data, "trends", locale="fr-FR", **DAY)) == (1, 1)
    body = get(client, data, "trends", breakdown_property="identified", **DAY)
    assert _totals(body) == {("identified", False): 4, ("anonymous", False): 1}
