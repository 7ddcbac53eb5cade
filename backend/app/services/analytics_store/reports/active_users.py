"""Active users in ClickHouse: persons active per local day, and from them DAU, rolling WAU
(7 days) and MAU (30 days) per day; distinct persons per week or month; the first event."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from app.services.analytics_store.reading import ReportClient, event_user_scope
from app.services.analytics_store.reports.buckets import bucket_key
from app.services.analytics_store.reports.persons import HAS_PERSON, person_key
from app.services.insights.params import Period

T = "DateTime64(6, 'UTC')"
WAU_DAYS, MAU_DAYS = 7, 30


@dataclass(frozen=True)
class Scope:
    """The events of the period and the MAU_DAYS - 1 days before it, with a person."""

    where: str
    params: dict[str, Any]
    person: str


def scope(client: ReportClient, period: Period) -> Scope:
    window = replace(period, start_date=period.start_date - timedelta(days=MAU_DAYS - 1))
    where = f"occurred_at >= {{start:{T}}} AND occurred_at < {{end:{T}}} AND {HAS_PERSON}"
    params: dict[str, Any] = {
        "start": window.utc_start, "end": window.utc_end, "tz": period.tz,
    }
    person, person_params = person_key(client, where, params)
    users, user_params = event_user_scope(period, person)
    return Scope(f"{where} AND {users}", params | person_params | user_params, person)


def window_counts(
    client: ReportClient, events: Scope, first: int, last: int
) -> dict[int, tuple[int, int, int]]:
    """DAU, WAU, MAU per day number first..last (days with no one active are absent): each
    person's active day counts on the MAU_DAYS days it starts."""
    sql = f"""
        SELECT d,
            uniqExactIf(person, day = d) AS dau,
            uniqExactIf(person, day > d - {WAU_DAYS}) AS wau,
            uniqExact(person) AS mau
        FROM (
            SELECT DISTINCT {events.person} AS person,
                toInt64(toDate32(occurred_at, {{tz:String}})) AS day
            FROM {client.table('events')} FINAL WHERE {events.where}
        )
        ARRAY JOIN arrayFilter(x -> x BETWEEN {{first:Int64}} AND {{last:Int64}},
                               range(day, day + {MAU_DAYS})) AS d
        GROUP BY d"""
    rows = client.query(sql, events.params | {"first": first, "last": last})
    return {int(d): (int(dau), int(wau), int(mau)) for d, dau, wau, mau in rows}


def bucket_users(client: ReportClient, events: Scope, period: Period) -> dict[int, int]:
    """Distinct persons per week or month bucket, over the period's own events."""
    sql = (
        f"SELECT {bucket_key('occurred_at', period)} AS bucket, uniqExact({events.person})"
        f" FROM {client.table('events')} FINAL WHERE {events.where}"
        f" AND occurred_at >= {{period_start:{T}}} GROUP BY bucket"
    )
    rows = client.query(sql, events.params | {"period_start": period.utc_start})
    return {int(key): int(users) for key, users in rows}


def first_event_at(client: ReportClient) -> datetime | None:
    """The earliest occurred_at of any stored event (a repeat on disk changes no minimum)."""
    rows = client.query(
        f"SELECT min(occurred_at), count() > 0 FROM {client.table('events')}"
    )
    return rows[0][0] if rows and rows[0][1] else None
