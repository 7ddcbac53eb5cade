"""Hour buckets on the days a zone changes its offset: one bucket per real hour, labelled
with its offset, and every event and request in exactly one of them (trends, and API
health's series from raw rows and from the latency histogram)."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from app.extensions import db
from app.models import AnalyticsEvent, RequestLog, User
from tests.oracle_support import (
    BERLIN,
    CHATHAM,
    KATHMANDU,
    LORD_HOWE,
    hour_buckets,
    hour_start,
)
from tests.store_support import store_config

URL = "/api/v2/insights"
ROUTE = "/api/v2/plans/<int:day>"
# (zone, local day, bucket count, labels that must be there, in this order)
DAYS = [
    # Spring forward at 02:45 (+12:45) to 03:45 (+13:45): the hour from 02:00 holds
    # 02:00-02:45 and 03:45-04:00; 03:45-04:00 had no bucket before.
    (
        CHATHAM,
        date(2026, 9, 27),
        23,
        ["2026-09-27T02:00:00+12:45", "2026-09-27T04:00:00+13:45"],
    ),
    # Fall back at 03:45 (+13:45) to 02:45 (+12:45): 25 real hours, 25 buckets.
    (
        CHATHAM,
        date(2026, 4, 5),
        25,
        ["2026-04-05T03:00:00+13:45", "2026-04-05T03:00:00+12:45", "2026-04-05T04:00:00+12:45"],
    ),
    # A 30-minute change: 02:00 (+10:30) becomes 02:30 (+11:00); the first hour after it
    # is half an hour long.
    (
        LORD_HOWE,
        date(2026, 10, 4),
        24,
        ["2026-10-04T01:00:00+10:30", "2026-10-04T02:30:00+11:00", "2026-10-04T03:00:00+11:00"],
    ),
    (
        LORD_HOWE,
        date(2026, 4, 5),
        25,
        ["2026-04-05T01:00:00+11:00", "2026-04-05T01:30:00+10:30", "2026-04-05T02:00:00+10:30"],
    ),
    (KATHMANDU, date(2026, 3, 29), 24, ["2026-03-29T00:00:00+05:45"]),
    (
        BERLIN,
        date(2026, 10, 25),
        25,
        ["2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00", "2026-10-25T03:00:00+01:00"],
    ),
]


@pytest.fixture
def app(app_factory: Any, store_url: str) -> Any:
    # Every API health call may read the histogram (exact=true reads raw rows); on the app
    # database and on ClickHouse (chDB: always exact).
    return app_factory(API_HEALTH_EXACT_MAX_REQUESTS=0, **store_config(store_url))


def _admin(auth: Any, app: Any) -> dict[str, str]:
    admin = auth()
    with app.app_context():
        db.session.get(User, admin.user["id"]).is_admin = True
        db.session.commit()
    return admin.headers


def _instants(tz: str, day: date) -> list[datetime]:
    """Every 5 minutes of the local day, and a second either side of each bucket start."""
    buckets = hour_buckets(tz, day, day)
    first, last = buckets[0][0], buckets[-1][1]
    found = []
    moment = first
    while moment < last:
        found.append(moment)
        moment += timedelta(minutes=5)
    for start, end, _ in buckets:
        found += [max(start, first), end - timedelta(seconds=1)]
    return [m for m in found if first <= m < last]


@pytest.mark.parametrize(
    ("tz", "day", "count", "labels"), DAYS, ids=[f"{tz}-{day}" for tz, day, _, _ in DAYS]
)
def test_every_event_and_request_lands_in_one_bucket_per_real_hour(
    app, client, auth, at, tz, day, count, labels
):
    at("2026-11-01T00:00:00Z")
    headers = _admin(auth, app)
    instants = _instants(tz, day)
    with app.app_context():
        user = User(email="u@example.com", password_hash="x", display_name="u")
        db.session.add(user)
        db.session.flush()
        for i, moment in enumerate(instants):
            db.session.add(
                AnalyticsEvent(
                    user_id=user.id,
                    event_type="app_opened",
                    event_data={},
                    occurred_at=moment,
                    created_at=moment,
                )
            )
            db.session.add(
                RequestLog(
                    endpoint=ROUTE,
                    method="GET",
                    status=200,
                    latency_ms=float(i % 7),
                    user_id=None,
                    created_at=moment,
                )
            )
        db.session.commit()

    buckets = hour_buckets(tz, day, day)
    label_of = {start: label for start, _, label in buckets}
    tally = Counter(label_of[hour_start(m, tz)] for m in instants)
    expected = [(label, tally[label]) for _, _, label in buckets]
    assert len(expected) == count
    found = [label for label, _ in expected]
    assert found[found.index(labels[0]) : found.index(labels[0]) + len(labels)] == labels

    common = {"tz": tz, "from": day.isoformat(), "to": day.isoformat(), "interval": "hour"}
    r = client.get(
        f"{URL}/trends", query_string={**common, "event_type": "app_opened"}, headers=headers
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    points = r.get_json()["series"][0]["points"]
    assert [(p["start"], p["events"]) for p in points] == expected
    assert sum(p["events"] for p in points) == len(instants)

    for exact in ("true", "false"):
        r = client.get(
            f"{URL}/api-health",
            query_string={**common, "endpoint": ROUTE, "method": "GET", "exact": exact},
            headers=headers,
        )
        assert r.status_code == 200, r.get_data(as_text=True)
        body = r.get_json()
        histogram = exact == "false" and app.config["ANALYTICS_STORE"] == "app"
        assert body["percentiles"] == ("histogram" if histogram else "exact")
        assert [(p["start"], p["requests"]) for p in body["series"]] == expected, exact
