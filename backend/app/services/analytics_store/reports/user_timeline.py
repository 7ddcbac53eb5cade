"""One user's events and requests in ClickHouse, newest first, after a cursor position."""

from __future__ import annotations

from collections import namedtuple
from datetime import datetime
from typing import Any

import orjson

from app.services.analytics_store.reading import ReportClient

T = "DateTime64(6, 'UTC')"
EventRow = namedtuple("EventRow", "id occurred_at event_type event_data")
RequestRow = namedtuple("RequestRow", "id created_at endpoint method status latency_ms")
# Kind ranks as in the report: at one instant requests come before events.
RANK = {"request": 1, "event": 0}


def _after(kind: str, at: str, position: tuple[datetime, str, int] | None) -> str:
    """The report's _after, in SQL over {at:...} and {ident:UInt64}."""
    if position is None:
        return "1"
    cursor_kind = position[1]
    if RANK[kind] < RANK[cursor_kind]:
        return f"{at} <= {{at:{T}}}"
    if RANK[kind] > RANK[cursor_kind]:
        return f"{at} < {{at:{T}}}"
    return f"({at} < {{at:{T}}} OR ({at} = {{at:{T}}} AND id < {{ident:UInt64}}))"


def _params(user_id: int, limit: int, position: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"user": user_id, "limit": limit}
    if position is not None:
        params |= {"at": position[0], "ident": position[2]}
    return params


def events(
    client: ReportClient,
    user_id: int,
    linked: list[str],
    limit: int,
    position: tuple[datetime, str, int] | None,
) -> list[EventRow]:
    """The person's events: the user's, and the anonymous events of their linked ids."""
    sql = (
        f"SELECT id, occurred_at, event_type, event_data FROM {client.table('events')} FINAL"
        " WHERE (user_id = {user:Int64}"
        " OR (user_id IS NULL AND anonymous_id IN {linked:Array(String)}))"
        f" AND {_after('event', 'occurred_at', position)}"
        " ORDER BY occurred_at DESC, id DESC LIMIT {limit:UInt32}"
    )
    params = _params(user_id, limit, position) | {"linked": linked}
    return [EventRow(r[0], r[1], r[2], orjson.loads(r[3])) for r in client.query(sql, params)]


def requests(
    client: ReportClient, user_id: int, limit: int, position: tuple[datetime, str, int] | None
) -> list[RequestRow]:
    sql = (
        "SELECT id, created_at, endpoint, method, status, latency_ms"
        f" FROM {client.table('request_logs')} FINAL"
        f" WHERE user_id = {{user:Int64}} AND {_after('request', 'created_at', position)}"
        " ORDER BY created_at DESC, id DESC LIMIT {limit:UInt32}"
    )
    return [RequestRow(*r) for r in client.query(sql, _params(user_id, limit, position))]
