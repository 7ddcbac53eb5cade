"""Decorators and helpers shared by the blueprints."""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from functools import wraps
from typing import Any, TypeVar

from flask import Request, current_app, g
from flask_jwt_extended import verify_jwt_in_request
from flask_smorest import Blueprint
from webargs import core
from webargs.flaskparser import FlaskParser, abort, is_json_request

from app.web import json_codec

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


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_JSON_BODY = "_parsed_json_body"


def cached_json_body() -> Any:
    """This request's body as JsonParser parsed it; None when it was not parsed."""
    return g.get(_JSON_BODY)


class JsonParser(FlaskParser):
    """webargs' parser, answering 400 (not 500) for every body that is not JSON.

    The parsed body is kept for the request, so code that reads it before the schema
    does (the event limit's cost, the rejected-event store) does not parse it again.
    """

    def _raw_load_json(self, req: Request) -> Any:
        if _JSON_BODY not in g:
            setattr(g, _JSON_BODY, self._parse_json(req))
        return getattr(g, _JSON_BODY)

    def _parse_json(self, req: Request) -> Any:
        if not is_json_request(req):
            return core.missing
        data = req.get_data(cache=True)
        if not data:
            return core.missing
        try:
            return json_codec.loads(data, parse_constant=_reject_constant)
        except RecursionError:
            # Valid JSON, only too deep for the parser: a validation error, not a syntax one.
            abort(422, messages={"json": ["The body is nested too deeply."]})
        except (UnicodeDecodeError, ValueError):
            abort(400, messages={"json": ["The body is not valid JSON."]})


class ApiBlueprint(Blueprint):
    ARGUMENTS_PARSER = JsonParser()
