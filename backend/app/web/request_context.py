"""Per-request plumbing: request ids, receive time, method and content-type checks, log records.

Methods: the app routes GET, HEAD, POST, PUT, PATCH, DELETE and OPTIONS. Any other method,
TRACE and CONNECT included (the app serves neither: TRACE only echoes, CONNECT is for
proxies), is answered 405 problem+json before routing, and is recorded in metrics and
request_logs as OTHER: a client inventing methods cannot grow label sets or stored values.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request
from werkzeug.exceptions import MethodNotAllowed

from app import clock
from app.errors import problem

# fullmatch, not match with "$": "$" also matches before a trailing newline.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_BODY_METHODS = {"POST", "PUT", "PATCH"}
ROUTED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "OTHER"


def recorded_method(method: str) -> str:
    """The method as metrics and request logs record it: a routed method, or OTHER."""
    return method if method in ROUTED_METHODS else OTHER_METHOD


def _unknown_method() -> Response:
    """405 for a method the app never routes; Allow lists what the path accepts (if any)."""
    error = request.routing_exception
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        allowed = sorted(error.valid_methods)
    elif request.url_rule is not None and request.url_rule.methods:
        allowed = sorted(request.url_rule.methods)
    else:
        allowed = []  # no such path: an empty Allow (RFC 9110 15.5.6)
    return problem(
        405,
        "The request method is not supported.",
        type_slug="method-not-allowed",
        headers={"Allow": ", ".join(allowed)},
    )


def request_id() -> str:
    """This request's id: the client's X-Request-ID when well formed, else a new one.

    Set on first use, so a record logged before our before_request hook runs (Flask-Limiter's
    hook runs first) carries the same id as the response.
    """
    current = g.get("request_id")
    if current is None:
        inbound = request.headers.get("X-Request-ID", "")
        current = inbound if _VALID_REQUEST_ID.fullmatch(inbound) else uuid.uuid4().hex
        g.request_id = current
    return current


class RequestIdFilter(logging.Filter):
    """Adds the current request id (or "-" outside a request) to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        from flask import has_request_context

        record.request_id = request_id() if has_request_context() else "-"
        return True


def _start() -> Response | None:
    g.started = time.perf_counter()
    g.received_at = clock.now()
    request_id()
    if request.method not in ROUTED_METHODS:
        return _unknown_method()
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
