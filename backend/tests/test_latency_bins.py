"""The latency histogram's bins, without a database: every value reads within the stated
bound, interpolated percentiles too, and api_health.cover tiles local ranges exactly."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.services.insights.params import build_period
from app.services.insights.reports import api_health
from app.services.insights.reports.api_health import cover
from app.services.insights.rollups.latency_bins import (
    ERROR_BOUND,
    ZERO_BIN,
    bin_of,
    interpolate,
    representative,
)
from tests.insights_data import BERLIN

T0 = datetime(2026, 3, 28, tzinfo=UTC)
# The bound, plus what floating point adds at a bin's edge (ulps, not percents).
TOLERANCE = ERROR_BOUND * (1 + 1e-9)


def exact_cont(values: list[float], fraction: float) -> float:
    """PostgreSQL's percentile_cont, in Python."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


def within_bound(estimate: float, exact: float) -> bool:
    return abs(estimate - exact) <= TOLERANCE * abs(exact)


# -- The bound, without a database -------------------------------------------------------

LATENCY = st.one_of(
    st.just(0.0),
    st.floats(min_value=1e-300, max_value=1e300),
    st.floats(min_value=0.01, max_value=60_000),
)


@settings(max_examples=2000)
@given(LATENCY)
def test_a_bin_reads_within_the_bound_of_its_values(value: float) -> None:
    assert within_bound(representative(bin_of(value)), value)


@settings(max_examples=500)
@given(st.lists(LATENCY, min_size=1, max_size=60), st.floats(min_value=0, max_value=1))
def test_interpolated_percentiles_stay_within_the_bound(values, fraction) -> None:
    bins = sorted(bin_of(v) for v in values)
    position = fraction * (len(values) - 1)
    low, high = bins[math.floor(position)], bins[math.ceil(position)]
    estimate = interpolate(len(values), fraction, low, high)
    assert within_bound(estimate, exact_cont(values, fraction))


def test_the_stated_bound_is_at_most_two_percent() -> None:
    assert ERROR_BOUND == pytest.approx(0.019804, abs=1e-6)
    assert ERROR_BOUND <= api_health.HISTOGRAM_ERROR <= 0.02
    # The bin bounds grow by 4 %: a value on an edge reads sqrt(1.04) away, no more.
    assert representative(bin_of(1.04**10)) == pytest.approx(1.04**10.5)
    assert representative(bin_of(0.0)) == 0.0


def test_tiny_huge_and_infinite_latencies_have_bins() -> None:
    assert bin_of(-1.0) == bin_of(0.0) == ZERO_BIN
    assert bin_of(5e-324) == bin_of(1e-300) > ZERO_BIN
    assert bin_of(math.inf) == bin_of(1e308) == bin_of(1e300)
    assert math.isfinite(representative(bin_of(math.inf)))


# -- Covering a local range with rollup rows -----------------------------------------------


@settings(max_examples=300)
@given(
    st.integers(min_value=0, max_value=4 * 24 * 60),
    st.integers(min_value=0, max_value=4 * 24 * 60),
)
def test_cover_tiles_a_range_with_aligned_rows(a: int, b: int) -> None:
    start, end = T0 + timedelta(minutes=15 * min(a, b)), T0 + timedelta(minutes=15 * max(a, b))
    pieces = cover([start, end])
    assert pieces is not None
    moment = start
    for piece in pieces:
        assert piece.start == moment < piece.end
        assert piece.start.timestamp() % (piece.grain * 60) == 0
        assert piece.end.timestamp() % (piece.grain * 60) == 0
        moment = piece.end
    assert moment == end
    assert len(pieces) <= 5  # quarters, hours, days, hours, quarters


def test_cover_keeps_rows_inside_local_days_and_refuses_off_grid_edges() -> None:
    # Berlin's days across the DST change: every piece is hours (22:00/23:00 UTC starts).
    period = build_period(tz=BERLIN, start=T0.date(), end=T0.date() + timedelta(days=2))
    edges = api_health._bucket_edges(period)
    assert [e.isoformat() for e in edges] == [
        "2026-03-27T23:00:00+00:00",
        "2026-03-28T23:00:00+00:00",
        "2026-03-29T22:00:00+00:00",
        "2026-03-30T22:00:00+00:00",
    ]
    assert {p.grain for p in cover(edges)} == {60}
    # Kathmandu is 5:45 ahead: its hours start at :15 UTC, so quarters there.
    period = build_period(tz="Asia/Kathmandu", start=T0.date(), end=T0.date(), interval="hour")
    pieces = cover(api_health._bucket_edges(period))
    assert [p.grain for p in pieces] == [15]
    # Amsterdam in 1900 was 0:19:32 ahead of UTC: only the raw rows can answer.
    old = datetime(1900, 1, 1, tzinfo=UTC) - timedelta(minutes=19, seconds=32)
    assert cover([old, old + timedelta(days=1)]) is None
