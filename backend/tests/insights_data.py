"""Hand-computed insights fixtures (Europe/Berlin switches to summer time 2026-03-29).

Shared by the test_insights_*.py modules. Rows are inserted directly, out of order.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from app.extensions import db
from app.models import (
    AnalyticsEvent,
    Challenge,
    Completion,
    Enrollment,
    Plan,
    RequestLog,
    User,
)

BERLIN = "Europe/Berlin"
NOW = "2026-04-01T10:00:00Z"  # Wednesday, 12:00 in Berlin


def ts(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC)


def add_user(name: str, *, admin: bool = False, internal: bool = False) -> User:
    user = User(
        email=f"{name}@example.com",
        password_hash="x",
        display_name=name,
        is_admin=admin,
        is_internal=internal,
    )
    db.session.add(user)
    db.session.flush()
    return user


def event(user: User, kind: str, at: str, data: dict[str, Any] | None = None) -> None:
    db.session.add(
        AnalyticsEvent(
            user_id=user.id,
            event_type=kind,
            event_data=data or {},
            created_at=ts(at),
            occurred_at=ts(at),
        )
    )


def log(user: User | None, endpoint: str, method: str, status: int, ms: float, at: str) -> None:
    db.session.add(
        RequestLog(
            endpoint=endpoint,
            method=method,
            status=status,
            latency_ms=ms,
            user_id=user.id if user else None,
            created_at=ts(at),
        )
    )


def build() -> dict[str, Any]:
    """Users u1..u3, internal u4, and their events, enrollments, completions, logs."""
    u1, u2, u3 = add_user("u1"), add_user("u2"), add_user("u3")
    u4 = add_user("u4", internal=True)
    # Out of order on purpose.
    event(u3, "app_opened", "2026-03-30T10:00:00Z")
    event(u1, "app_opened", "2026-03-29T22:30:00Z")  # Berlin Mon 03-30 00:30 (CEST)
    event(u2, "app_opened", "2026-03-29T21:30:00Z")  # Berlin 03-29 23:30 (CEST)
    event(u1, "app_opened", "2026-03-27T23:30:00Z")  # Berlin 03-28 00:30 (CET)
    event(u2, "app_opened", "2026-03-28T23:30:00Z")  # Berlin 03-29 00:30 (CET)
    event(u1, "app_opened", "2026-03-28T22:30:00Z")  # Berlin 03-28 23:30 (CET)
    event(u4, "app_opened", "2026-03-30T10:00:00Z")
    event(u3, "app_opened", "2026-03-05T12:00:00Z")  # u3's first ever
    event(u1, "plan_viewed", "2026-03-30T09:00:00Z", {"day_of_challenge": 2})
    event(u1, "plan_viewed", "2026-03-30T08:00:00Z", {"day_of_challenge": 1})
    event(u3, "plan_viewed", "2026-03-30T11:00:00Z", {"day_of_challenge": 1})
    event(u2, "plan_viewed", "2026-03-30T12:00:00Z", {})
    challenge = Challenge(slug="five", title="Five days", duration_days=5)
    db.session.add(challenge)
    db.session.flush()
    plans = [Plan(challenge_id=challenge.id, day=d, title=f"Day {d}") for d in range(1, 6)]
    db.session.add_all(plans)
    db.session.flush()
    for user, start, days in (
        (u1, date(2026, 3, 28), [1, 2, 4]),
        (u2, date(2026, 3, 29), [1]),
        (u3, date(2026, 3, 30), [1, 2]),
        (u4, date(2026, 3, 30), [1, 2, 3]),
    ):
        enrollment = Enrollment(user_id=user.id, challenge_id=challenge.id, start_date=start)
        db.session.add(enrollment)
        db.session.flush()
        for d in days:
            db.session.add(
                Completion(
                    enrollment_id=enrollment.id, user_id=user.id, plan_id=plans[d - 1].id, day=d
                )
            )
    day_route, complete = "/api/v2/plans/<int:day>", "/api/v2/plans/<int:day>/complete"
    log(u3, day_route, "GET", 404, 30.0, "2026-03-31T08:00:00Z")
    log(u1, day_route, "GET", 200, 20.0, "2026-03-30T09:00:00Z")
    log(u1, day_route, "GET", 200, 10.0, "2026-03-30T08:00:00Z")
    log(u3, day_route, "GET", 500, 40.0, "2026-03-31T09:00:00Z")
    log(u2, complete, "POST", 200, 100.0, "2026-03-30T12:00:00Z")
    log(u4, complete, "POST", 500, 1000.0, "2026-03-30T12:00:00Z")
    log(None, "/api/v2/videos", "GET", 401, 5.0, "2026-03-30T12:00:00Z")
    db.session.commit()
    return {"u1": u1.id, "u2": u2.id, "u3": u3.id, "u4": u4.id, "challenge_id": challenge.id}


def prepare(app: Any, auth: Any, at: Any) -> dict[str, Any]:
    """Freeze now, insert the data, and return ids plus admin and non-admin headers."""
    at(NOW)
    admin, plain = auth(), auth()
    with app.app_context():
        ids = build()
        db.session.get(User, admin.user["id"]).is_admin = True
        db.session.commit()
    return ids | {"admin": admin.headers, "plain": plain.headers}


URL = "/api/v2/insights"


@pytest.fixture
def data(app: Any, auth: Any, at: Any) -> dict[str, Any]:
    """The hand-computed data set, with admin and non-admin headers."""
    return prepare(app, auth, at)


def get(client: Any, data: dict[str, Any], path: str, **params: Any) -> Any:
    """GET a report as the admin; asserts 200 and returns the JSON body."""
    r = client.get(f"{URL}/{path}", query_string=params, headers=data["admin"])
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()
