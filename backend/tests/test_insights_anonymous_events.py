"""Anonymous visitors' events (user_id NULL, from /v1) until identity merges them into
persons: every report still answers, through the rollups and the raw path alike, and counts
them in no user's cells (they are no user's yet)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from app.extensions import db
from app.models import AnalyticsEvent
from tests.insights_data import BERLIN, URL, ts

RANGE = {"tz": BERLIN, "from": "2026-03-23", "to": "2026-04-01"}
FUNNEL = {"steps": [{"event_type": "app_opened"}, {"event_type": "plan_viewed"}]}


def _reports(client: Any, data: dict[str, Any]) -> dict[str, Any]:
    admin = data["admin"]
    answers: dict[str, Any] = {}
    for name, path, params in [
        ("trends", "trends", {"event_type": ["app_opened", "plan_viewed"], **RANGE}),
        ("trends-hourly", "trends", {"event_type": "app_opened", "interval": "hour",
                                     "tz": BERLIN, "from": "2026-03-29", "to": "2026-03-30"}),
        ("active", "active-users", RANGE),
        ("active-weekly", "active-users", {"interval": "week", **RANGE}),
        ("retention", "retention", {"start_event": "app_opened", "return_event": "app_opened",
                                    "period": "day", "periods": 3, **RANGE}),
        ("recurring", "retention", {"start_event": "app_opened", "return_event": "plan_viewed",
                                    "cohort_type": "recurring", **RANGE}),
        ("progress", "challenge-progress", {"challenge_id": data["challenge_id"], **RANGE}),
        ("realtime", "realtime", {}),
    ]:
        r = client.get(f"{URL}/{path}", query_string=params, headers=admin)
        assert r.status_code == 200, (name, r.get_data(as_text=True))
        answers[name] = r.get_json()
    for attempt in ("first", "best"):
        r = client.post(f"{URL}/funnels", query_string={**RANGE, "attempt": attempt},
                        json=FUNNEL, headers=admin)
        assert r.status_code == 200, (attempt, r.get_data(as_text=True))
        answers[f"funnel-{attempt}"] = r.get_json()
    return answers


def _add_anonymous_events(app: Any) -> None:
    with app.app_context():
        for n, (kind, at) in enumerate([
            ("app_opened", "2026-03-29T22:40:00Z"),
            ("app_opened", "2026-03-30T10:05:00Z"),
            ("plan_viewed", "2026-03-30T10:06:00Z"),
            ("app_opened", "2026-04-01T09:59:00Z"),  # in realtime's last minutes
        ]):
            db.session.add(AnalyticsEvent(
                user_id=None,
                anonymous_id=f"install-{n % 2}",
                event_id=uuid.uuid4(),
                event_type=kind,
                event_data={},
                created_at=ts(at),
                occurred_at=ts(at),
            ))
        db.session.commit()


@pytest.mark.parametrize("first_call", ["rollups folded before", "rollups built after"])
def test_anonymous_events_count_in_no_users_cells(app, client, data, first_call):
    if first_call == "rollups folded before":
        before = _reports(client, data)  # builds and folds every rollup first
        _add_anonymous_events(app)
        after = _reports(client, data)  # folds the anonymous events in
    else:
        _add_anonymous_events(app)
        after = _reports(client, data)
        with app.app_context():
            db.session.execute(db.delete(AnalyticsEvent).where(AnalyticsEvent.user_id.is_(None)))
            db.session.commit()
        before = _reports(client, data)
    for name in before:
        assert after[name] == before[name], name
