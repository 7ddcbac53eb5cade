"""Domain errors and the one problem+json format (RFC 9457) for every error."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, g, json, request
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

PROBLEM_MIMETYPE = "application/problem+json"


class DomainError(Exception):
    """An error a service raises; errors.py turns it into a problem document."""

    status = 400
    type_slug = "bad-request"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}


class NotFound(DomainError):
    status = 404
    type_slug = "not-found"


class Conflict(DomainError):
    status = 409
    type_slug = "conflict"


class Forbidden(DomainError):
    status = 403
    type_slug = "forbidden"


class Unauthorized(DomainError):
    status = 401
    type_slug = "unauthorized"


class ValidationFailed(DomainError):
    status = 422
    type_slug = "validation-error"


class ServiceUnavailable(DomainError):
    status = 503
    type_slug = "service-unavailable"


def problem(
    status: int,
    detail: str | None = None,
    *,
    title: str | None = None,
    type_slug: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    """Build a problem+json response."""
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    slug = type_slug or phrase.lower().replace(" ", "-").replace("'", "")
    body: dict[str, Any] = {
        "type": f"https://errors.challenge.app/{slug}",
        "title": title or phrase,
        "status": status,
        "detail": detail or phrase,
    }
    if errors:
        body["errors"] = errors
    if extra:
        body.update(extra)
    request_id = g.get("request_id") if _has_request() else None
    if request_id:
        body["request_id"] = request_id
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MIMETYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _has_request() -> bool:
    from flask import has_request_context

    return has_request_context()


def flatten_messages(messages: Any, prefix: str = "") -> list[dict[str, str]]:
    """Turn marshmallow's nested messages into [{field, message}, ...]."""
    out: list[dict[str, str]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key == "_schema":
                name = prefix or "body"
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            out.extend(flatten_messages(value, name))
    elif isinstance(messages, (list, tuple)):
        if all(isinstance(item, str) for item in messages):
            out.extend({"field": prefix or "body", "message": item} for item in messages)
        else:
            for item in messages:
                out.extend(flatten_messages(item, prefix))
    else:
        out.append({"field": prefix or "body", "message": str(messages)})
    return out


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
        from app.web.rate_limit_headers import rate_limit_headers

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
    from app.extensions import db

    db.session.rollback()
    log.warning("integrity error: %s", error.orig)
    return problem(409, "The request conflicts with stored data.", type_slug="conflict")


def handle_operational_error(error: OperationalError) -> Response:
    from app.extensions import db

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
