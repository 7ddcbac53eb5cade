"""Liveness, readiness, and the docs page's local assets (not part of the API)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import swagger_ui_bundle
from flask import Blueprint, send_from_directory
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.errors import problem
from app.extensions import db, limiter

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
    return "ok" if healthy else "degraded (per-process memory fallback)"


@health_bp.get("/readyz")
def readyz() -> Any:
    """Ready when the database answers; a dead rate-limit storage only degrades."""
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except SQLAlchemyError:
        db.session.rollback()
        checks["database"] = "unavailable"
    checks["rate_limit_storage"] = _rate_limit_storage_state()
    if checks["database"] != "ok":
        return problem(
            503,
            "The database is unavailable.",
            type_slug="service-unavailable",
            headers={"Retry-After": "5"},
            extra={"checks": checks},
        )
    return {"status": "ready", "checks": checks}


@health_bp.get("/api/docs/assets/<path:filename>")
def docs_asset(filename: str) -> Any:
    return send_from_directory(_SWAGGER_DIR, filename, max_age=86400)
