"""Hooks that record one request_logs row per API request, off the request's path."""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, Response, current_app, g, request
from flask_jwt_extended import decode_token

from app.extensions import db
from app.services import clock
from app.services.request_log_writer import RequestLogWriter

UNMATCHED = "<unmatched>"
_NOT_LOGGED_PREFIXES = ("/api/docs", "/api/openapi.json")


def get_writer(app: Flask) -> RequestLogWriter:
    return app.extensions["request_log_writer"]


def _should_log() -> bool:
    path = request.path
    return path.startswith("/api/") and not path.startswith(_NOT_LOGGED_PREFIXES)


def _user_id() -> int | None:
    """The user of a valid token that came with the request, if any."""
    jwt_data = g.get("_jwt_extended_jwt")
    if jwt_data is None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        try:
            jwt_data = decode_token(header[7:].strip())
        except Exception:  # noqa: BLE001 - any invalid token means "anonymous"
            return None
    try:
        return int(jwt_data["sub"])
    except (KeyError, TypeError, ValueError):
        return None


def _record(status: int) -> None:
    if g.get("_request_logged") or not _should_log():
        return
    g._request_logged = True
    started = g.get("started")
    latency = (time.perf_counter() - started) * 1000.0 if started is not None else 0.0
    rule = request.url_rule
    row: dict[str, Any] = {
        "endpoint": rule.rule if rule is not None else UNMATCHED,
        "method": request.method[:10],
        "status": status,
        "latency_ms": latency,
        "user_id": _user_id(),
        "ip_address": (request.remote_addr or None),
        "created_at": g.get("received_at") or clock.now(),
    }
    get_writer(current_app._get_current_object()).submit(row)  # type: ignore[attr-defined]


def _after(response: Response) -> Response:
    try:
        _record(response.status_code)
    except Exception:  # noqa: BLE001 - logging must never fail the request
        current_app.logger.exception("request log not recorded")
    return response


def _teardown(exc: BaseException | None) -> None:
    # Unhandled exceptions (PROPAGATE_EXCEPTIONS) skip after_request: record them here.
    if exc is not None and not g.get("_request_logged"):
        try:
            _record(500)
        except Exception:  # noqa: BLE001
            current_app.logger.exception("request log not recorded")


def register_request_logging(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
    app.extensions["request_log_writer"] = RequestLogWriter(
        engine,
        max_queue=app.config["REQUEST_LOG_QUEUE_SIZE"],
        batch_size=app.config["REQUEST_LOG_BATCH_SIZE"],
        interval=app.config["REQUEST_LOG_FLUSH_INTERVAL"],
    )
    if app.config["REQUEST_LOG_ENABLED"]:
        app.after_request(_after)
        app.teardown_request(_teardown)
