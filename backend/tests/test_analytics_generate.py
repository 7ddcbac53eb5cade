"""flask analytics generate: realistic activity in every table, exact counts, reproducible,
never a completion before its join or unlock, refused twice unless --append."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.config import CLIENT_EVENT_TYPES, SERVER_EVENT_TYPES
from app.extensions import db
from app.models import Base
from tests import services as svc

NOW = "2026-03-20T12:00:00Z"
DAYS = 28
ARGS = ["analytics", "generate", "--users", "60", "--events", "4000", "--days", str(DAYS),
        "--request-logs", "700", "--seed", "7"]
GENERATED = "email LIKE '%@generated.example'"
TABLES = ("users", "challenges", "plans", "videos", "enrollments", "completions",
          "user_liked_videos", "analytics_events", "request_logs")


def _generate(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=[*ARGS, *args])


def _counts(query: Any) -> dict[str, int]:
    return {table: query(f"SELECT count(*) FROM {table}")[0][0] for table in TABLES}


def _utc(value: Any) -> datetime:
    """A timestamp as read back: PostgreSQL gives aware datetimes, SQLite naive UTC text."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def test_generate_fills_every_table_with_the_requested_counts(app, query, at):
    at(NOW)
    result = _generate(app)
    assert result.exit_code == 0, result.output
    assert "rows/s" in result.output
    counts = _counts(query)
    assert query(f"SELECT count(*) FROM users WHERE {GENERATED}")[0][0] == counts["users"] == 60
    assert counts["analytics_events"] == 4000
    assert counts["request_logs"] == 700
    assert counts["challenges"] == 3 and counts["plans"] == counts["videos"] == 30 + 21 + 7
    assert 0 < counts["enrollments"] <= 60
    assert 0 < counts["completions"] and 0 < counts["user_liked_videos"]
    types = dict(query("SELECT event_type, count(*) FROM analytics_events GROUP BY event_type"))
    assert set(types) <= set(CLIENT_EVENT_TYPES) | set(SERVER_EVENT_TYPES)
    for kind in ("app_opened", "challenge_joined", "plan_viewed", "plan_completed",
                 "video_started", "video_progress", "video_completed", "video_liked",
                 "screen_viewed"):
        assert types.get(kind, 0) > 0, kind
    # The events are the record of what the tables hold.
    assert types["plan_completed"] == counts["completions"]
    assert types["video_liked"] == counts["user_liked_videos"]
    assert types["challenge_joined"] == counts["enrollments"]
    ids = query("SELECT count(event_id), count(DISTINCT event_id) FROM analytics_events")[0]
    assert tuple(ids) == (4000, 4000)


def test_generated_times_fall_within_the_days(app, query, at):
    now = at(NOW)
    assert _generate(app).exit_code == 0
    events = query("SELECT occurred_at, created_at FROM analytics_events")
    start = now - timedelta(days=DAYS)
    for occurred, created in events:
        occurred, created = _utc(occurred), _utc(created)
        assert start <= occurred <= created <= now
        assert created - occurred < timedelta(days=7)  # ingestion refuses older ones
    assert any(_utc(c) - _utc(o) > timedelta(minutes=1) for o, c in events)  # a few late ones
    # Request logs fill the last 7 UTC days, today included.
    first_log_day = datetime(2026, 3, 14, tzinfo=UTC)
    for (created,) in query("SELECT created_at FROM request_logs"):
        assert first_log_day <= _utc(created) <= now
    for (created,) in query("SELECT created_at FROM users"):
        assert start <= _utc(created) <= now


def test_completions_follow_joins_and_unlocks(app, query, at):
    at(NOW)
    assert _generate(app).exit_code == 0
    rows = query(
        "SELECT c.user_id, c.day, c.completed_at, p.day, p.challenge_id, e.user_id, "
        "e.challenge_id, e.start_date, e.joined_at, u.timezone "
        "FROM completions c JOIN enrollments e ON e.id = c.enrollment_id "
        "JOIN plans p ON p.id = c.plan_id JOIN users u ON u.id = c.user_id"
    )
    assert len(rows) == query("SELECT count(*) FROM completions")[0][0] > 0
    for uid, day, done, plan_day, plan_challenge, owner, challenge, start, joined, tz in rows:
        assert (plan_day, plan_challenge, owner) == (day, challenge, uid)
        assert _utc(done) >= _utc(joined)
        unlocks = _day(start) + timedelta(days=day - 1)
        assert _utc(done).astimezone(ZoneInfo(tz)).date() >= unlocks
    completed = {(uid, day, _utc(done)) for uid, day, done, *_rest in rows}
    events = query("SELECT user_id, event_data, occurred_at FROM analytics_events "
                   "WHERE event_type = 'plan_completed'")
    assert {(uid, _data(data)["day_of_challenge"], _utc(at_)) for uid, data, at_ in events} == (
        completed)


def _data(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else json.loads(value)


def test_generated_rows_reference_existing_rows(app, query, at):
    at(NOW)
    assert _generate(app).exit_code == 0
    orphans = {
        "events": "SELECT count(*) FROM analytics_events WHERE user_id NOT IN "
                  "(SELECT id FROM users)",
        "logs": "SELECT count(*) FROM request_logs WHERE user_id IS NOT NULL AND user_id "
                "NOT IN (SELECT id FROM users)",
        "enrollments": "SELECT count(*) FROM enrollments WHERE user_id NOT IN "
                       "(SELECT id FROM users) OR challenge_id NOT IN (SELECT id FROM challenges)",
        "likes": "SELECT count(*) FROM user_liked_videos WHERE user_id NOT IN "
                 "(SELECT id FROM users) OR video_id NOT IN (SELECT id FROM videos)",
        "completions": "SELECT count(*) FROM completions WHERE enrollment_id NOT IN "
                       "(SELECT id FROM enrollments) OR plan_id NOT IN (SELECT id FROM plans)",
    }
    assert {name: query(sql)[0][0] for name, sql in orphans.items()} == dict.fromkeys(orphans, 0)
    assert query("SELECT count(*) FROM request_logs WHERE user_id IS NOT NULL")[0][0] > 0


def _digest(query: Any) -> str:
    """Every generated row, by content (users by email, not id), hashed."""
    sqls = (
        "SELECT u.email, e.event_type, e.created_at, e.occurred_at, e.event_id "
        "FROM analytics_events e JOIN users u ON u.id = e.user_id ORDER BY e.id",
        "SELECT email, timezone, created_at FROM users ORDER BY id",
        "SELECT day, completed_at FROM completions ORDER BY id",
        "SELECT start_date, joined_at, ended_at FROM enrollments ORDER BY id",
        "SELECT endpoint, method, status, latency_ms, created_at FROM request_logs ORDER BY id",
    )
    rows = [[str(value) for value in row] for sql in sqls for row in query(sql)]
    rows += [_data(d) for (d,) in query("SELECT event_data FROM analytics_events ORDER BY id")]
    return hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()


def test_the_seed_decides_the_rows(app, query, at):
    at(NOW)
    digests = []
    for seed in ("7", "7", "8"):
        assert _generate(app, "--seed", seed).exit_code == 0
        digests.append(_digest(query))
        with app.app_context():
            svc.empty_all_tables(db.engine, Base.metadata)
    assert digests[0] == digests[1] != digests[2]


def test_a_second_run_is_refused_unless_appending(app, query, at):
    at(NOW)
    assert _generate(app).exit_code == 0
    before = _counts(query)
    refused = _generate(app)
    assert refused.exit_code != 0
    assert "already holds 60 generated users" in refused.output and "--append" in refused.output
    assert _counts(query) == before
    appended = _generate(app, "--append")
    assert appended.exit_code == 0, appended.output
    after = _counts(query)
    assert (after["users"], after["analytics_events"], after["request_logs"]) == (120, 8000, 1400)
    assert after["challenges"] == 3  # reused, not created again
    assert query("SELECT count(DISTINCT email) FROM users")[0][0] == 120


def test_a_small_budget_is_met_exactly(app, query, at):
    at(NOW)
    result = app.test_cli_runner().invoke(args=[
        "analytics", "generate", "--users", "50", "--events", "40", "--days", "10",
        "--request-logs", "0"])
    assert result.exit_code == 0, result.output
    assert query("SELECT count(*) FROM analytics_events")[0][0] == 40
    assert query("SELECT count(*) FROM request_logs")[0][0] == 0
    assert query("SELECT count(*) FROM users")[0][0] == 50


def test_log_days_beyond_the_days_are_refused(app, query, at):
    at(NOW)
    result = _generate(app, "--log-days", str(DAYS + 1))
    assert result.exit_code != 0
    assert "request logs must fall within the days" in result.output
    assert query("SELECT count(*) FROM users")[0][0] == 0


def _schema(query: Any) -> list[Any]:
    tables = "('analytics_events', 'request_logs', 'completions', 'user_liked_videos')"
    indexes = query(f"SELECT tablename, indexname, indexdef FROM pg_indexes "
                    f"WHERE tablename IN {tables} ORDER BY 1, 2")
    constraints = query(f"SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                        f"FROM pg_constraint WHERE conrelid::regclass::text IN {tables} "
                        f"ORDER BY 1, 2")
    return [tuple(r) for r in indexes] + [tuple(r) for r in constraints]


def test_deferred_indexes_and_keys_come_back_as_they_were(app, query, at, db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("indexes are deferred on PostgreSQL only")
    at(NOW)
    before = _schema(query)
    assert any(name == "fk_analytics_events_user_id_users" for _t, name, _d in before)
    result = _generate(app, "--defer-indexes")
    assert result.exit_code == 0, result.output
    assert _schema(query) == before
    assert query("SELECT count(*) FROM analytics_events")[0][0] == 4000


def test_installs_are_anonymous_until_sign_up_and_carry_one_device_each(app, query, at):
    """Issue 15: anonymous installs onboard; a share registers and is linked then (its
    onboarding before the link); every client event carries its device's context."""
    at(NOW)
    assert _generate(app).exit_code == 0
    anonymous = query(
        "SELECT anonymous_id, count(*), count(DISTINCT platform), count(DISTINCT app_version),"
        " min(occurred_at), max(occurred_at) FROM analytics_events WHERE user_id IS NULL"
        " GROUP BY anonymous_id"
    )
    assert anonymous and all(name for name, *_ in anonymous)
    assert all(platforms == 1 and versions <= 1 for _, _, platforms, versions, _, _ in anonymous)
    # At most a tenth of the budget, and the total still exact (first test).
    assert 0 < sum(n for _, n, *_ in anonymous) <= 400
    links = query(
        "SELECT l.anonymous_id, l.linked_by, l.linked_at, u.email FROM anonymous_identities l"
        " JOIN users u ON u.id = l.user_id"
    )
    assert 0 < len(links) < len(anonymous)
    assert all(by == "register" and email.endswith("@generated.example")
               for _, by, _, email in links)
    last_anonymous = {name: _utc(last) for name, *_, last in anonymous}
    assert all(last_anonymous[name] <= _utc(linked) for name, _, linked, _ in links)
    # A member's app_opened, video_started and video_completed events carry their install's
    # id and context (as the seed's do); server events none.
    mismatched = query(
        "SELECT count(*) FROM analytics_events e JOIN anonymous_identities l"
        " ON l.user_id = e.user_id JOIN analytics_events o ON o.anonymous_id = l.anonymous_id"
        " AND o.user_id IS NULL WHERE e.platform IS NOT NULL AND (e.platform <> o.platform"
        " OR e.anonymous_id <> l.anonymous_id)"
    )[0][0]
    assert mismatched == 0
    server = query(
        "SELECT count(*), count(platform) FROM analytics_events WHERE event_type IN"
        " ('plan_viewed', 'plan_completed', 'challenge_joined', 'video_liked')"
    )[0]
    assert server[0] > 0 and server[1] == 0
    client = query("SELECT count(*), count(platform) FROM analytics_events"
                   " WHERE event_type = 'app_opened' AND user_id IS NOT NULL")[0]
    assert client[0] == client[1] > 0
