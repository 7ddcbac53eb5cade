"""`flask analytics prune`: retention settings over data spanning several months."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from app import clock
from app.extensions import db
from app.models import AnalyticsEvent, IpHashKey, RejectedEvent, RequestLog
from app.services.auth import service as auth_service
from app.services.privacy import pruning

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def _fill(app) -> int:
    """Request logs and events every 5 days from January to mid-June; returns a user id."""
    with app.app_context():
        user = auth_service.create(
            email="ret@example.com", password="long enough pw", display_name="R"
        )
        stamps = [NOW - timedelta(days=d, hours=1) for d in range(0, 165, 5)]
        db.session.add_all(
            RequestLog(endpoint="/api/v2/challenges", method="GET", status=200,
                       latency_ms=1.0, created_at=t)
            for t in stamps
        )
        db.session.add_all(
            AnalyticsEvent(user_id=user.id, event_type="app_opened", event_data={},
                           created_at=t, occurred_at=t)
            for t in stamps
        )
        db.session.add_all(
            RejectedEvent(user_id=user.id, reason="unknown_event_type", source="track",
                          payload="{}", received_at=t)
            for t in stamps[:6]  # 0..25 days old
        )
        db.session.add_all(
            IpHashKey(day=(NOW - timedelta(days=d)).date(), key=secrets.token_bytes(32),
                      created_at=NOW - timedelta(days=d, hours=1))
            for d in range(4)
        )
        db.session.commit()
        return user.id


def _oldest(query, table: str, column: str = "created_at") -> datetime:
    value = query(f"SELECT min({column}) FROM {table}")[0][0]
    value = datetime.fromisoformat(value) if isinstance(value, str) else value
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _count(query, table: str) -> int:
    return query(f"SELECT count(*) FROM {table}")[0][0]


def test_prune_deletes_past_each_setting_in_batches(app_factory, query):
    app = app_factory(REQUEST_LOG_RETENTION_DAYS=90, EVENT_RETENTION_DAYS=30)
    _fill(app)
    clock.set_clock(lambda: NOW)
    result = app.test_cli_runner().invoke(args=["analytics", "prune", "--batch-size", "4"])
    assert result.exit_code == 0, result.output

    # Rows every 5 days, each 1 hour older than the day mark: 0..85 days kept for 90.
    assert _count(query, "request_logs") == 18
    assert _oldest(query, "request_logs") >= NOW - timedelta(days=90)
    assert _count(query, "analytics_events") == 6
    assert _oldest(query, "analytics_events") >= NOW - timedelta(days=30)
    # Rejected events live 14 days, IP hash keys 48 hours.
    assert _count(query, "rejected_events") == 3
    assert _count(query, "ip_hash_keys") == 2
    assert "request_logs: 15 rows" in result.output
    assert "analytics_events: 27 rows" in result.output


def test_events_are_kept_by_default(app_factory, query):
    app = app_factory()
    assert app.config["EVENT_RETENTION_DAYS"] is None
    assert app.config["REQUEST_LOG_RETENTION_DAYS"] == 90
    _fill(app)
    clock.set_clock(lambda: NOW)
    result = app.test_cli_runner().invoke(args=["analytics", "prune"])
    assert result.exit_code == 0, result.output
    assert _count(query, "analytics_events") == 33
    assert _count(query, "request_logs") == 18


def test_prune_is_idempotent_and_reports_progress(app_factory, query):
    app = app_factory(EVENT_RETENTION_DAYS=60)
    _fill(app)
    with app.app_context():
        targets = pruning.prune_targets(
            now=NOW, request_log_days=90, event_days=60, rejected_days=14
        )
        expected = pruning.count_prunable(db.engine, targets)
        steps: list[int] = []
        result = pruning.prune(db.engine, targets, batch_size=5, progress=steps.append)
        assert sum(steps) == expected == sum(result.deleted.values())
        assert max(steps) <= 5
        again = pruning.prune(db.engine, targets, batch_size=5)
    assert sum(again.deleted.values()) == 0
