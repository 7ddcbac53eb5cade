"""Counters and gauges for /metrics (Prometheus). A thin facade so callers stay simple.

prometheus_client keeps the values. Under gunicorn (PROMETHEUS_MULTIPROC_DIR set before
this module is imported: gunicorn.conf.py does it) every worker writes its values to
memory-mapped files in that directory and a scrape, answered by any one worker, sums
them all; without it the values are this process's.
"""

from __future__ import annotations

import os
from typing import Any, Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

__all__ = ["CONTENT_TYPE_LATEST", "count_events", "count_log_dropped", "observe_request"]

EVENT_OUTCOMES = ("accepted", "duplicate", "rejected", "rate_limited")

# Latency buckets (seconds) around what the API answers in: ms for reads, ~100 ms for logins.
_LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

EVENTS = Counter(
    "challenge_events",
    "Analytics events by outcome (rejected ones by reason code)",
    ["outcome", "reason"],
)
REQUEST_LATENCY = Histogram(
    "challenge_http_request_duration_seconds",
    "API request latency by route template, method and status class",
    ["route", "method", "status"],
    buckets=_LATENCY_BUCKETS,
)
LOGS_DROPPED = Counter(
    "challenge_request_logs_dropped",
    "Request log rows dropped: queue_full (memory bound) or spool_full (disk bound)",
    ["reason"],
)
LOGS_SPOOLED = Counter(
    "challenge_request_logs_spooled",
    "Request log rows kept in the on-disk spool while the database was unavailable",
)
WRITER_QUEUE_DEPTH = Gauge(
    "challenge_request_log_queue_depth",
    "Request log rows waiting in memory for the writer (summed over live workers)",
    multiprocess_mode="livesum",
)
SPOOL_BYTES = Gauge(
    "challenge_request_log_spool_bytes",
    "Bytes of request log rows in the on-disk spool, waiting for the database",
    multiprocess_mode="livesum",
)


class WriterState(Protocol):
    @property
    def depth(self) -> int: ...

    @property
    def spool_bytes(self) -> int: ...


def count_events(outcome: str, n: int = 1, *, reason: str | None = None) -> None:
    """Events by outcome: "accepted", "duplicate", "rejected" (with reason), "rate_limited"."""
    if n > 0:
        EVENTS.labels(outcome=outcome, reason=reason or "").inc(n)


# (route, method, status class) -> its histogram child: labels() validates and joins the
# label values on every call, a dict look-up does not. The keys are few: the request-log
# hook passes route templates (or "<unmatched>") and the routed methods (anything else is
# "OTHER", web/request_context.py), never a raw path or a client's text.
_request_children: dict[tuple[str, str, int], Any] = {}
_MAX_CHILDREN = 2048


def observe_request(route: str, method: str, status: int, latency_s: float) -> None:
    """One API request, from the same hook that records request logs."""
    key = (route, method, status // 100)
    child = _request_children.get(key)
    if child is None:
        child = REQUEST_LATENCY.labels(route=route, method=method, status=f"{status // 100}xx")
        if len(_request_children) < _MAX_CHILDREN:
            _request_children[key] = child
    child.observe(latency_s if latency_s > 0.0 else 0.0)


def count_log_dropped(reason: str, n: int = 1) -> None:
    """Request log rows lost: "queue_full" or "spool_full"."""
    if n > 0:
        LOGS_DROPPED.labels(reason=reason).inc(n)
ANALYTICS_SHIP_LAG = Gauge(
    "challenge_analytics_ship_lag_seconds",
    "Age of the oldest row not yet shipped to the analytics store (ClickHouse), per source",
    ["source"],
    multiprocess_mode="max",
)
ANALYTICS_SHIP_PENDING = Gauge(
    "challenge_analytics_ship_pending_ids",
    "Ids above the shipped watermark (rows not yet in ClickHouse, gaps included), per source",
    ["source"],
    multiprocess_mode="max",
)


def set_ship_lag(source: str, seconds: float, pending_ids: int) -> None:
    ANALYTICS_SHIP_LAG.labels(source=source).set(seconds)
    ANALYTICS_SHIP_PENDING.labels(source=source).set(pending_ids)


def count_log_spooled(n: int) -> None:
    if n > 0:
        LOGS_SPOOLED.inc(n)


def set_writer_state(writer: WriterState) -> None:
    """Publish a request-log writer's queue depth and spool size (this process's share)."""
    WRITER_QUEUE_DEPTH.set(writer.depth)
    set_spool_bytes(writer.spool_bytes)


def set_spool_bytes(n: int) -> None:
    SPOOL_BYTES.set(n)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def render(writer: WriterState | None = None) -> bytes:
    """The Prometheus text exposition of every metric (all workers' under gunicorn)."""
    if writer is not None:
        set_writer_state(writer)
    if multiprocess_dir():
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY)
