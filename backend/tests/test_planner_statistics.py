"""The paths that write in bulk leave PostgreSQL's planner statistics fresh (autovacuum is
off on this machine, as it was when funnels took 10-20 s on a table that looked empty):
the activity generator, the demo seed, rollup folds and batch ingestion at volume."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from app import clock
from app.extensions import db
from app.models import AnalyticsEvent, User
from app.services.database import statistics
from app.services.demo import seed as seed_service
from app.services.demo.generator import TABLES as GENERATED_TABLES
from app.services.insights.params import build_period
from app.services.insights.reports import active_users
from app.services.insights.rollups import activity as activity_rollup
from tests.ingest_support import event, post_batch

ROLLUP_TABLES = ("activity_user_days", "activity_day_counts", "activity_type_counts")


@pytest.fixture
def pg(app: Any) -> Any:
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("planner statistics are PostgreSQL's")
    return app


def _baseline(app: Any, tables: tuple[str, ...]) -> dict[str, datetime | None]:
    """ANALYZE the (empty) tables, so that autovacuum's rule counts from zero rows; then
    when they were analyzed."""
    with app.app_context(), db.engine.begin() as conn:
        statistics.analyze(conn, tables)
    return _analyzed(app, tables)


def _analyzed(app: Any, tables: tuple[str, ...]) -> dict[str, datetime | None]:
    """When each table was last analyzed (by anyone), read afresh."""
    with app.app_context(), db.engine.connect() as conn:
        conn.execute(text("SELECT pg_stat_clear_snapshot()"))
        rows = conn.execute(
            text("SELECT relname, greatest(last_analyze, last_autoanalyze)"
                 " FROM pg_stat_user_tables WHERE relname = ANY(:names)"),
            {"names": list(tables)},
        ).all()
    return {table: dict(rows).get(table) for table in tables}


def _newer(before: dict[str, datetime | None], after: dict[str, datetime | None]) -> list[str]:
    """The tables analyzed since `before`."""
    return [t for t, at in after.items()
            if at is not None and (before[t] is None or at > before[t])]


def _events(app: Any, count: int) -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    with app.app_context():
        user = User(email="bulk@example.com", password_hash="x", display_name="bulk")
        db.session.add(user)
        db.session.flush()
        db.session.add_all(
            AnalyticsEvent(user_id=user.id, event_type="app_opened", event_data={},
                           occurred_at=start + timedelta(hours=i), created_at=start)
            for i in range(count)
        )
        db.session.commit()


def _report(app: Any) -> None:
    clock.set_clock(lambda: datetime(2026, 3, 20, tzinfo=UTC))
    with app.app_context():
        period = build_period(tz="Asia/Kathmandu", start=datetime(2026, 3, 1).date(),
                              end=datetime(2026, 3, 10).date())
        active_users.run(period=period)


def test_the_generator_leaves_the_tables_it_filled_analyzed(pg):
    before = _analyzed(pg, GENERATED_TABLES)
    result = pg.test_cli_runner().invoke(args=[
        "analytics", "generate", "--users", "30", "--events", "2000", "--days", "14",
        "--request-logs", "300", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert sorted(_newer(before, _analyzed(pg, tuple(before)))) == sorted(before)


def test_the_demo_seed_leaves_its_tables_analyzed(pg):
    before = _analyzed(pg, seed_service.SEEDED_TABLES)
    with pg.app_context():
        challenge = seed_service.seed_demo().challenge
        assert seed_service.seed_activity(challenge=challenge, users=5, weeks=1).created
    assert sorted(_newer(before, _analyzed(pg, tuple(before)))) == sorted(before)


def test_a_big_fold_analyzes_the_rollup_tables_it_wrote(pg, monkeypatch):
    monkeypatch.setattr(activity_rollup, "ANALYZE_AFTER", 40)
    _events(pg, 60)
    before = _analyzed(pg, ROLLUP_TABLES)
    _report(pg)
    assert sorted(_newer(before, _analyzed(pg, ROLLUP_TABLES))) == sorted(ROLLUP_TABLES)


def test_small_folds_are_analyzed_in_the_background_once_they_add_up(pg, monkeypatch):
    monkeypatch.setattr(activity_rollup, "FOLD_CHUNK", 30)  # four small folds of 30 ids
    monkeypatch.setattr(statistics, "CHECK_ROWS", 100)
    before = _baseline(pg, ROLLUP_TABLES)
    _events(pg, 120)
    _report(pg)
    assert statistics.wait_idle()
    assert "activity_user_days" in _newer(before, _analyzed(pg, ROLLUP_TABLES))


def test_batch_ingestion_at_volume_analyzes_events_off_the_request(pg, client, auth, at,
                                                                   monkeypatch):
    monkeypatch.setattr(statistics, "CHECK_ROWS", 150)
    at("2026-03-01T09:00:00Z")
    user = auth()
    before = _baseline(pg, ("analytics_events",))
    r = post_batch(client, user.headers, [event() for _ in range(100)])
    assert r.status_code == 200
    assert statistics.wait_idle()
    # One batch is not volume: nothing analyzed yet.
    assert _newer(before, _analyzed(pg, ("analytics_events",))) == []
    r = post_batch(client, user.headers, [event() for _ in range(100)])
    assert r.status_code == 200
    assert statistics.wait_idle()
    assert _newer(before, _analyzed(pg, ("analytics_events",))) == ["analytics_events"]
