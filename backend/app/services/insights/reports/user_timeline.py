"""One user's events and requests interleaved, newest first, cursor-paginated. The events
are the person's (insights/persons.py): the user's own and those of every anonymous id
linked to them, from before the link too.

Order: time desc, then requests before events at the same instant, then id desc.
The cursor is that key of the last item returned, opaque to clients.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, or_, select

from app.errors import NotFound
from app.models import AnalyticsEvent, RequestLog, User
from app.services.analytics_store import reading as store_reading
from app.services.analytics_store.reports import user_timeline as store_timeline
from app.services.identity.links import anonymous_ids_of, events_of_person
from app.services.insights.params import invalid
from app.services.insights.reader import reader

E, R = AnalyticsEvent, RequestLog
RANK = {"request": 1, "event": 0}


@dataclass(frozen=True)
class TimelineItem:
    kind: str  # "event" or "request"
    id: int
    at: datetime
    event_type: str | None = None
    event_data: dict[str, Any] | None = None
    endpoint: str | None = None
    method: str | None = None
    status: int | None = None
    latency_ms: float | None = None


@dataclass(frozen=True)
class TimelineResult:
    user_id: int
    items: list[TimelineItem]
    next_cursor: str | None

    def csv_rows(self) -> list[list[Any]]:
        rows: list[list[Any]] = [
            [
                "at",
                "kind",
                "id",
                "event_type",
                "event_data",
                "endpoint",
                "method",
                "status",
                "latency_ms",
            ]
        ]
        for i in self.items:
            data = None if i.event_data is None else json.dumps(i.event_data, sort_keys=True)
            rows.append(
                [
                    i.at.isoformat(),
                    i.kind,
                    i.id,
                    i.event_type,
                    data,
                    i.endpoint,
                    i.method,
                    i.status,
                    i.latency_ms,
                ]
            )
        return rows


def encode_cursor(item: TimelineItem) -> str:
    raw = json.dumps([item.at.isoformat(), item.kind, item.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str, int]:
    try:
        at, kind, ident = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        moment = datetime.fromisoformat(at)
        if (
            kind not in RANK
            or type(ident) is not int  # a JSON true is an int to Python
            or not 0 <= ident < 2**63  # ids are BIGINT
            or moment.tzinfo is None
        ):
            raise ValueError(cursor)
        # In UTC, as compared with the stored times; year 1 or 9999 with an offset has no
        # UTC form (OverflowError), so no cursor we returned carries it.
        return moment.astimezone(UTC), kind, ident
    except (ValueError, TypeError, OverflowError):
        raise invalid("cursor", "Not a cursor this endpoint returned.") from None


def _after(kind: str, at_column: Any, id_column: Any, cursor: tuple[datetime, str, int]) -> Any:
    at, cursor_kind, ident = cursor
    if RANK[kind] < RANK[cursor_kind]:
        return at_column <= at
    if RANK[kind] > RANK[cursor_kind]:
        return at_column < at
    return or_(at_column < at, and_(at_column == at, id_column < ident))


def run(*, user_id: int, limit: int = 50, cursor: str | None = None) -> TimelineResult:
    if reader().get(User, user_id) is None:
        raise NotFound("No such user.")
    position = decode_cursor(cursor) if cursor else None
    store = store_reading.for_reports()
    if store is not None:
        return _page(_from_store(store, user_id, limit, position), user_id, limit)
    events = select(E).where(events_of_person(user_id))
    logs = select(R).where(R.user_id == user_id)
    if position:
        events = events.where(_after("event", E.occurred_at, E.id, position))
        logs = logs.where(_after("request", R.created_at, R.id, position))
    items = [
        TimelineItem("event", e.id, e.occurred_at, event_type=e.event_type, event_data=e.event_data)
        for e in reader().scalars(
            events.order_by(E.occurred_at.desc(), E.id.desc()).limit(limit + 1)
        )
    ] + [
        TimelineItem(
            "request",
            r.id,
            r.created_at,
            endpoint=r.endpoint,
            method=r.method,
            status=r.status,
            latency_ms=r.latency_ms,
        )
        for r in reader().scalars(
            logs.order_by(R.created_at.desc(), R.id.desc()).limit(limit + 1)
        )
    ]
    return _page(items, user_id, limit)


def _from_store(
    store: store_reading.ReportClient,
    user_id: int,
    limit: int,
    position: tuple[datetime, str, int] | None,
) -> list[TimelineItem]:
    linked = list(reader().scalars(anonymous_ids_of(user_id)))
    events = store_timeline.events(store, user_id, linked, limit + 1, position)
    logs = store_timeline.requests(store, user_id, limit + 1, position)
    return [
        TimelineItem("event", e.id, e.occurred_at, event_type=e.event_type, event_data=e.event_data)
        for e in events
    ] + [
        TimelineItem(
            "request",
            r.id,
            r.created_at,
            endpoint=r.endpoint,
            method=r.method,
            status=r.status,
            latency_ms=r.latency_ms,
        )
        for r in logs
    ]


def _page(items: list[TimelineItem], user_id: int, limit: int) -> TimelineResult:
    items.sort(key=lambda i: (i.at, RANK[i.kind], i.id), reverse=True)
    page = items[:limit]
    more = len(items) > limit
    return TimelineResult(user_id, page, encode_cursor(page[-1]) if more else None)
