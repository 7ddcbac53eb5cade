"""A request's JSON body, parsed once (orjson, with the standard library's answers) and
answered 400 (not 500) when it is not JSON.

webargs parses bodies through JsonParser.load_json (its public location loader); code that
needs the body before the schema does (the event limit's cost, the rejected-event store)
calls json_body() and gets the same parsed object.
"""

from __future__ import annotations

from typing import Any

from flask import Request, g
from marshmallow import Schema
from webargs import core
from webargs.flaskparser import FlaskParser, abort, is_json_request

from app.web import json_codec

_JSON_BODY = "_parsed_json_body"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def json_body(req: Request) -> Any:
    """This request's parsed JSON body (webargs' `missing` when it has none); 400 or 422
    through webargs' abort when it is not JSON or too deep to parse."""
    if _JSON_BODY not in g:
        setattr(g, _JSON_BODY, _parse_json(req))
    return getattr(g, _JSON_BODY)


def cached_json_body() -> Any:
    """This request's body if it was parsed already; None when it was not."""
    return g.get(_JSON_BODY)


def _parse_json(req: Request) -> Any:
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


class JsonParser(FlaskParser):
    """webargs' parser, reading JSON bodies through json_body()."""

    def load_json(self, req: Request, schema: Schema) -> Any:
        return json_body(req)
