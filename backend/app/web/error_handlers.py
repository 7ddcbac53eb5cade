"""The error handlers: every error, ours or the framework's, as one problem+json response."""

from __future__ import annotations

import logging

from flask import Flask, Response, g, request
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from app.errors import DomainError, flatten_messages, problem
from app.extensions import db
from app.web.rate_limit_headers import rate_limit_headers

log = logging.getLogger("app.errors")


def handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    errors = None
    detail = error.description
    headers = dict(data.get("headers") or {})
    if error.response is not None and status != 429:
        headers.update(
            {k: v for k, v in error.response.headers.items() if k.lower() == "retry-after"}
        )
    messages = data.get("messages") or data.get("errors")
    if messages:
        # webargs nests messages under the location ("json", "query", ...).
        if isinstance(messages, dict) and set(messages) <= {
            "json", "query", "view_args", "form", "headers", "files", "cookies", "path"
        }:
            flat: list[dict[str, str]] = []
            for value in messages.values():
                flat.extend(flatten_messages(value))
            errors = flat
        else:
            errors = flatten_messages(messages)
    if status == 422:
        detail = "The request has invalid fields."
    elif status == 400 and errors:
        detail = errors[0]["message"]
        errors = None
    elif status == 404:
        detail = "No such resource."
    elif status == 405:
        detail = f"Method {request.method} is not allowed here."
        allowed = error.valid_methods if hasattr(error, "valid_methods") else None
        if allowed:
            headers["Allow"] = ", ".join(allowed)
    elif status == 429:
        detail = f"Rate limit exceeded: {error.description}. Retry later."
        for name, value in rate_limit_headers(breached=True).items():
            headers.setdefault(name, value)
    elif status >= 500:
        detail = "The server could not complete the request."
    slug = "validation-error" if status == 422 else None
    return problem(status, detail, errors=errors, headers=headers, type_slug=slug)


def handle_domain_error(error: DomainError) -> Response:
    return problem(
        error.status,
        error.detail,
        type_slug=error.type_slug,
        errors=error.errors,
        headers=error.headers,
        extra=error.extra,
    )


def handle_integrity_error(error: IntegrityError) -> Response:
    db.session.rollback()
    log.warning("integrity error: %s", error.orig)
    return problem(409, "The request conflicts with stored data.", type_slug="conflict")


def handle_operational_error(error: OperationalError) -> Response:
    db.session.rollback()
    log.error("database unavailable: %s", error.orig)
    return problem(
        503,
        "The database is unavailable. Retry later.",
        type_slug="service-unavailable",
        headers={"Retry-After": "5"},
    )


def handle_unexpected(error: Exception) -> Response:
    log.exception("unhandled error (request %s)", g.get("request_id"))
    return problem(500, "The server could not complete the request.")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(OperationalError, handle_operational_error)
    app.register_error_handler(Exception, handle_unexpected)
