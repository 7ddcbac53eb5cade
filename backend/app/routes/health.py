"""Liveness, readiness, and the docs page's local assets (not part of the API)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import swagger_ui_bundle
from flask import Blueprint, current_app, send_from_directory
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.errors import problem
from app.extensions import db, limiter
from app.services.analytics_store import status as store_status

log = logging.getLogger(__name__)

health_bp = Blueprint("health", __name__)

_SWAGGER_DIR = Path(swagger_ui_bundle.swagger_ui_path)


@health_bp.get("/healthz")
def healthz() -> Any:
    return {"status": "ok"}


def _rate_limit_storage_state() -> str:
    """Whether the shared rate-limit storage answers now.

    A live check, not Flask-Limiter's private "storage dead" flag: that flag lags (it is
    re-checked with a back-off) and, the limiter being one object per process, it
    describes whichever storage was bound last.
    """
    try:
        healthy = bool(limiter.storage.check())
    except Exception:  # noqa: BLE001 - any storage failure means "down"
        healthy = False
    _log_storage_transition(healthy)
    return "ok" if healthy else "degraded (per-process memory fallback)"


_storage_was_healthy = True


def _log_storage_transition(healthy: bool) -> None:
    """Say once (per process) that limits went to memory, and once that they came back."""
    global _storage_was_healthy
    if healthy == _storage_was_healthy:
        return
    _storage_was_healthy = healthy
    if healthy:
        log.info("rate-limit storage answers again: limits are shared again")
    else:
        log.warning(
            "rate-limit storage unreachable: limits fall back to per-process memory "
            "(each worker counts on its own until it returns)"
        )


def _request_log_state() -> dict[str, int]:
    """The request-log writer of this process: backlog and what it could not keep."""
    writer = current_app.extensions.get("request_log_writer")
    if writer is None:
        return {}
    return {
        "queue_depth": writer.depth,
        "spool_bytes": writer.spool_bytes,
        "dropped_queue_full": writer.dropped,
        "dropped_spool_full": writer.dropped_spool,
    }


@health_bp.get("/readyz")
def readyz() -> Any:
    """Ready when the database answers; a dead rate-limit storage or analytics store
    (ClickHouse) only degrades."""
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except SQLAlchemyError:
        db.session.rollback()
        checks["database"] = "unavailable"
    checks["rate_limit_storage"] = _rate_limit_storage_state()
    request_log = _request_log_state()
    if checks["database"] != "ok":
        return problem(
            503,
            "The database is unavailable.",
            type_slug="service-unavailable",
            headers={"Retry-After": "5"},
            extra={"checks": checks, "request_log": request_log},
        )
    body = {"status": "ready", "checks": checks, "request_log": request_log}
    # ClickHouse down only degrades: events are still accepted and shipped later.
    store = store_status.describe()
    if store is not None:
        checks["analytics_store"] = store["state"]
        body["analytics_store"] = store
    return body


@health_bp.get("/api/docs/assets/<path:filename>")
def docs_asset(filename: str) -> Any:
    return send_from_directory(_SWAGGER_DIR, filename, max_age=86400)
