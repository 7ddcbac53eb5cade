"""URL converters: ids in paths stay within the database's integer range."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter, Map

MAX_DB_INT = 2**31 - 1


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` that does not match beyond a 32-bit id, so huge ids are a 404, not a 500."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:  # noqa: A002
        kwargs.setdefault("max", MAX_DB_INT)
        super().__init__(map, *args, **kwargs)
