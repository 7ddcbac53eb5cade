"""INSIGHTS_DATABASE_URL: report queries read the replica; writes never go there."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from app.extensions import db
from app.models import AnalyticsEvent, User
from app.services.insights.reader import reader
from tests import services as svc
from tests.conftest import PG_URL

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
TRENDS = "/api/v2/insights/trends"


@pytest.fixture
def replica_url(db_url: str, tmp_path) -> str:
    """A second, migrated database standing in for the read replica."""
    if db_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'replica.db'}"
    else:
        url = make_url(PG_URL).set(database=f"{make_url(PG_URL).database}_replica")
        url = url.render_as_string(hide_password=False)
        assert svc.ensure_pg_database(url) is None
        svc.reset_pg_schema(url)
    svc.upgrade_to_head(url)
    return url


def _seed_replica(url: str, events: int) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            insert(User.__table__).values(
                id=500, email="replica@example.com", password_hash="x", display_name="R",
                timezone="UTC", is_admin=False, is_internal=False, analytics_opt_out=False,
                token_version=0, created_at=NOW,
            )
        )
        conn.execute(
            insert(AnalyticsEvent.__table__),
            [
                {
                    "user_id": 500, "event_type": "app_opened", "event_data": {},
                    "created_at": NOW, "occurred_at": NOW, "event_id": uuid.uuid4(),
                }
                for _ in range(events)
            ],
        )
    engine.dispose()


def _count_events(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM analytics_events")).scalar_one()
    engine.dispose()
    return count


def test_reports_read_the_replica_and_writes_stay_on_the_primary(
    app_factory, auth, at, replica_url
):
    at(NOW.isoformat())
    app = app_factory(INSIGHTS_DATABASE_URL=replica_url)
    client = app.test_client()
    admin = auth()
    with app.app_context():
        db.session.get(User, admin.user["id"]).is_admin = True
        db.session.commit()
    _seed_replica(replica_url, events=3)

    r = client.post(
        "/api/v2/analytics/track", json={"event_type": "app_opened"}, headers=admin.headers
    )
    assert r.status_code == 201
    r = client.get(
        TRENDS,
        query_string={"event_type": "app_opened", "from": "2026-03-10", "to": "2026-03-10"},
        headers=admin.headers,
    )
    assert r.status_code == 200, r.get_json()
    [point] = r.get_json()["series"][0]["points"]
    # The replica's three events, not the primary's one.
    assert (point["events"], point["users"]) == (3, 1)
    assert _count_events(replica_url) == 3
    with app.app_context():
        primary = db.session.scalars(select(AnalyticsEvent.event_type)).all()
    assert primary == ["app_opened"]


def test_the_replica_session_cannot_write(app_factory, replica_url):
    app = app_factory(INSIGHTS_DATABASE_URL=replica_url)
    with app.test_request_context():
        session = reader()
        assert session is not db.session
        with pytest.raises(DBAPIError):
            session.execute(text("DELETE FROM analytics_events"))
            session.commit()


def test_without_a_replica_reports_use_the_primary_session(app):
    with app.test_request_context():
        assert reader() is db.session
