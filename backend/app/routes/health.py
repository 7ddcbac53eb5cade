"""Liveness, readiness, and the docs page's local assets (not part of the API)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import swagger_ui_bundle
from flask import Blueprint, send_from_directory
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db, limiter

health_bp = Blueprint("health", __name__)

_SWAGGER_DIR = Path(swagger_ui_bundle.swagger_ui_path)


@health_bp.get("/healthz")
def healthz() -> Any:
    return {"status": "ok"}


def _rate_limit_storage_state() -> str:
    try:
        storage = limiter.storage
        healthy = storage.check()
    except Exception:  # noqa: BLE001 - any storage failure means "down"
        healthy = False
    if healthy and not getattr(limiter, "_storage_dead", False):
        return "ok"
    return "degraded (per-process memory fallback)"


@health_bp.get("/readyz")
def readyz() -> Any:
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except SQLAlchemyError:
        db.session.rollback()
        checks["database"] = "unavailable"
    checks["rate_limit_storage"] = _rate_limit_storage_state()
    ready = checks["database"] == "ok"
    return {"status": "ready" if ready else "unavailable", "checks": checks}, 200 if ready else 503


@health_bp.get("/api/docs/assets/<path:filename>")
def docs_asset(filename: str) -> Any:
    return send_from_directory(_SWAGGER_DIR, filename, max_age=86400)
