"""URL converters: ids in paths stay within the database's integer range."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter, Map

from app.schemas.fields import MAX_ID


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` that does not match beyond a 32-bit id (users.id and every other id
    column is INTEGER), so huge ids are a 404, not a 500."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:  # noqa: A002
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)
