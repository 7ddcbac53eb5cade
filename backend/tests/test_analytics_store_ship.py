"""Shipping events and request logs to ClickHouse (chDB here): every committed row once,
whatever the retries, crashes, late commits and outages; the lag in /metrics and /readyz."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, text, update

from app.extensions import db
from app.models import AnalyticsEvent, RequestLog, RollupState, User
from app.services.analytics_store import store
from app.services.analytics_store.settings import StoreConfigError, parse_store
from app.services.insights.params import build_period
from app.services.insights.reports import trends
from tests.store_support import store_rows

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def _user() -> int:
    user = User(email=f"s{datetime.now().timestamp()}@example.com", password_hash="x",
                display_name="s")
    db.session.add(user)
    db.session.commit()
    return user.id


def _events(user_id: int | None, n: int, *, start: datetime = T0) -> None:
    db.session.add_all(
        AnalyticsEvent(user_id=user_id, event_type="app_opened", event_data={"i": i},
                       anonymous_id=None if user_id else "anon-1",
                       occurred_at=start + timedelta(seconds=i), created_at=T0)
        for i in range(n)
    )
    db.session.commit()


def _logs(n: int) -> None:
    db.session.add_all(
        RequestLog(endpoint="/api/v2/plans/today", method="GET", status=200, latency_ms=1.5,
                   user_id=None, created_at=T0 + timedelta(seconds=i))
        for i in range(n)
    )
    db.session.commit()


def _ship(app, *args: str) -> str:  # type: ignore[no-untyped-def]
    result = app.test_cli_runner().invoke(args=["analytics", "ship", *args])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def _counts() -> tuple[int, int, int]:
    """Rows in ClickHouse: events as stored (doubles included), events FINAL, logs FINAL."""
    raw = store_rows("SELECT count() FROM {db}.events")[0][0]
    final = store_rows("SELECT count() FROM {db}.events FINAL")[0][0]
    logs = store_rows("SELECT count() FROM {db}.request_logs FINAL")[0][0]
    return raw, final, logs  # type: ignore[return-value]


def test_store_urls_are_parsed_and_never_shown_with_their_password():
    assert parse_store(None) is None and parse_store("app") is None and parse_store(" ") is None
    spec = parse_store("chdb:///srv/analytics?database=events_db")
    assert (spec.kind, spec.path, spec.database) == ("chdb", "/srv/analytics", "events_db")
    spec = parse_store("clickhouse://reader:s%40cret@ch.internal:9000/prod")
    assert (spec.host, spec.port, spec.username, spec.password, spec.database) == (
        "ch.internal", 9000, "reader", "s@cret", "prod")
    assert "s@cret" not in spec.describe() and "cret" not in spec.describe()
    assert parse_store("clickhouses://ch.internal").port == 8443
    for bad in ("chdb://relative/path", "mysql://x", "clickhouse:///nohost",
                "chdb:///x?database=a;drop"):
        with pytest.raises(StoreConfigError):
            parse_store(bad)


def test_ship_sends_every_row_once_and_again_sends_nothing(chdb_app):
    with chdb_app.app_context():
        user = _user()
        _events(user, 5)
        _events(None, 2)
        _logs(3)
    assert _ship(chdb_app) == "events=7 request_logs=3"
    assert _ship(chdb_app) == "events=0 request_logs=0"
    with chdb_app.app_context():
        assert _counts() == (7, 7, 3)
        rows = store_rows("SELECT user_id, anonymous_id, event_data, occurred_at FROM {db}.events"
                          " FINAL ORDER BY id")
        assert rows[0][:2] == (user, None) and rows[0][3] == T0
        assert json.loads(rows[0][2]) == {"i": 0}
        assert rows[-1][:2] == (None, "anon-1")
        _events(user, 4, start=T0 - timedelta(days=40))  # late: an older month's partition
    assert _ship(chdb_app, "--chunk", "3") == "events=4 request_logs=0"
    with chdb_app.app_context():
        assert _counts() == (11, 11, 3)


def test_a_batch_sent_again_after_a_lost_commit_is_not_doubled(chdb_app):
    with chdb_app.app_context():
        _events(_user(), 6)
    assert _ship(chdb_app, "--chunk", "4") == "events=6 request_logs=0"
    # As if the shipper crashed after ClickHouse took the batches but before our commit.
    with chdb_app.app_context():
        db.session.execute(update(RollupState).where(RollupState.name.like("ship:%"))
                           .values(folded_id=0))
        db.session.commit()
    assert _ship(chdb_app, "--chunk", "4") == "events=6 request_logs=0"
    with chdb_app.app_context():
        assert _counts() == (6, 6, 0)  # the repeats were dropped by their tokens
        # Re-cut differently (more rows committed since): doubles on disk, never in a read.
        _events(_user(), 1)
        db.session.execute(update(RollupState).values(folded_id=0))
        db.session.commit()
    assert _ship(chdb_app, "--chunk", "5") == "events=7 request_logs=0"
    with chdb_app.app_context():
        raw, final, _ = _counts()
        assert final == 7 and raw >= 7


def test_trends_count_an_event_doubled_on_disk_once(chdb_app):
    """Trends' FINAL merges within a monthly partition only: a repeat is always in its
    original's partition, so a partition of several parts still collapses it, and one of a
    single merged part is read as it is."""
    with chdb_app.app_context():
        user = _user()
        _events(user, 3, start=T0 - timedelta(days=20))  # October: merged into one part
        _events(user, 4)  # November
    assert _ship(chdb_app, "--chunk", "100") == "events=7 request_logs=0"
    with chdb_app.app_context():
        store_rows("OPTIMIZE TABLE {db}.events FINAL")
        _events(user, 1, start=T0 + timedelta(hours=1))
        ids = db.session.scalars(select(AnalyticsEvent.id).order_by(AnalyticsEvent.id)).all()
        # Re-cut after the first November event: its 3 successors doubled, 1 new.
        db.session.execute(update(RollupState).values(folded_id=ids[3]))
        db.session.commit()
    assert _ship(chdb_app, "--chunk", "2") == "events=4 request_logs=0"
    with chdb_app.app_context():
        raw, final, _ = _counts()
        assert (raw, final) == (11, 8)
        period = build_period(tz="UTC", start=date(2026, 10, 1), end=date(2026, 11, 30),
                              include_internal=True)
        result = trends.run(period=period, event_types=["app_opened"])
        points = [p for p in result.series[0].points if p.events]
        assert [(p.start, p.events, p.users) for p in points] == [
            ("2026-10-13", 3, 1), ("2026-11-02", 5, 1)
        ]


def test_an_insert_still_open_is_not_skipped(chdb_app, db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer: no insert can stay open beside another's commit")
    with chdb_app.app_context():
        user = _user()
        # An insert takes id n and stays open; a later insert (id n+1) commits first.
        slow = db.engine.connect()
        slow.execute(text("INSERT INTO analytics_events (user_id, event_type, event_data,"
                          " created_at, occurred_at) VALUES (:u, 'app_opened', '{}', now(),"
                          " now())"), {"u": user})
        _events(user, 1)
    try:
        # The shipper waits for the open insert (and here gives up after its lock timeout):
        # it never moves past the open id, so that row cannot be skipped.
        assert _ship(chdb_app).startswith("events=0 ")
        done = threading.Timer(0.5, lambda: (slow.commit(), slow.close()))
        done.start()
        assert _ship(chdb_app).startswith("events=2 ")
        done.join()
    finally:
        if not slow.closed:
            slow.rollback()
            slow.close()
    with chdb_app.app_context():
        assert _counts()[:2] == (2, 2)


def test_lag_shows_in_readyz_and_metrics_until_shipped(chdb_app, client, at):
    at("2026-11-02T12:10:00Z")
    with chdb_app.app_context():
        _events(_user(), 3)
    client = chdb_app.test_client()
    body = client.get("/readyz").get_json()
    assert body["checks"]["analytics_store"] == "ok"
    events = body["analytics_store"]["lag"]["events"]
    assert events["pending_ids"] == 3 and events["lag_seconds"] == 600.0
    assert body["analytics_store"]["migrations"] == [1]
    assert body["analytics_store"]["pending_mutations"] == 0
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'challenge_analytics_ship_lag_seconds{source="events"} 600.0' in metrics
    assert 'challenge_analytics_ship_pending_ids{source="events"} 3.0' in metrics
    _ship(chdb_app)
    body = client.get("/readyz").get_json()
    assert body["analytics_store"]["lag"]["events"] == {
        "shipped_id": 3, "high_id": 3, "pending_ids": 0, "lag_seconds": 0.0}
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'challenge_analytics_ship_lag_seconds{source="events"} 0.0' in metrics


def test_request_logs_past_retention_leave_clickhouse_by_ttl(app_factory, chdb_dir):
    from tests.store_support import chdb_url, drop

    url = chdb_url(chdb_dir)
    app = app_factory(ANALYTICS_STORE=url, REQUEST_LOG_RETENTION_DAYS=30)
    try:
        now = datetime.now(UTC)
        with app.app_context():
            db.session.add_all(
                RequestLog(endpoint="/x", method="GET", status=200, latency_ms=1.0,
                           created_at=moment) for moment in (now, now - timedelta(days=31)))
            db.session.commit()
        assert _ship(app) == "events=0 request_logs=2"
        with app.app_context():
            store_rows("OPTIMIZE TABLE {db}.request_logs FINAL")
            assert store_rows("SELECT count() FROM {db}.request_logs") == [(1,)]
            assert store.spec() is not None
    finally:
        drop(url)


def test_parameters_reach_clickhouse_as_given(chdb_app):
    odd = "a'b\\c\td\ne\\"
    with chdb_app.app_context():
        assert store_rows("SELECT {s:String}, {a:Array(String)}, {i:Array(Int64)}",
                          {"s": odd, "a": [odd, "", "ü"], "i": []}) == [(odd, [odd, "", "ü"], [])]


def test_every_value_arrives_as_stored(chdb_app):
    """Text with tabs, newlines, control characters, backslashes, quotes and non-ASCII;
    NULLs; microseconds; floats; UUIDs; nested JSON: the same values in ClickHouse as in
    the app database (on PostgreSQL they travel as COPY text, on SQLite as JSON lines)."""
    odd = "tab\there\nnew \\N back\\slash 'q' \"dq\" é 🙂 \r \b\f\v\x01 \\v"
    data = {"s": odd, "n": [1, 2.5, None, True], "o": {"k": "v\\"}, "big": 2**62, "f": 0.1}
    at = T0.replace(microsecond=123456)
    with chdb_app.app_context():
        user = _user()
        db.session.add_all([
            AnalyticsEvent(user_id=user, event_type="app_opened", event_data=data,
                           occurred_at=at, created_at=T0.replace(microsecond=5),
                           event_id=uuid.UUID(int=7), anonymous_id=odd, session_id="",
                           platform="ios", os_version=odd, locale=None),
            AnalyticsEvent(user_id=None, anonymous_id="a", event_type="screen_viewed",
                           event_data={}, occurred_at=T0, created_at=T0),
        ])
        db.session.add(RequestLog(endpoint="/api/v2/plans/<int:day>", method="GET", status=503,
                                  latency_ms=0.1 + 0.2, user_id=user,
                                  ip_address="2001:db8::1", created_at=at))
        db.session.commit()
    assert _ship(chdb_app) == "events=2 request_logs=1"
    with chdb_app.app_context():
        rows = store_rows(
            "SELECT user_id, anonymous_id, event_type, event_data, occurred_at, created_at,"
            " event_id, session_id, platform, os_version, locale FROM {db}.events FINAL ORDER BY id"
        )
        assert rows[0][:3] == (user, odd, "app_opened")
        assert json.loads(rows[0][3]) == data
        assert rows[0][4:] == (at, T0.replace(microsecond=5), uuid.UUID(int=7), "", "ios", odd,
                               None)
        assert rows[1][:3] == (None, "a", "screen_viewed") and json.loads(rows[1][3]) == {}
        assert rows[1][6:] == (None, None, None, None, None)
        logs = store_rows("SELECT endpoint, method, status, latency_ms, user_id, ip_address,"
                          " created_at FROM {db}.request_logs FINAL")
        assert logs == [("/api/v2/plans/<int:day>", "GET", 503, 0.1 + 0.2, user, "2001:db8::1",
                         at)]
