"""Activity rollups: active users and daily trends from the rollup equal the raw scans, in
any zone, as events arrive (late ones too), after erasure, retention and is_internal changes;
built lazily per zone and folded incrementally."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from app import clock
from app.extensions import db
from app.models import (
    ActivityDayCount,
    ActivityTypeCount,
    ActivityUserDay,
    ActivityZone,
    AnalyticsEvent,
    RollupState,
    User,
)
from app.services.auth import service as auth_service
from app.services.insights.params import build_period, local_midnight
from app.services.insights.reports import active_users, trends
from app.services.insights.rollups import activity as activity_rollup
from app.services.privacy import erasure as erasure_service
from app.services.privacy import pruning
from tests.ingest_support import event as batch_event
from tests.ingest_support import post_batch
from tests.insights_data import BERLIN, get

# Kathmandu is +5:45; Sao Paulo's summer time began at midnight on 2018-11-04 (the local
# day starts at 01:00) and Berlin's ended on 2018-10-28 (a 25-hour day).
ZONES = ("UTC", "Asia/Kathmandu", "America/Sao_Paulo", BERLIN)
TYPES = ["app_opened", "plan_viewed", "video_started"]
NOW = datetime(2018, 12, 5, 15, 0, tzinfo=UTC)
FIRST = datetime(2018, 9, 1, tzinfo=UTC)
RANGES = ((date(2018, 11, 6), date(2018, 12, 5)), (date(2018, 9, 25), date(2018, 12, 6)))


def _user(name: str, *, internal: bool = False) -> int:
    user = User(email=f"{name}@example.com", password_hash="x", display_name=name,
                is_internal=internal)
    db.session.add(user)
    db.session.commit()
    return user.id


def _moments(rng: random.Random, count: int, start: datetime, end: datetime) -> list[datetime]:
    seconds = int((end - start).total_seconds())
    moments = [start + timedelta(seconds=rng.randrange(seconds)) for _ in range(count)]
    # And some on either side of local midnights, where a zone's days split.
    for tz in ZONES:
        for _ in range(count // 20):
            day = (start + timedelta(seconds=rng.randrange(seconds))).date()
            midnight = local_midnight(day, build_period(tz=tz).zone)
            moments.append(midnight - timedelta(seconds=rng.choice((1, 0))))
    return [m for m in moments if start <= m < end]


def _add_events(rng: random.Random, users: list[int], moments: list[datetime],
                received: datetime | None = None) -> None:
    rows = [
        AnalyticsEvent(user_id=rng.choice(users), event_type=rng.choice(TYPES), event_data={},
                       occurred_at=moment, created_at=received or moment)
        for moment in moments
    ]
    rng.shuffle(rows)  # ids out of time order
    db.session.add_all(rows)
    db.session.commit()


def _assert_rollup_equals_raw() -> None:
    for tz in ZONES:
        for start, end in RANGES:
            for internal in (False, True):
                period = build_period(tz=tz, start=start, end=end, include_internal=internal)
                assert active_users.run(period=period) == active_users.run(
                    period=period, rollup=False
                ), (tz, start, internal)
                args: dict[str, Any] = {"event_types": TYPES, "compare_previous": True}
                assert trends.run(period=period, **args) == trends.run(
                    period=period, rollup=False, **args
                ), (tz, start, internal)


def _rows(table: Any, **where: Any) -> int:
    stmt = select(func.count()).select_from(table)
    for name, value in where.items():
        stmt = stmt.where(table.c[name] == value)
    return db.session.scalar(stmt) or 0


def test_rollup_equals_raw_through_late_events_flag_changes_erasure_and_retention(app):
    rng = random.Random(20260201)
    clock.set_clock(lambda: NOW)
    with app.app_context():
        users = [_user(f"u{i}") for i in range(10)] + [_user(f"staff{i}", internal=True)
                                                        for i in range(2)]
        _add_events(rng, users, _moments(rng, 700, FIRST, NOW))
        _assert_rollup_equals_raw()
        assert {z.tz for z in db.session.scalars(select(ActivityZone))} == set(ZONES)

        # Late events: they happened weeks ago and arrive now, after the first reports.
        _add_events(rng, users, _moments(rng, 150, FIRST, NOW - timedelta(days=2)), NOW)
        _add_events(rng, users, _moments(rng, 30, NOW - timedelta(hours=6), NOW), NOW)
        _assert_rollup_equals_raw()

        # is_internal is applied when reading: a change needs no rebuild.
        db.session.get(User, users[0]).is_internal = True
        db.session.get(User, users[-1]).is_internal = False
        db.session.commit()
        _assert_rollup_equals_raw()

        erased = users[3]
        assert _rows(ActivityUserDay.__table__, user_id=erased) > 0
        erasure_service.erase_user(user_id=erased, requested_by="admin", admin_user_id=None)
        assert _rows(ActivityUserDay.__table__, user_id=erased) == 0
        users.remove(erased)
        _assert_rollup_equals_raw()

        targets = pruning.prune_targets(
            now=NOW, request_log_days=None, event_days=45, rejected_days=None
        )
        kept = _rows(ActivityUserDay.__table__)
        result = pruning.prune(db.engine, targets, batch_size=100)
        assert result.deleted["analytics_events"] > 100  # several batches
        assert 0 < _rows(ActivityUserDay.__table__) < kept  # subtracted, not rebuilt
        _assert_rollup_equals_raw()

        # More late events, then a reset: rebuilt from scratch on the next report.
        _add_events(rng, users, _moments(rng, 50, FIRST, NOW), NOW)
        activity_rollup.reset(session=db.session)
        db.session.commit()
        assert _rows(ActivityUserDay.__table__) == 0
        _assert_rollup_equals_raw()


def test_a_users_whole_history_is_subtracted_exactly(app):
    """Erasing users one by one: the counters end at zero, not at leftovers."""
    rng = random.Random(7)
    clock.set_clock(lambda: NOW)
    with app.app_context():
        users = [_user(f"u{i}") for i in range(4)]
        _add_events(rng, users, _moments(rng, 200, FIRST, NOW))
        _assert_rollup_equals_raw()
        for user_id in users:
            erasure_service.erase_user(user_id=user_id, requested_by="admin", admin_user_id=None)
        for table in (ActivityDayCount.__table__, ActivityTypeCount.__table__):
            values = [c for c in table.c if not c.primary_key]
            sums = db.session.execute(select(*(func.sum(func.abs(c)) for c in values))).one()
            assert all(total == 0 for total in sums), (table.name, sums)
        assert _rows(ActivityUserDay.__table__) == 0


def test_a_first_build_spread_over_calls_answers_from_raw_rows_until_done(app, monkeypatch):
    """Chunks of 60 event ids, and no time to go on after one: each call folds one chunk."""
    monkeypatch.setattr(activity_rollup, "FOLD_CHUNK", 60)
    monkeypatch.setattr(activity_rollup, "FOLD_SECONDS", 0.0)
    rng = random.Random(11)
    clock.set_clock(lambda: NOW)
    tz = "Asia/Kathmandu"
    with app.app_context():
        users = [_user(f"u{i}") for i in range(5)]
        _add_events(rng, users, _moments(rng, 250, FIRST, NOW))
        high = db.session.scalar(select(func.max(AnalyticsEvent.id)))
        period = build_period(tz=tz, start=RANGES[1][0], end=RANGES[1][1])
        raw = active_users.run(period=period, rollup=False)
        progress: list[int | None] = []
        while not progress or progress[-1] != high:
            # Raw rows until the last chunk, then the rollup: the same answer throughout.
            assert active_users.run(period=period) == raw
            progress.append(_folded(f"activity:{tz}"))
        assert progress == [*range(60, high, 60), high]


def _folded(name: str) -> int | None:
    return db.session.scalar(select(RollupState.folded_id).where(RollupState.name == name))


def _days(body: dict[str, Any]) -> dict[str, tuple[int, int, int]]:
    return {d["day"]: (d["dau"], d["wau"], d["mau"]) for d in body["days"]}


def test_built_lazily_per_zone_and_folded_incrementally(app, client, data, auth):
    rng = {"from": "2026-03-28", "to": "2026-04-01"}
    with app.app_context():
        assert _rows(ActivityUserDay.__table__) == 0 and _folded(f"activity:{BERLIN}") is None
    # Hourly trends read raw rows: no rollup for them.
    get(client, data, "trends", event_type="app_opened", tz=BERLIN, interval="hour", **rng)
    with app.app_context():
        assert _rows(ActivityZone.__table__) == 0

    before = _days(get(client, data, "active-users", tz=BERLIN, **rng))
    assert before["2026-04-01"] == (0, 3, 3)
    with app.app_context():
        zone_id = db.session.scalar(select(ActivityZone.id).where(ActivityZone.tz == BERLIN))
        high = db.session.scalar(select(func.max(AnalyticsEvent.id)))
        assert _folded(f"activity:{BERLIN}") == high
        built = _rows(ActivityUserDay.__table__, zone_id=zone_id)
        assert built == 9  # (user, day, type) rows of the data set in Berlin days
        assert [z.tz for z in db.session.scalars(select(ActivityZone))] == [BERLIN]

    # A new user tracks now, and another sends an event that happened two days ago.
    newcomer, late = auth(), auth()
    r = client.post("/api/v2/analytics/track", json={"event_type": "app_opened"},
                    headers=newcomer.headers)
    assert r.status_code == 201
    r = post_batch(client, late.headers,
                   [batch_event(occurred_at="2026-03-30T10:00:00Z")],
                   sent_at="2026-04-01T10:00:00Z")
    assert r.status_code == 200 and r.get_json()["results"][0]["status"] == "accepted"

    after = _days(get(client, data, "active-users", tz=BERLIN, **rng))
    assert after["2026-04-01"] == (1, 5, 5)
    assert after["2026-03-30"] == (4, 4, 4)
    body = get(client, data, "trends", event_type="app_opened", tz=BERLIN, **rng)
    points = {p["start"]: (p["events"], p["users"]) for p in body["series"][0]["points"]}
    assert points["2026-03-30"] == (3, 3) and points["2026-04-01"] == (1, 1)
    with app.app_context():
        assert _folded(f"activity:{BERLIN}") == db.session.scalar(
            select(func.max(AnalyticsEvent.id))
        )
        # Folded in: two rows more, the rest kept (not rebuilt).
        assert _rows(ActivityUserDay.__table__, zone_id=zone_id) == built + 2


def test_erasure_and_internal_flag_through_the_api(app, client, data):
    rng = {"from": "2026-03-28", "to": "2026-04-01", "tz": BERLIN}
    get(client, data, "active-users", **rng)
    get(client, data, "trends", event_type=["app_opened", "plan_viewed"], **rng)
    r = client.delete(f"/api/v2/admin/users/{data['u1']}", headers=data["admin"])
    assert r.status_code == 200, r.get_json()
    with app.app_context():
        assert _rows(ActivityUserDay.__table__, user_id=data["u1"]) == 0
        auth_service.set_internal(email="u2@example.com")
    body = get(client, data, "active-users", **rng)
    # u1 erased, u2 now internal: only u3 is left (active 03-05 and 03-30).
    assert [(d["dau"], d["wau"], d["mau"]) for d in body["days"]] == [
        (0, 0, 1), (0, 0, 1), (1, 1, 1), (0, 1, 1), (0, 1, 1)
    ]
    body = get(client, data, "trends", event_type=["app_opened", "plan_viewed"], **rng)
    totals = {s["event_type"]: [(p["events"], p["users"]) for p in s["points"]]
              for s in body["series"]}
    assert totals == {
        "app_opened": [(0, 0), (0, 0), (1, 1), (0, 0), (0, 0)],
        "plan_viewed": [(0, 0), (0, 0), (1, 1), (0, 0), (0, 0)],
    }
