"""URL converters: ids in paths stay within the database's integer range."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter, Map

from app.schemas.fields import MAX_ID


def _at_most(limit: int) -> str:
    """A regex matching the decimal numerals 0..limit (leading zeros allowed)."""
    digits = str(limit)
    options = [rf"0*\d{{1,{len(digits) - 1}}}"] if len(digits) > 1 else []
    for i, digit in enumerate(digits):
        if digit != "0":
            rest = len(digits) - i - 1
            tail = rf"\d{{{rest}}}" if rest else ""
            options.append(f"0*{digits[:i]}[0-{int(digit) - 1}]{tail}")
    options.append(f"0*{digits}")
    return "(?:" + "|".join(options) + ")"


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` that does not match beyond a 32-bit id (users.id and every other id
    column is INTEGER), so huge ids are a 404, not a 500.

    The bound is in the regex, not only in to_python: Werkzeug picks the route for the
    method before converting, so a value refused only by to_python made DELETE
    /videos/99999999999/like a 405 naming POST (a 404 for POST).
    """

    regex = _at_most(MAX_ID)

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:  # noqa: A002
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)
