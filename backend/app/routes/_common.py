"""Decorators and helpers shared by the blueprints."""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from functools import wraps
from typing import Any, TypeVar

from flask import current_app
from flask_jwt_extended import verify_jwt_in_request
from flask_smorest import Blueprint

from app.web.json_body import JsonParser

F = TypeVar("F", bound=Callable[..., Any])

BEARER = [{"bearerAuth": []}]


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


class ApiBlueprint(Blueprint):
    ARGUMENTS_PARSER = JsonParser()
