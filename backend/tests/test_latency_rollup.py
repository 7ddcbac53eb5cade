"""The latency histogram rollup: exact counts, percentiles within the stated bound of the
exact percentile_cont, kept fresh by id (late rows included), on both databases."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import case, false, func, insert, or_, select

from app.extensions import db
from app.models import LatencyRollup, LatencyRollupUser, RequestLog, User
from app.services.insights.params import build_period
from app.services.insights.reports import api_health
from app.services.insights.reports.api_health import cover
from app.services.insights.rollups import latency as latency_rollup
from app.services.insights.rollups import watermark as rollup_watermark
from app.services.insights.rollups.latency_bins import (
    PERCENTILES,
)
from app.services.insights.sql import percentile
from app.services.request_logs import partitions
from tests import services as svc
from tests.insights_data import BERLIN, add_user, get
from tests.test_latency_bins import LATENCY, within_bound

L = LatencyRollup
R = RequestLog
LOGS = RequestLog.__table__
T0 = datetime(2026, 3, 28, tzinfo=UTC)
DAY = "/api/v2/plans/<int:day>"
COMPLETE = "/api/v2/plans/<int:day>/complete"
ROUTES = [("/api/v2/videos", "GET"), (DAY, "GET"), (COMPLETE, "POST")]
STATUSES = [200, 201, 304, 400, 404, 429, 500, 503]


@pytest.fixture
def app(app_factory) -> Flask:
    """Every report in this module reads the histogram as soon as it holds one request."""
    return app_factory(API_HEALTH_EXACT_MAX_REQUESTS=0)


# -- Against the exact percentile_cont, on both databases ----------------------------------


def _empty_rollup() -> None:
    db.session.execute(LOGS.delete())
    db.session.execute(LatencyRollup.__table__.delete())
    rollup_watermark.reset(db.session, latency_rollup.NAME)
    db.session.commit()


def _insert_logs(rows: list[dict[str, Any]]) -> None:
    if rows:
        db.session.execute(insert(LOGS), rows)
    db.session.commit()


def _exact_by_route(start: datetime, end: datetime, include_internal: bool) -> dict:
    stmt = select(
        R.endpoint,
        R.method,
        func.count(),
        func.sum(case((R.status.between(400, 499), 1), else_=0)),
        func.sum(case((R.status >= 500, 1), else_=0)),
        *(percentile(f, R.latency_ms) for f in PERCENTILES),
    ).where(R.created_at >= start, R.created_at < end)
    if not include_internal:
        internal = select(User.id).where(User.is_internal.is_not(false())).scalar_subquery()
        stmt = stmt.where(or_(R.user_id.is_(None), R.user_id.not_in(internal)))
    rows = db.session.execute(stmt.group_by(R.endpoint, R.method))
    return {(r[0], r[1]): (r[2], r[3], r[4], tuple(r[5:])) for r in rows}


def _histogram_by_route(start: datetime, end: datetime, include_internal: bool) -> dict:
    latency_rollup.fold_latency_rollup()
    stats = latency_rollup.read(
        pieces=cover([start, end]), keys=[L.endpoint, L.method], include_internal=include_internal
    )
    return {s.key: (s.requests, s.n4xx, s.n5xx, s.percentiles) for s in stats}


def _assert_matches(histogram: dict, exact: dict) -> None:
    assert histogram.keys() == exact.keys()
    for key, (n, n4xx, n5xx, values) in exact.items():
        got = histogram[key]
        assert got[:3] == (n, n4xx, n5xx)  # counts: exact
        for estimate, value in zip(got[3], values, strict=True):
            assert within_bound(estimate, value), (key, estimate, value)


@st.composite
def distributions(draw: st.DrawFn) -> list[float]:
    """Latencies as they come: log-normal bodies with tails, ties, zeros and outliers."""
    rng = random.Random(draw(st.integers(0, 2**32)))
    n = draw(st.integers(1, 400))
    mu, sigma = draw(st.floats(-4, 9)), draw(st.floats(0, 3))
    zeros, outliers = draw(st.floats(0, 0.3)), draw(st.floats(0, 0.05))
    ties = draw(st.booleans())
    values = []
    for _ in range(n):
        roll = rng.random()
        if roll < zeros:
            values.append(0.0)
        elif roll < zeros + outliers:
            values.append(rng.choice([1e6, 3.6e6, 1e12, 1e-6]))
        else:
            value = rng.lognormvariate(mu, sigma)
            values.append(float(round(value)) if ties else value)
    return values


def _rows(latencies: list[float], seed: int, users: list[int | None]) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for value in latencies:
        endpoint, method = rng.choice(ROUTES)
        rows.append(
            {
                "endpoint": endpoint,
                "method": method,
                "status": rng.choice(STATUSES),
                "latency_ms": value,
                "user_id": rng.choice(users),
                "created_at": T0 + timedelta(seconds=rng.uniform(0, 3 * 86400)),
            }
        )
    return rows


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    latencies=st.one_of(distributions(), st.lists(LATENCY, min_size=1, max_size=40)),
    seed=st.integers(0, 2**32),
    edges=st.tuples(st.integers(0, 3 * 96), st.integers(0, 3 * 96)),
    include_internal=st.booleans(),
    flip=st.sampled_from([None, "staff", "member"]),
)
def test_histogram_percentiles_stay_within_the_bound_of_percentile_cont(
    app: Flask, latencies, seed, edges, include_internal, flip
) -> None:
    with app.app_context():
        _empty_rollup()
        if db.session.scalar(select(func.count()).select_from(User)) == 0:
            add_user("staff", internal=True)
            add_user("member")
        for user in db.session.scalars(select(User)):
            user.is_internal = user.display_name == "staff"
        db.session.commit()
        users = [None, *db.session.scalars(select(User.id))]
        rows = _rows(latencies, seed, users)
        # Folded in two goes, the second one late rows of old times: the same sums.
        _insert_logs(rows[: len(rows) // 2])
        latency_rollup.fold_latency_rollup()
        if flip:  # staff no longer internal, or member now internal: rows move
            user = db.session.scalars(select(User).where(User.display_name == flip)).one()
            user.is_internal = not user.is_internal
            db.session.commit()
        _insert_logs(rows[len(rows) // 2 :])
        low, high = sorted(edges)
        start = T0 + timedelta(minutes=15 * low)
        end = T0 + timedelta(minutes=15 * high + 15)
        _assert_matches(
            _histogram_by_route(start, end, include_internal),
            _exact_by_route(start, end, include_internal),
        )


# -- Freshness, internal users, pruning ----------------------------------------------------


def test_late_rows_and_newly_internal_users_count_at_once(app: Flask) -> None:
    start, end = T0, T0 + timedelta(days=1)
    with app.app_context():
        _empty_rollup()
        staff = add_user("staff2")
        db.session.commit()
        rows = _rows([10.0, 20.0, 30.0], 1, [None])
        _insert_logs([{**r, "created_at": T0 + timedelta(hours=2 + i)} for i, r in enumerate(rows)])
        _assert_matches(_histogram_by_route(start, end, False), _exact_by_route(start, end, False))
        # A spooled row written hours later, with its original created_at.
        _insert_logs([{**_rows([500.0], 2, [staff.id])[0], "created_at": T0 + timedelta(hours=1)}])
        _assert_matches(_histogram_by_route(start, end, False), _exact_by_route(start, end, False))
        # Marked internal after its rows were folded: left out from now on, no refold.
        db.session.get(User, staff.id).is_internal = True
        db.session.commit()
        histogram = _histogram_by_route(start, end, False)
        assert sum(v[0] for v in histogram.values()) == 3
        _assert_matches(histogram, _exact_by_route(start, end, False))


def test_an_erased_internal_users_requests_count_again(app: Flask) -> None:
    from app.services.privacy.erasure import erase_user

    start, end = T0, T0 + timedelta(days=3)
    with app.app_context():
        _empty_rollup()
        staff = add_user("staff3", internal=True)
        db.session.commit()
        _insert_logs(_rows([1.0, 2.0, 4.0, 8.0], 7, [None, staff.id]))
        before = _histogram_by_route(start, end, False)
        erase_user(user_id=staff.id, requested_by="admin")  # its logs are kept, anonymous
        after = _histogram_by_route(start, end, False)
        assert sum(v[0] for v in after.values()) == 4 > sum(v[0] for v in before.values())
        _assert_matches(after, _exact_by_route(start, end, False))
        assert db.session.scalar(select(func.count()).select_from(LatencyRollupUser)) == 0


def test_users_leaving_internal_merge_back_into_the_shared_rows(app: Flask) -> None:
    start, end = T0, T0 + timedelta(days=1)
    with app.app_context():
        _empty_rollup()
        a, b = add_user("staff4", internal=True), add_user("staff5", internal=True)
        db.session.commit()
        same = {"endpoint": DAY, "method": "GET", "status": 500, "latency_ms": 12.0}
        later = T0 + timedelta(minutes=5)
        rows = [{**same, "user_id": u, "created_at": later} for u in (a.id, b.id)]
        _insert_logs([*rows, {**same, "user_id": None, "created_at": T0}])
        assert _histogram_by_route(start, end, False)[(DAY, "GET")][:3] == (1, 0, 1)
        a.is_internal = b.is_internal = False
        db.session.commit()
        assert _histogram_by_route(start, end, False)[(DAY, "GET")][:3] == (3, 0, 3)
        assert db.session.scalar(select(func.count()).select_from(L)) == 3  # one per grain


def test_prune_drops_buckets_ending_by_the_cutoff(app: Flask) -> None:
    with app.app_context():
        _empty_rollup()
        row = _rows([5.0], 0, [None])[0]
        times = (timedelta(minutes=20), timedelta(hours=30, minutes=35))
        _insert_logs([{**row, "created_at": T0 + t} for t in times])
        latency_rollup.fold_latency_rollup()
        cutoff = T0 + timedelta(days=1, hours=6, minutes=30)
        deleted = latency_rollup.prune_latency_rollup(cutoff)
        kept = db.session.execute(
            select(L.grain, L.bucket_start).order_by(L.grain, L.bucket_start)
        ).all()
    assert deleted == 3  # the first request's quarter, hour and day
    assert [(g, b.isoformat()) for g, b in kept] == [
        (15, "2026-03-29T06:30:00+00:00"),
        (60, "2026-03-29T06:00:00+00:00"),
        (1440, "2026-03-29T00:00:00+00:00"),  # straddles the cutoff: kept whole
    ]


def test_reset_refolds_everything(app: Flask) -> None:
    with app.app_context():
        _empty_rollup()
        _insert_logs(_rows([1.0, 2.0, 3.0], 3, [None]))
        first = _histogram_by_route(T0, T0 + timedelta(days=3), True)
        latency_rollup.reset_latency_rollup()
        assert db.session.scalar(select(func.count()).select_from(L)) == 0
        assert _histogram_by_route(T0, T0 + timedelta(days=3), True) == first


def test_huge_latencies_fold_and_read(app: Flask) -> None:
    with app.app_context():
        _empty_rollup()
        _insert_logs(_rows([0.0, 1e300, 1e12, 0.5], 4, [None]))
        histogram = _histogram_by_route(T0, T0 + timedelta(days=3), True)
        _assert_matches(histogram, _exact_by_route(T0, T0 + timedelta(days=3), True))


# -- Through the API -------------------------------------------------------------------


def test_api_health_reads_the_histogram_with_exact_counts(client, data) -> None:
    body = get(client, data, "api-health", tz=BERLIN, **{"from": "2026-03-30", "to": "2026-03-31"})
    assert body["percentiles"] == "histogram" and body["percentile_error"] == 0.0199
    # The exact answers (test_insights_health.py): counts equal, percentiles within 2 %.
    expected = [
        (DAY, "GET", 4, 0.25, 0.25, 25.0, 38.5, 39.7),
        (COMPLETE, "POST", 1, 0.0, 0.0, 100.0, 100.0, 100.0),
        ("/api/v2/videos", "GET", 1, 1.0, 0.0, 5.0, 5.0, 5.0),
    ]
    assert [(r["endpoint"], r["method"]) for r in body["routes"]] == [e[:2] for e in expected]
    for route, want in zip(body["routes"], expected, strict=True):
        assert (route["requests"], route["rate_4xx"], route["rate_5xx"]) == want[2:5]
        for key, value in zip(("p50_ms", "p95_ms", "p99_ms"), want[5:], strict=True):
            assert abs(route[key] - value) <= 0.0199 * value + 0.0005
    assert [r["endpoint"] for r in body["slowest"]] == [COMPLETE, DAY, "/api/v2/videos"]


def test_api_health_series_from_the_histogram(client, data) -> None:
    body = get(
        client,
        data,
        "api-health",
        tz=BERLIN,
        endpoint=DAY,
        method="GET",
        include_internal="true",
        **{"from": "2026-03-30", "to": "2026-04-01"},
    )
    assert body["percentiles"] == "histogram"
    points = [(p["start"], p["partial"], p["requests"], p["rate_5xx"]) for p in body["series"]]
    assert points == [
        ("2026-03-30", False, 2, 0.0),
        ("2026-03-31", False, 2, 0.5),
        ("2026-04-01", True, 0, 0.0),
    ]
    for point, (p50, p99) in zip(body["series"], [(15.0, 19.9), (35.0, 39.9)], strict=False):
        assert abs(point["p50_ms"] - p50) <= 0.0199 * p50 + 0.0005
        assert abs(point["p99_ms"] - p99) <= 0.0199 * p99 + 0.0005
    assert body["series"][2]["p50_ms"] is None


def test_exact_answers_below_the_threshold_and_when_asked(app_factory, auth, at) -> None:
    from tests.insights_data import prepare

    app = app_factory()  # the default threshold: 100,000 requests
    data = prepare(app, auth, at)
    dates = {"from": "2026-03-30", "to": "2026-03-31"}
    body = get(app.test_client(), data, "api-health", tz=BERLIN, **dates)
    assert body["percentiles"] == "exact" and body["percentile_error"] == 0.0
    with app.app_context():
        period = build_period(tz=BERLIN, start=T0.date(), end=T0.date() + timedelta(days=3))
        app.config["API_HEALTH_EXACT_MAX_REQUESTS"] = 0
        assert api_health.run(period=period).percentiles == "histogram"
        result = api_health.run(period=period, exact=True)
    assert result.percentiles == "exact"
    assert [(r.endpoint, r.p95_ms) for r in result.routes][:1] == [(DAY, 38.5)]
    # Through the API: above the threshold the histogram answers unless exact=true.
    body = get(app.test_client(), data, "api-health", tz=BERLIN, **dates)
    assert body["percentiles"] == "histogram"
    body = get(app.test_client(), data, "api-health", tz=BERLIN, exact="true", **dates)
    assert body["percentiles"] == "exact" and body["percentile_error"] == 0.0
    assert [(r["endpoint"], r["p95_ms"]) for r in body["routes"]][:1] == [(DAY, 38.5)]


# -- The watermark on the partitioned table ------------------------------------------------


def test_high_id_waits_for_an_open_insert_into_partitioned_request_logs(app: Flask) -> None:
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("request_logs is partitioned on PostgreSQL only")
        assert partitions.is_partitioned(db.engine)
        _empty_rollup()
        _insert_logs(_rows([1.0], 5, [None]))
        inserted, fold = svc.call_during_open_insert(
            app,
            db.engine,
            insert(LOGS).values(**_rows([2.0], 6, [None])[0]).returning(LOGS.c.id),
            latency_rollup.fold_latency_rollup,
        )
        assert fold.folded_to == inserted
        total = db.session.scalar(select(func.sum(L.requests)).where(L.grain == 1440))
        assert total == 2
