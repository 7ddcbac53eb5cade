"""API health from request_logs: per route and method, a series for one route, the slowest.

Two ways to answer, the same document either way (its `percentiles` field says which):
- exact: percentile_cont (linear interpolation) over the raw rows of the period;
- histogram: the latency rollup (rollups/latency.py), folded up to date first; requests
  and 4xx/5xx rates stay exact, p50/p95/p99 are within 1.99 % of the exact values.
The histogram answers when the period holds more than API_HEALTH_EXACT_MAX_REQUESTS
requests (config, 100,000 by default; counted from the rollup), the raw rows otherwise,
when asked (exact=True), or when a period edge is off the 15-minute UTC grid.
With ClickHouse as the analytics store (ANALYTICS_STORE), always exact, from there.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Float, case, cast, func, select
from sqlalchemy.exc import OperationalError

from app.extensions import db
from app.models import LatencyRollup, RequestLog
from app.services.analytics_store import reading as store_reading
from app.services.analytics_store.reports import api_health as store_api_health
from app.services.insights.params import Period, local_midnight
from app.services.insights.reader import reader
from app.services.insights.rollups import latency as latency_rollup
from app.services.insights.rollups.latency_bins import ERROR_BOUND
from app.services.insights.sql import bucket_key, percentile, user_filter

log = logging.getLogger(__name__)
R = RequestLog
L = LatencyRollup
QUARTER = 15 * 60
SLOWEST = 10
# The stated bound: sqrt(1.04) - 1 = 0.01980..., rounded up.
HISTOGRAM_ERROR = math.ceil(ERROR_BOUND * 10_000) / 10_000


@dataclass(frozen=True)
class HealthStats:
    requests: int
    rate_4xx: float
    rate_5xx: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


@dataclass(frozen=True)
class RouteHealth(HealthStats):
    endpoint: str
    method: str


@dataclass(frozen=True)
class HealthPoint(HealthStats):
    start: str
    partial: bool


@dataclass(frozen=True)
class ApiHealthResult:
    period: Period
    routes: list[RouteHealth]
    slowest: list[RouteHealth]
    endpoint: str | None
    method: str | None
    series: list[HealthPoint] | None
    percentiles: str = "exact"  # or "histogram"
    percentile_error: float = 0.0  # the largest relative error of p50/p95/p99

    def csv_rows(self) -> list[list[Any]]:
        rows: list[list[Any]] = [
            ["endpoint", "method", "requests", "rate_4xx", "rate_5xx", "p50_ms", "p95_ms", "p99_ms"]
        ]
        for r in self.routes:
            rows.append(
                [
                    r.endpoint,
                    r.method,
                    r.requests,
                    r.rate_4xx,
                    r.rate_5xx,
                    r.p50_ms,
                    r.p95_ms,
                    r.p99_ms,
                ]
            )
        return rows


def _stats(source: Any) -> list[Any]:
    status = source.c.status
    return [
        func.count().label("requests"),
        func.sum(case((status.between(400, 499), 1), else_=0)).label("n4xx"),
        func.sum(case((status >= 500, 1), else_=0)).label("n5xx"),
        percentile(0.5, source.c.latency_ms).label("p50"),
        percentile(0.95, source.c.latency_ms).label("p95"),
        percentile(0.99, source.c.latency_ms).label("p99"),
    ]


def _ms(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)


def _values(row: Any) -> dict[str, Any]:
    n = row.requests
    return {
        "requests": n,
        "rate_4xx": round(row.n4xx / n, 4) if n else 0.0,
        "rate_5xx": round(row.n5xx / n, 4) if n else 0.0,
        "p50_ms": _ms(row.p50),
        "p95_ms": _ms(row.p95),
        "p99_ms": _ms(row.p99),
    }


def _logs(period: Period, *extra: Any) -> Any:
    return (
        select(
            R.endpoint, R.method, R.status, cast(R.latency_ms, Float).label("latency_ms"), *extra
        )
        .where(
            R.created_at >= period.utc_start,
            R.created_at < period.utc_end,
            user_filter(period, R.user_id),
        )
        .subquery("logs")
    )


def run(
    *,
    period: Period,
    endpoint: str | None = None,
    method: str | None = None,
    exact: bool = False,
) -> ApiHealthResult:
    """The report; from the histogram rollup when the period holds many requests."""
    store = store_reading.for_reports()
    if store is not None:
        return _from_store(store, period, endpoint, method)
    if not exact:
        result = _from_histogram(period, endpoint, method)
        if result is not None:
            return result
    return _exact(period, endpoint, method)


def _exact(period: Period, endpoint: str | None, method: str | None) -> ApiHealthResult:
    logs = _logs(period)
    stmt = (
        select(logs.c.endpoint, logs.c.method, *_stats(logs))
        .group_by(logs.c.endpoint, logs.c.method)
        .order_by(logs.c.endpoint, logs.c.method)
    )
    routes = [
        RouteHealth(endpoint=r.endpoint, method=r.method, **_values(r))
        for r in reader().execute(stmt)
    ]
    series = None
    if endpoint is not None:
        logs = _logs(period, bucket_key(R.created_at, period).label("bucket"))
        stmt = select(logs.c.bucket, *_stats(logs)).where(logs.c.endpoint == endpoint)
        if method is not None:
            stmt = stmt.where(logs.c.method == method)
        found = {r.bucket: _values(r) for r in reader().execute(stmt.group_by(logs.c.bucket))}
        series = _points(period, found)
    return ApiHealthResult(period, routes, _slowest(routes), endpoint, method, series)


def _from_store(
    store: store_reading.ReportClient, period: Period, endpoint: str | None, method: str | None
) -> ApiHealthResult:
    routes = [
        RouteHealth(endpoint=r.endpoint, method=r.method, **_values(r))
        for r in store_api_health.route_rows(store, period)
    ]
    series = None
    if endpoint is not None:
        rows = store_api_health.bucket_rows(store, period, endpoint, method)
        series = _points(period, {r.bucket: _values(r) for r in rows})
    return ApiHealthResult(period, routes, _slowest(routes), endpoint, method, series)


EMPTY = {
    "requests": 0,
    "rate_4xx": 0.0,
    "rate_5xx": 0.0,
    "p50_ms": None,
    "p95_ms": None,
    "p99_ms": None,
}


def _points(period: Period, found: dict[int, dict[str, Any]]) -> list[HealthPoint]:
    return [
        HealthPoint(start=b.start, partial=b.partial, **found.get(b.key, EMPTY))
        for b in period.buckets()
    ]


def _slowest(routes: list[RouteHealth]) -> list[RouteHealth]:
    return sorted(routes, key=lambda r: (-(r.p95_ms or 0), r.endpoint, r.method))[:SLOWEST]


def _histogram_values(stats: latency_rollup.HistogramStats) -> dict[str, Any]:
    n = stats.requests
    p50, p95, p99 = (_ms(v) for v in stats.percentiles)
    return {
        "requests": n,
        "rate_4xx": round(stats.n4xx / n, 4),
        "rate_5xx": round(stats.n5xx / n, 4),
        "p50_ms": p50,
        "p95_ms": p95,
        "p99_ms": p99,
    }


def _from_histogram(
    period: Period, endpoint: str | None, method: str | None
) -> ApiHealthResult | None:
    """The report from the rollup, or None when the raw rows should answer: few
    requests in the period, or a period edge off the 15-minute UTC grid (a zone's
    offset before standard time)."""
    whole = cover([period.utc_start, period.utc_end])
    by_bucket = cover(_bucket_edges(period)) if endpoint is not None else None
    if whole is None or (endpoint is not None and by_bucket is None):
        return None
    _fold()
    internal = period.include_internal
    stats = latency_rollup.read(
        pieces=whole, keys=[L.endpoint, L.method], include_internal=internal
    )
    if sum(s.requests for s in stats) <= current_app.config["API_HEALTH_EXACT_MAX_REQUESTS"]:
        return None
    routes = [
        RouteHealth(endpoint=s.key[0], method=s.key[1], **_histogram_values(s)) for s in stats
    ]
    series = None
    if by_bucket is not None:
        where = [L.endpoint == endpoint] + ([L.method == method] if method is not None else [])
        points = latency_rollup.read(
            pieces=by_bucket,
            keys=[bucket_key(L.bucket_start, period)],
            where=where,
            include_internal=internal,
        )
        series = _points(period, {p.key[0]: _histogram_values(p) for p in points})
    return ApiHealthResult(
        period,
        routes,
        _slowest(routes),
        endpoint,
        method,
        series,
        percentiles="histogram",
        percentile_error=HISTOGRAM_ERROR,
    )


def _fold() -> None:
    """Fold new request logs in before reading. A busy database (a lock or statement
    timeout) leaves the rollup as it was: the report reads it as of its last fold."""
    try:
        latency_rollup.fold_latency_rollup()
    except OperationalError:
        db.session.rollback()
        log.warning("latency rollup not folded (database busy): reading it as it was")


def _bucket_edges(period: Period) -> list[datetime]:
    """UTC instants that include every start of a local bucket of the period (more are
    harmless: a rollup row must only never straddle a bucket's start)."""
    start, end = period.utc_start, period.utc_end
    if period.interval != "hour":
        zone, first = period.zone, period.start_date
        days = [local_midnight(first + timedelta(days=d), zone) for d in range(1, period.days)]
        return [start, *days, end]
    return [*(moment for _, moment in period.hour_starts()), end]


def cover(edges: list[datetime]) -> list[latency_rollup.Piece] | None:
    """Rollup pieces covering [edges[0], edges[-1]) whose rows never straddle an edge;
    None if an edge is not on a 15-minute UTC boundary (then only raw rows can answer)."""
    seconds = [int(e.timestamp()) for e in edges]
    if any(s % QUARTER or e.timestamp() != s for s, e in zip(seconds, edges, strict=True)):
        return None
    pieces: list[tuple[int, int, int]] = []
    for low, high in zip(seconds, seconds[1:], strict=False):
        for piece in _cover(low, high, latency_rollup.GRAINS):
            last = pieces[-1] if pieces else None
            if last and last[0] == piece[0] and last[2] == piece[1]:
                pieces[-1] = (last[0], last[1], piece[2])
            else:
                pieces.append(piece)
    return [latency_rollup.Piece(g, _utc(a), _utc(b)) for g, a, b in pieces]


def _cover(low: int, high: int, grains: tuple[int, ...]) -> list[tuple[int, int, int]]:
    if low >= high:
        return []
    width = grains[0] * 60
    first, last = -(-low // width) * width, high // width * width
    if first >= last:
        return _cover(low, high, grains[1:])
    finer = grains[1:]
    return [*_cover(low, first, finer), (grains[0], first, last), *_cover(last, high, finer)]


def _utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
