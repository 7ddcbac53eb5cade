"""API health against a plain-Python reference: request logs around DST changes in zones
with odd offsets, late rows (written after a report ran, with an older created_at) and
erasure; exact percentiles equal percentile_cont, the histogram's are within its stated
bound and its counts exact; per route and as one route's hourly or daily series."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app import clock
from app.extensions import db
from app.models import RequestLog
from app.services.insights.params import build_period
from app.services.insights.reports import api_health
from app.services.privacy import erasure as erasure_service
from tests.oracle_support import (
    ZONES,
    add_users,
    bucket_labels,
    changes_of,
    empty_tables,
    labeller,
    local_date,
    moments,
    percentile_cont,
    settings_kwargs,
)
from tests.store_support import store_config

# About 85 s on one worker, under load: started first (conftest.py, `heavy`).
pytestmark = pytest.mark.heavy(85)

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
ROUTES = [("/api/v2/plans/<int:day>", "GET"), ("/api/v2/plans/<int:day>/complete", "POST")]
BOUND = 0.0199  # the stated relative error of the histogram's percentiles
Log = tuple[int, int, float, int | None, datetime]  # route, status, ms, user index, created_at


def _stats(rows: list[Log]) -> dict[str, Any]:
    n = len(rows)
    values = [ms for _, _, ms, _, _ in rows]
    p = [percentile_cont(values, f) for f in (0.5, 0.95, 0.99)]
    return {
        "requests": n,
        "rate_4xx": round(sum(1 for r in rows if 400 <= r[1] <= 499) / n, 4) if n else 0.0,
        "rate_5xx": round(sum(1 for r in rows if r[1] >= 500) / n, 4) if n else 0.0,
        "p50_ms": None if p[0] is None else round(p[0], 3),
        "p95_ms": None if p[1] is None else round(p[1], 3),
        "p99_ms": None if p[2] is None else round(p[2], 3),
    }


def expected(
    logs: list[Log],
    internal: list[bool],
    *,
    tz: str,
    first: date,
    last: date,
    interval: str,
    include_internal: bool,
) -> tuple[dict[tuple[str, str], dict[str, Any]], list[tuple[str, bool, dict[str, Any]]]]:
    """Per route, and the series of ROUTES[0] per bucket: the logs whose local date in tz is
    first..last; an anonymous (or erased) user's logs always count."""
    kept = [
        r
        for r in logs
        if first <= local_date(r[4], tz) <= last
        and (include_internal or r[3] is None or not internal[r[3]])
    ]
    per_route: dict[tuple[str, str], list[Log]] = defaultdict(list)
    for row in kept:
        per_route[ROUTES[row[0]]].append(row)
    label_of = labeller(tz, first, last, interval, "monday")
    per_bucket: dict[str, list[Log]] = defaultdict(list)
    for row in kept:
        if row[0] == 0:
            per_bucket[label_of(row[4])].append(row)
    series = [
        (label, partial, _stats(per_bucket.get(label, [])))
        for label, partial in bucket_labels(tz, first, last, interval, "monday", NOW)
    ]
    return {route: _stats(rows) for route, rows in per_route.items()}, series


def _fields(stats: Any) -> dict[str, Any]:
    names = ("requests", "rate_4xx", "rate_5xx", "p50_ms", "p95_ms", "p99_ms")
    return {name: getattr(stats, name) for name in names}


def _assert_close(got: dict[str, Any], want: dict[str, Any], histogram: bool, where: Any) -> None:
    if not histogram:
        assert got == want, where
        return
    for name in ("requests", "rate_4xx", "rate_5xx"):
        assert got[name] == want[name], (where, name)
    for name in ("p50_ms", "p95_ms", "p99_ms"):
        exact, read = want[name], got[name]
        if exact is None:
            assert read is None, (where, name)
            continue
        # Both rounded to 0.001 ms after the bound applies.
        assert abs(read - exact) <= BOUND * exact + 0.001, (where, name, read, exact)


def _logs(anchor: datetime, users: int) -> st.SearchStrategy[list[Log]]:
    latency = st.one_of(
        st.just(0.0),
        st.integers(1, 4000).map(lambda n: n / 2),
        st.floats(0.01, 1e5, allow_nan=False, allow_infinity=False),
    )
    row = st.tuples(
        st.integers(0, 1),
        st.sampled_from((200, 201, 404, 422, 500, 503)),
        latency,
        st.none() | st.integers(0, users - 1),
        moments(anchor),
    )
    return st.lists(row, max_size=40)


@st.composite
def _scenario(draw: Any) -> dict[str, Any]:
    tz = draw(st.sampled_from(ZONES))
    anchor = draw(st.sampled_from(changes_of(tz)))
    internal = draw(st.lists(st.booleans(), min_size=2, max_size=4))
    interval = draw(st.sampled_from(("hour", "day")))
    days = draw(st.integers(1, 3))
    first = local_date(anchor, tz) - timedelta(days=draw(st.integers(0, days)))
    return {
        "internal": internal,
        "logs": draw(_logs(anchor, len(internal))),
        "late": draw(_logs(anchor, len(internal))),
        "erase": draw(st.none() | st.integers(0, len(internal) - 1)),
        "tz": tz,
        "interval": interval,
        "include_internal": draw(st.booleans()),
        "first": first,
        "last": first + timedelta(days=days - 1),
    }


def _insert(logs: list[Log], user_ids: list[int]) -> None:
    db.session.add_all(
        RequestLog(
            endpoint=ROUTES[route][0],
            method=ROUTES[route][1],
            status=status,
            latency_ms=ms,
            user_id=None if user is None else user_ids[user],
            created_at=moment,
        )
        for route, status, ms, user, moment in logs
    )
    db.session.commit()


def test_api_health_equals_the_reference(app_factory, store_url):
    # Threshold 0: the histogram answers whenever the period has a request; exact=True the
    # raw rows. ClickHouse is always exact.
    app = app_factory(API_HEALTH_EXACT_MAX_REQUESTS=0, **store_config(store_url))
    rollup = store_url == "app"

    @settings(**settings_kwargs(20))
    @given(scenario=_scenario())
    def check(scenario: dict[str, Any]) -> None:
        s = scenario
        with app.app_context():
            empty_tables()
            clock.set_clock(lambda: NOW)
            user_ids = add_users(s["internal"], "h")
            logs = list(s["logs"])
            _insert(logs, user_ids)
            period = build_period(
                tz=s["tz"],
                start=s["first"],
                end=s["last"],
                interval=s["interval"],
                include_internal=s["include_internal"],
            )

            def compare(when: str) -> None:
                routes, series = expected(
                    logs,
                    s["internal"],
                    tz=period.tz,
                    first=period.start_date,
                    last=period.end_date,
                    interval=period.interval,
                    include_internal=period.include_internal,
                )
                endpoint, method = ROUTES[0]
                for exact in (True, False):
                    result = api_health.run(
                        period=period, endpoint=endpoint, method=method, exact=exact
                    )
                    histogram = result.percentiles == "histogram"
                    assert histogram == (rollup and not exact and bool(routes)), when
                    got = {(r.endpoint, r.method): _fields(r) for r in result.routes}
                    assert got.keys() == routes.keys(), (when, exact)
                    for route, want in routes.items():
                        _assert_close(got[route], want, histogram, (when, route))
                    assert result.series is not None
                    points = [(p.start, p.partial) for p in result.series]
                    assert points == [(label, partial) for label, partial, _ in series], when
                    for point, (label, _, want) in zip(result.series, series, strict=True):
                        _assert_close(_fields(point), want, histogram, (when, label))

            compare("first")
            # Late rows: written now (higher ids), created hours or days ago.
            _insert(s["late"], user_ids)
            logs += s["late"]
            compare("late")
            if s["erase"] is not None:
                # Erasure keeps the user's request logs, without their user id.
                erasure_service.erase_user(user_id=user_ids[s["erase"]], requested_by="admin")
                logs = [
                    (r, st_, ms, None if u == s["erase"] else u, t) for r, st_, ms, u, t in logs
                ]
                compare("erased")
            clock.set_clock(None)

    check()
