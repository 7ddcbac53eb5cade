"""Realtime in ClickHouse: distinct persons in the last 5 minutes, events per minute."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.services.analytics_store.reading import ReportClient, event_user_scope
from app.services.analytics_store.reports.persons import HAS_PERSON, person_key
from app.services.insights.params import Period

T = "DateTime64(6, 'UTC')"


@dataclass(frozen=True)
class Scope:
    """Events in [start, now] with a person, internal persons out unless asked; `person`
    is the SQL of an event's person key."""

    where: str
    params: dict[str, Any]
    person: str


def scope(client: ReportClient, period: Period, start: datetime, now: datetime) -> Scope:
    where = f"occurred_at >= {{start:{T}}} AND occurred_at <= {{now:{T}}} AND {HAS_PERSON}"
    params: dict[str, Any] = {"start": start, "now": now}
    person, person_params = person_key(client, where, params)
    users, user_params = event_user_scope(period, person)
    return Scope(f"{where} AND {users}", params | person_params | user_params, person)


def active_users(client: ReportClient, scope: Scope, since: datetime) -> int:
    sql = (
        f"SELECT uniqExact({scope.person}) FROM {client.table('events')} FINAL"
        f" WHERE {scope.where} AND occurred_at > {{since:{T}}}"
    )
    return int(client.query(sql, scope.params | {"since": since})[0][0])


def minute_counts(client: ReportClient, scope: Scope) -> dict[int, int]:
    """Events per whole minute since the scope's start (minute 0 holds it)."""
    sql = (
        "SELECT intDiv(toUnixTimestamp64Micro(occurred_at) - toUnixTimestamp64Micro("
        f"{{start:{T}}}), 60000000) AS minute, count() FROM {client.table('events')} FINAL"
        f" WHERE {scope.where} GROUP BY minute"
    )
    return dict(client.query(sql, scope.params))
