"""API health in ClickHouse: per route and method, and one route's series; always exact
(quantileExactInclusive is percentile_cont: linear between the closest ranks)."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

from app.services.analytics_store.reading import ReportClient, user_scope
from app.services.analytics_store.reports.buckets import bucket_key
from app.services.insights.params import Period

STATS = """count() AS requests,
    countIf(status BETWEEN 400 AND 499) AS n4xx,
    countIf(status >= 500) AS n5xx,
    quantileExactInclusive(0.5)(latency_ms) AS p50,
    quantileExactInclusive(0.95)(latency_ms) AS p95,
    quantileExactInclusive(0.99)(latency_ms) AS p99"""
RouteRow = namedtuple("RouteRow", "endpoint method requests n4xx n5xx p50 p95 p99")
BucketRow = namedtuple("BucketRow", "bucket requests n4xx n5xx p50 p95 p99")


def _where(period: Period) -> tuple[str, dict[str, Any]]:
    users, params = user_scope(period)
    where = (
        "created_at >= {start:DateTime64(6, 'UTC')} AND created_at < {end:DateTime64(6, 'UTC')}"
        f" AND {users}"
    )
    return where, {"start": period.utc_start, "end": period.utc_end, **params}


def route_rows(client: ReportClient, period: Period) -> list[RouteRow]:
    where, params = _where(period)
    sql = (
        f"SELECT endpoint, method, {STATS} FROM {client.table('request_logs')} FINAL"
        f" WHERE {where} GROUP BY endpoint, method ORDER BY endpoint, method"
    )
    return [RouteRow(*row) for row in client.query(sql, params)]


def bucket_rows(
    client: ReportClient, period: Period, endpoint: str, method: str | None
) -> list[BucketRow]:
    where, params = _where(period)
    where += " AND endpoint = {endpoint:String}"
    params |= {"endpoint": endpoint, "tz": period.tz}
    if method is not None:
        where += " AND method = {method:String}"
        params["method"] = method
    sql = (
        f"SELECT {bucket_key('created_at', period)} AS bucket, {STATS}"
        f" FROM {client.table('request_logs')} FINAL WHERE {where} GROUP BY bucket"
    )
    return [BucketRow(*row) for row in client.query(sql, params)]
