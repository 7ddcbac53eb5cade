"""Hooks that record each API request (/api/ and /v1/): its latency in the Prometheus
histogram, and one request_logs row, off the request's path.

The hook reads what only the request knows (route template, status, latency, the token's
user, the client address) and hands it to the submit function the app factory gives it
(services/request_logs/capture.py: opt-out, IP masking, the background writer).
REQUEST_LOG_ENABLED=false turns the rows off; the metrics stay.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Flask, Request, Response, current_app, g, request
from flask.ctx import _AppCtxGlobals
from flask_jwt_extended import verify_jwt_in_request

from app import clock, metrics
from app.web.request_context import recorded_method

UNMATCHED = "<unmatched>"
# request_logs.endpoint's width. Templates are the app's own (a few dozen, short); the bound
# only keeps a future long template from failing a whole batch of the writer's insert.
_ENDPOINT_MAX = 255
# The API and Segment's /v1 ingestion; not the docs page and document.
_LOGGED_PREFIXES = ("/api/", "/v1/")
_NOT_LOGGED_PREFIXES = ("/api/docs", "/api/openapi.json")


# submit(endpoint=, method=, status=, latency_ms=, user_id=, remote_addr=, created_at=):
# services/request_logs/capture.RequestLogCapture.submit, handed in by the app factory.
SubmitRow = Callable[..., None]

_SUBMIT = "request_log_submit"


def log_without_user() -> None:
    """Record this request's log row without its user id (an erasure's own request)."""
    g._log_anonymously = True


# The hook runs on every request, so it resolves flask's context proxies (request, g,
# current_app) once and works on the objects: each proxy access costs about as much as
# the dict look-ups around it.


def _logged_user_id(req: Request, ctx: _AppCtxGlobals) -> int | None:
    """The token's user id; none when the request is to be logged anonymously."""
    if ctx.get("_log_anonymously"):
        return None
    return _user_id(req, ctx)


def _user_id(req: Request, ctx: _AppCtxGlobals) -> int | None:
    """The user of a valid token that came with the request, if any.

    Routes that require a token have verified it already; for the others (public
    routes, 404s) the token is verified here, revocation included, and any failure
    means "anonymous".
    """
    jwt_data = ctx.get("_jwt_extended_jwt")
    if not jwt_data:
        # No bearer token (none, or /v1's Basic write key): nobody to verify.
        if not req.headers.get("Authorization", "").startswith("Bearer "):
            return None
        try:
            verified = verify_jwt_in_request(optional=True, verify_type=False)
        except Exception:  # noqa: BLE001 - any invalid token means "anonymous"
            return None
        if verified is None:
            return None
        jwt_data = verified[1]
    try:
        return int(jwt_data["sub"])
    except (KeyError, TypeError, ValueError):
        return None


def _record(status: int) -> None:
    ctx = g._get_current_object()  # type: ignore[attr-defined]
    if ctx.get("_request_logged"):
        return
    req = request._get_current_object()  # type: ignore[attr-defined]
    path = req.path
    if not path.startswith(_LOGGED_PREFIXES) or path.startswith(_NOT_LOGGED_PREFIXES):
        return
    ctx._request_logged = True
    started = ctx.get("started")
    latency = (time.perf_counter() - started) * 1000.0 if started is not None else 0.0
    rule = req.url_rule
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    # The route template, never the raw path: labels and stored values stay a small set.
    endpoint = rule.rule[:_ENDPOINT_MAX] if rule is not None else UNMATCHED
    method = recorded_method(req.method)
    metrics.observe_request(endpoint, method, status, latency / 1000.0)
    submit = app.extensions[_SUBMIT]
    if submit is None:  # request logging off
        return
    submit(
        endpoint=endpoint,
        method=method,
        status=status,
        latency_ms=latency,
        user_id=_logged_user_id(req, ctx),
        remote_addr=req.remote_addr,
        created_at=ctx.get("received_at") or clock.now(),
    )


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


def register_request_logging(app: Flask, submit: SubmitRow) -> None:
    app.extensions[_SUBMIT] = submit if app.config["REQUEST_LOG_ENABLED"] else None
    app.after_request(_after)
    app.teardown_request(_teardown)
