"""Counters and gauges for /metrics (Prometheus). A thin facade so callers stay simple.

The implementation (prometheus_client, multi-process mode under gunicorn) belongs to the
observability work; until then these calls are no-ops with the final signatures.
"""

from __future__ import annotations


def count_events(outcome: str, n: int = 1, *, reason: str | None = None) -> None:
    """Events by outcome: "accepted", "duplicate", "rejected" (with reason), "rate_limited"."""


def observe_request(route: str, method: str, status: int, latency_s: float) -> None:
    """One API request, from the same hook that records request logs."""
