"""From what the web hook saw of a request to a queued request_logs row.

The hook (app/web/request_log_hook.py) knows the request; this knows what may be kept of
it: the user id only while the user allows tracking, the client address masked or hashed
(IP_MODE) before the row is queued. The app factory builds one capture per app and hands
its submit() to the hook, so the web plumbing imports no service.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy.engine import Engine

from app.services.privacy.ip_masking import IpAnonymizer
from app.services.privacy.opt_out import tracking_allowed
from app.services.request_logs.writer import RequestLogWriter

log = logging.getLogger(__name__)

_WRITER = "request_log_writer"
_ANONYMIZER = "ip_anonymizer"


class RequestLogCapture:
    """Reads its writer and anonymizer from the app's extensions at each call, so an
    operator tool or a test that swaps either on the app is obeyed at once."""

    def __init__(self, extensions: dict[str, Any]) -> None:
        self._extensions = extensions

    def submit(
        self,
        *,
        endpoint: str,
        method: str,
        status: int,
        latency_ms: float,
        user_id: int | None,
        remote_addr: str | None,
        created_at: datetime,
    ) -> None:
        extensions = self._extensions
        extensions[_WRITER].submit({
            "endpoint": endpoint,
            "method": method,
            "status": status,
            "latency_ms": latency_ms,
            "user_id": _kept_user_id(user_id),
            "ip_address": extensions[_ANONYMIZER].for_remote_addr(remote_addr),
            "created_at": created_at,
        })


def _kept_user_id(user_id: int | None) -> int | None:
    """The user id to store: none when the user opted out (or the check failed)."""
    if user_id is None:
        return None
    try:
        return user_id if tracking_allowed(user_id) else None
    except Exception:  # noqa: BLE001 - when unsure, store less
        log.exception("opt-out not checked: the user id is not logged")
        return None


def install(app: Flask, engine: Engine, config: Mapping[str, Any]) -> RequestLogCapture:
    """Build this app's writer and anonymizer from its config and keep them on the app."""
    writer = RequestLogWriter(
        engine,
        max_queue=config["REQUEST_LOG_QUEUE_SIZE"],
        batch_size=config["REQUEST_LOG_BATCH_SIZE"],
        interval=config["REQUEST_LOG_FLUSH_INTERVAL"],
        spool_dir=config["REQUEST_LOG_SPOOL_DIR"],
        spool_max_bytes=config["REQUEST_LOG_SPOOL_MAX_BYTES"],
    )
    anonymizer = IpAnonymizer(engine, mode=config["IP_MODE"], secret=config["IP_HASH_SECRET"])
    app.extensions[_WRITER] = writer
    app.extensions[_ANONYMIZER] = anonymizer
    return RequestLogCapture(app.extensions)


def get_writer(app: Flask) -> RequestLogWriter:
    return app.extensions[_WRITER]


def get_anonymizer(app: Flask) -> IpAnonymizer:
    return app.extensions[_ANONYMIZER]
