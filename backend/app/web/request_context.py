"""Per-request plumbing: request ids, receive time, content-type checks, log records."""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

from app import clock
from app.errors import problem

# fullmatch, not match with "$": "$" also matches before a trailing newline.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_BODY_METHODS = {"POST", "PUT", "PATCH"}


class RequestIdFilter(logging.Filter):
    """Adds the current request id (or "-") to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        from flask import has_request_context

        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


def _start() -> Response | None:
    g.started = time.perf_counter()
    g.received_at = clock.now()
    inbound = request.headers.get("X-Request-ID", "")
    g.request_id = inbound if _VALID_REQUEST_ID.fullmatch(inbound) else uuid.uuid4().hex
    if (
        request.method in _BODY_METHODS
        and request.path.startswith("/api/")
        and (request.content_length or request.headers.get("Transfer-Encoding"))
        and not request.is_json
    ):
        return problem(
            415,
            "The body must be JSON, sent with Content-Type: application/json.",
            type_slug="unsupported-media-type",
        )
    return None


def _finish(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id:
        response.headers["X-Request-ID"] = request_id
    return response


def register_request_hooks(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_finish)
