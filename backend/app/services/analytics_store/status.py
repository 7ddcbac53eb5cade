"""The store as operations see it: ship now, and how far behind the app database it is
(/readyz, /metrics, `flask analytics store-status`)."""

from __future__ import annotations

from typing import Any

from app import metrics
from app.services.analytics_store import schema, store
from app.services.analytics_store.client import StoreUnavailable
from app.services.analytics_store.erasure import pending_mutations
from app.services.analytics_store.shipper import CHUNK, lag, ship


def ship_all(*, chunk: int = CHUNK) -> dict[str, int]:
    """Ship every committed row not yet in ClickHouse (waits for another shipper); rows
    sent per store table. StoreUnavailable while ClickHouse is down."""
    return ship(store.client(), chunk=chunk, wait=True)


def describe(*, reach_store: bool = True) -> dict[str, Any] | None:
    """The store, its lag per source, and (when `reach_store`) whether ClickHouse answers,
    its applied migrations and unfinished mutations; None for the app database. Publishes
    the lag to /metrics."""
    spec = store.spec()
    if spec is None:
        return None
    sources = {s.source: s.as_dict() for s in lag()}
    for name, values in sources.items():
        metrics.set_ship_lag(name, values["lag_seconds"], values["pending_ids"])
    out: dict[str, Any] = {"store": spec.describe(), "lag": sources}
    if reach_store:
        try:
            client = store.client()
            out["state"] = "ok"
            out["migrations"] = schema.applied_versions(client)
            out["pending_mutations"] = pending_mutations()
        except StoreUnavailable as exc:
            out["state"] = "unavailable"
            out["error"] = str(exc)[:200]
    return out
