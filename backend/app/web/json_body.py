"""A request's JSON body, parsed once (orjson, with the standard library's answers) and
answered 400 (not 500) when it is not JSON, or holds what the database cannot store.

webargs parses bodies through JsonParser.load_json (its public location loader); code that
needs the body before the schema does (the event limit's cost, the rejected-event store)
calls json_body() and gets the same parsed object.

The one check of hostile values: before any schema sees a JSON body or a query string,
JsonParser refuses NUL characters and lone surrogates (PostgreSQL's text and JSONB cannot
hold them) and numbers beyond a double (1e400, read as infinity), in keys and values, with
a 400 naming each place. A schema whose service judges such text itself sets
`storable_json_only = False` (the analytics ingestion answers 422 by contract).
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterable
from typing import Any

from flask import Request, g
from marshmallow import Schema
from webargs import core
from webargs.flaskparser import FlaskParser, abort, is_json_request

from app.errors import DomainError
from app.web import json_codec

_JSON_BODY = "_parsed_json_body"
_UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")
_MAX_REPORTED = 10
_MAX_DOUBLE = sys.float_info.max


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


def _text_problem(text: str) -> str | None:
    match = _UNSTORABLE_TEXT.search(text)
    if match is None:
        return None
    if match.group() == "\x00":
        return "NUL characters (\\u0000) are not allowed."
    return "Lone surrogates (\\ud800-\\udfff) are not allowed."


def _shown(segment: str) -> str:
    """A path segment fit for a response: bad characters written as \\uXXXX escapes."""
    return _UNSTORABLE_TEXT.sub(lambda m: f"\\u{ord(m.group()):04x}", segment)


def _scalar_problem(value: Any) -> str | None:
    if isinstance(value, str):
        return _text_problem(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    # 1e400 parses as infinity; a 400-digit integer literal parses exactly, as an int.
    within = math.isfinite(value) if isinstance(value, float) else abs(value) <= _MAX_DOUBLE
    return None if within else "Numbers beyond a double are not allowed."


def unstorable_values(document: Any) -> list[dict[str, str]]:
    """Each place (dotted path) in a parsed JSON document holding a NUL character or a lone
    surrogate (in a key or a string) or a number beyond a double; at most _MAX_REPORTED.

    Iterative, so a body as deep as the parser allows cannot exhaust the stack.
    """
    problems: list[dict[str, str]] = []
    stack: list[tuple[Any, str]] = [(document, "")]
    while stack and len(problems) < _MAX_REPORTED:
        value, path = stack.pop()
        if isinstance(value, dict):
            children = []
            for key, item in value.items():
                child = f"{path}.{_shown(key)}" if path else _shown(key)
                key_problem = _text_problem(key)
                if key_problem is not None:
                    problems.append({"field": child, "message": "Key: " + key_problem})
                children.append((item, child))
            stack.extend(reversed(children))
        elif isinstance(value, list):
            indexed = [(item, f"{path}.{i}" if path else str(i)) for i, item in enumerate(value)]
            stack.extend(reversed(indexed))
        else:
            message = _scalar_problem(value)
            if message is not None:
                problems.append({"field": path or "body", "message": message})
    return problems[:_MAX_REPORTED]


def _query_problems(args: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    problems = []
    for name, value in args:
        message = _text_problem(name) or _text_problem(value)
        if message is not None:
            problems.append({"field": _shown(name), "message": message})
    return problems[:_MAX_REPORTED]


def _refuse(problems: list[dict[str, str]], where: str) -> None:
    if problems:
        raise DomainError(
            f"The {where} holds a value the database cannot store: {problems[0]['message']}",
            errors=problems,
        )


class JsonParser(FlaskParser):
    """webargs' parser, reading JSON bodies through json_body(), refusing what no column
    can store in bodies and query strings."""

    def load_json(self, req: Request, schema: Schema) -> Any:
        body = json_body(req)
        if getattr(schema, "storable_json_only", True):
            _refuse(unstorable_values(body), "body")
        return body

    def load_querystring(self, req: Request, schema: Schema) -> Any:
        _refuse(_query_problems(req.args.items(multi=True)), "query string")
        return super().load_querystring(req, schema)
