"""What a report asks before it reads: the ClickHouse client to read from (after shipping
what is new, within ANALYTICS_SHIP_ON_READ_SECONDS), or None for the app database.

While ClickHouse is down, a report that ClickHouse serves answers 503 with Retry-After
(ingestion does not depend on it: events wait in the app database and are shipped later).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app
from sqlalchemy import select

from app.models import User
from app.services.analytics_store import store
from app.services.analytics_store.client import Client, StoreUnavailable, table
from app.services.analytics_store.settings import StoreSpec
from app.services.analytics_store.shipper import ship
from app.services.insights.params import Period
from app.services.insights.reader import reader

log = logging.getLogger(__name__)


class ReportClient:
    """The store's client for one report: a failure to reach ClickHouse is a 503."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self.spec: StoreSpec = client.spec

    def table(self, name: str) -> str:
        return table(self.spec, name)

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        try:
            return self._client.query(sql, params)
        except StoreUnavailable as exc:
            raise store.unavailable(exc) from exc


def for_reports() -> ReportClient | None:
    """None when reports read the app database; else the store, fresh as of now."""
    if not store.active():
        return None
    try:
        client = store.client()
        budget = current_app.config["ANALYTICS_SHIP_ON_READ_SECONDS"]
        if budget > 0:
            # Another process shipping holds the watermark: read what is there, don't wait.
            ship(client, max_seconds=budget, wait=False)
    except StoreUnavailable as exc:
        raise store.unavailable(exc) from exc
    return ReportClient(client)


def user_scope(period: Period, column: str = "user_id") -> tuple[str, dict[str, Any]]:
    """SQL and parameters leaving internal users out unless the report asks for them (rows
    without a user stay): sql.user_filter's rule, the ids read from the app database."""
    if period.include_internal:
        return "1", {}
    ids = list(reader().scalars(select(User.id).where(User.is_internal)))
    return f"({column} IS NULL OR {column} NOT IN {{internal:Array(Int64)}})", {"internal": ids}


def event_user_scope(period: Period, column: str = "user_id") -> tuple[str, dict[str, Any]]:
    """sql.event_user_filter: a known user's events, internal users out unless asked."""
    where, params = user_scope(period, column)
    return f"({column} IS NOT NULL AND {where})", params
