"""Domain errors and the one problem+json format (RFC 9457) for every error."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from flask import Response, g, has_request_context, json

PROBLEM_MIMETYPE = "application/problem+json"


class DomainError(Exception):
    """An error a service raises; web/error_handlers.py turns it into a problem document."""

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
    request_id = g.get("request_id") if has_request_context() else None
    if request_id:
        body["request_id"] = request_id
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MIMETYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


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
