"""The app's analytics store: which one ANALYTICS_STORE names, and its client, connected
and migrated on first use (so the app starts while ClickHouse is down)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from flask import Flask, current_app

from app.errors import ServiceUnavailable
from app.services.analytics_store import schema
from app.services.analytics_store.client import Client, StoreUnavailable, connect
from app.services.analytics_store.settings import StoreSpec, parse_store

log = logging.getLogger(__name__)
EXTENSION = "analytics_store"
RETRY_AFTER_SECONDS = 5


@dataclass
class _State:
    spec: StoreSpec | None
    client: Client | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def init_app(app: Flask) -> None:
    """Read ANALYTICS_STORE (a bad value stops the app from starting)."""
    app.extensions[EXTENSION] = _State(parse_store(app.config.get("ANALYTICS_STORE")))


def _state() -> _State:
    return current_app.extensions[EXTENSION]


def spec() -> StoreSpec | None:
    """The ClickHouse store reports read, or None for the app database."""
    return _state().spec


def active() -> bool:
    return _state().spec is not None


def client() -> Client:
    """The store's client (connected and migrated once per process); StoreUnavailable when
    ClickHouse cannot be reached."""
    state = _state()
    if state.spec is None:
        raise RuntimeError("ANALYTICS_STORE is the app database: no ClickHouse client")
    if state.client is not None:
        return state.client
    with state.lock:
        if state.client is None:
            new = connect(state.spec)
            applied = schema.migrate(
                new, request_log_days=current_app.config.get("REQUEST_LOG_RETENTION_DAYS")
            )
            if applied:
                log.info("analytics store %s: migrations %s", state.spec.describe(), applied)
            state.client = new
    return state.client


def unavailable(exc: Exception) -> ServiceUnavailable:
    """What a report answers while ClickHouse is down: 503 with Retry-After."""
    log.warning("analytics store unavailable: %s", exc)
    return ServiceUnavailable(
        "The analytics store is unavailable; events are still recorded. Try again shortly.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


__all__ = ["StoreUnavailable", "active", "client", "init_app", "spec", "unavailable"]
