"""Helpers for the ingestion tests (test_ingest_*.py): building batches, reading rows."""

from __future__ import annotations

import json
import uuid
from typing import Any

BATCH = "/api/v2/analytics/batch"
TRACK = "/api/v2/analytics/track"
NOW = "2026-03-01T09:00:00Z"


def new_id() -> str:
    return str(uuid.uuid4())


def event(event_type: str = "app_opened", data: Any = None, *, event_id: str | None = None,
          occurred_at: str = NOW, **extra: Any) -> dict[str, Any]:
    body = {
        "event_id": event_id or new_id(),
        "event_type": event_type,
        "event_data": {} if data is None else data,
        "occurred_at": occurred_at,
    }
    return body | extra


def post_batch(client, headers, events: list[Any], *, sent_at: str = NOW, **extra: Any):
    return client.post(BATCH, json={"sent_at": sent_at, "events": events} | extra,
                       headers=headers)


def statuses(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [r["status"] for r in response.get_json()["results"]]


def event_count(query, user_id: int | None = None) -> int:
    if user_id is None:
        return query("SELECT count(*) FROM analytics_events")[0][0]
    return query("SELECT count(*) FROM analytics_events WHERE user_id = :u", {"u": user_id})[0][0]


def rejected(query) -> list[tuple[str, str, int | None, str]]:
    """(reason, source, user_id, payload) of every rejected_events row, oldest first."""
    rows = query("SELECT reason, source, user_id, payload FROM rejected_events ORDER BY id")
    return [tuple(r) for r in rows]


def stored_ids(query, user_id: int) -> list[str]:
    rows = query("SELECT event_id FROM analytics_events WHERE user_id = :u", {"u": user_id})
    return sorted(str(uuid.UUID(str(r[0]))) for r in rows)


def as_json(value: Any) -> Any:
    return value if isinstance(value, (dict, list)) else json.loads(value)
