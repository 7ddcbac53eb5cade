"""Decorators and helpers shared by the blueprints."""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from functools import wraps
from http import HTTPStatus
from typing import Any, TypeVar

from flask import current_app
from flask_jwt_extended import verify_jwt_in_request
from flask_smorest import Blueprint

from app.web.json_body import JsonParser
from app.web.openapi import RATE_LIMIT_HEADERS, problem_statuses

F = TypeVar("F", bound=Callable[..., Any])

BEARER = [{"bearerAuth": []}]
LIMITER_MARK = "__wrapper-limiter-instance"


def auth_required(*, refresh: bool = False, any_type: bool = False) -> Callable[[F], F]:
    """Require a valid token (401 otherwise) and document the bearer scheme.

    refresh: a refresh token is required; any_type: an access or a refresh token.
    """

    def decorator(func: F) -> F:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            verify_jwt_in_request(refresh=refresh, verify_type=not any_type)
            return current_app.ensure_sync(func)(*args, **kwargs)

        apidoc = deepcopy(getattr(wrapper, "_apidoc", {}))
        apidoc.setdefault("manual_doc", {})["security"] = BEARER
        wrapper._apidoc = apidoc  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


def write_limit() -> str:
    return current_app.config["WRITE_LIMIT"]


def auth_limit() -> str:
    return current_app.config["AUTH_LIMIT"]


def problems(*statuses: int) -> Callable[[F], F]:
    """Document error statuses a view answers beyond those ApiBlueprint infers (e.g. 403,
    409), as problem+json responses."""

    def decorator(func: F) -> F:
        apidoc = deepcopy(getattr(func, "_apidoc", {}))
        apidoc["problems"] = sorted(set(apidoc.get("problems", [])) | set(statuses))
        func._apidoc = apidoc  # type: ignore[attr-defined]
        return func

    return decorator


def _rate_limited(view: Callable[..., Any]) -> bool:
    # Flask-Limiter marks its wrappers; functools.wraps copies the mark to every outer one.
    return getattr(view, LIMITER_MARK, None) is not None


class ApiBlueprint(Blueprint):
    """flask-smorest's Blueprint with our JSON parser, documenting every error status an
    operation can answer (web/openapi.problem_statuses, plus the view's problems())."""

    ARGUMENTS_PARSER = JsonParser()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._prepare_doc_cbks.append(self._prepare_problem_doc)

    def arguments(self, schema: Any, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        # webargs instantiates a Schema class on every request it parses: once, here.
        if isinstance(schema, type):
            schema = schema()
        return super().arguments(schema, *args, **kwargs)

    def add_url_rule(
        self, rule: str, endpoint: str | None = None, view_func: Any = None, *args: Any, **kw: Any
    ) -> None:
        if callable(view_func) and not isinstance(view_func, type):
            apidoc = deepcopy(getattr(view_func, "_apidoc", {}))
            apidoc["rate_limited"] = _rate_limited(view_func)
            apidoc["path_params"] = "<" in rule
            view_func._apidoc = apidoc
        super().add_url_rule(rule, endpoint, view_func, *args, **kw)

    @staticmethod
    def _prepare_problem_doc(
        doc: dict[str, Any], doc_info: dict[str, Any], *, method: str, **kwargs: Any
    ) -> dict[str, Any]:
        operation = {**doc, **doc_info.get("manual_doc", {})}
        statuses = problem_statuses(
            operation,
            method=method,
            rate_limited=doc_info.get("rate_limited", False),
            has_path_params=doc_info.get("path_params", False),
        )
        statuses |= set(doc_info.get("problems", []))
        responses = doc.setdefault("responses", {})
        documented = {str(status) for status in responses}
        for status in sorted(statuses):
            if str(status) not in documented:
                responses[status] = HTTPStatus(status).name
        if doc_info.get("rate_limited"):
            for status, response in responses.items():
                if str(status).startswith("2") and isinstance(response, dict):
                    response.setdefault("headers", {}).update(RATE_LIMIT_HEADERS)
        return doc
