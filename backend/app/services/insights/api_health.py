"""API health from request_logs: per route and method, a series for one route, the slowest.

Latency percentiles are exact percentile_cont values (linear interpolation) over
the raw rows of the period.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, case, cast, func, select

from app.models import RequestLog
from app.services.insights.params import Period
from app.services.insights.reader import reader
from app.services.insights.sql import bucket_key, percentile, user_filter

R = RequestLog
SLOWEST = 10


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
    *, period: Period, endpoint: str | None = None, method: str | None = None
) -> ApiHealthResult:
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
    slowest = sorted(routes, key=lambda r: (-(r.p95_ms or 0), r.endpoint, r.method))[:SLOWEST]
    series = None
    if endpoint is not None:
        logs = _logs(period, bucket_key(R.created_at, period).label("bucket"))
        stmt = select(logs.c.bucket, *_stats(logs)).where(logs.c.endpoint == endpoint)
        if method is not None:
            stmt = stmt.where(logs.c.method == method)
        found = {r.bucket: _values(r) for r in reader().execute(stmt.group_by(logs.c.bucket))}
        empty = {
            "requests": 0,
            "rate_4xx": 0.0,
            "rate_5xx": 0.0,
            "p50_ms": None,
            "p95_ms": None,
            "p99_ms": None,
        }
        series = [
            HealthPoint(start=b.start, partial=b.partial, **found.get(b.key, empty))
            for b in period.buckets()
        ]
    return ApiHealthResult(period, routes, slowest, endpoint, method, series)
