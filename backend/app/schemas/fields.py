"""Fields that keep input within what the database and the calendar code can hold.

Every id, date and free JSON value a schema takes goes through one of these, so a value
beyond a column's type or the calendar is a 422 naming the field, never a 500 deeper in.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from marshmallow import ValidationError, fields, validate

# users.id, challenges.id, videos.id ... are INTEGER (32-bit) on PostgreSQL.
MAX_ID = 2**31 - 1
# The widest integer either database binds (BIGINT; SQLite's INTEGER).
MAX_BIGINT = 2**63 - 1
# Report dates: far from datetime's year 1..9999, so a zone offset, a week start or a
# retention period added to either end still yields a valid date and timestamp.
MIN_DATE = date(1970, 1, 1)
MAX_DATE = date(2100, 12, 31)


class Id(fields.Integer):
    """A row id: a positive 32-bit integer (as users.id and every other id column)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=validate.Range(min=1, max=MAX_ID), **kwargs)


class ReportDate(fields.Date):
    """An ISO date between MIN_DATE and MAX_DATE (inclusive)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=validate.Range(min=MIN_DATE, max=MAX_DATE), **kwargs)


class JsonScalar(fields.Raw):
    """A JSON string, boolean, null or number that both databases can compare with.

    Nested objects and arrays are refused, as are integers beyond 64 bits (SQLite cannot
    bind them) and non-finite numbers (the body parser already refuses those).
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_none", True)
        metadata = {"description": "A string, number, boolean or null"} | kwargs.pop(
            "metadata", {}
        )
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, (str, bool)):
            return value
        if isinstance(value, int):
            if not -MAX_BIGINT - 1 <= value <= MAX_BIGINT:
                raise ValidationError("Integers beyond 64 bits are not supported.")
            return value
        if isinstance(value, float) and math.isfinite(value):
            return value
        raise ValidationError("Must be a string, a number, true, false or null.")


class JsonBoolean(fields.Boolean):
    """A JSON body's true or false, and nothing else: marshmallow's Boolean also takes
    "0", "yes", 1 and the like, which a JSON client never means as a boolean."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if type(value) is not bool:
            raise self.make_error("invalid", input=value)
        return value
