"""The few SQL expressions that differ between PostgreSQL and SQLite.

Every bucket is an integer key: for hours the UTC second the local hour began (at the
event's own offset), else days, week-start days or months since 1970 on the local wall
clock of the report's zone: PostgreSQL computes it from
timezone(tz, ts); SQLite from the functions in app/services/insights/sqlite_functions.py. Both give
the same integers, so the reports' Python code never sees a dialect.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    Float,
    Integer,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import BIT, JSONB
from sqlalchemy.sql import ColumnElement

from app.models import User
from app.services.insights.params import Period
from app.services.insights.reader import reader
from app.services.insights.sqlite_functions import WEEK_OFFSETS

_EPOCH_DATE = literal_column("DATE '1970-01-01'")


def is_postgres() -> bool:
    return reader().get_bind().dialect.name == "postgresql"


def epoch(column: Any) -> ColumnElement[float]:
    """Seconds since 1970 of a UTC timestamp column."""
    if is_postgres():
        return cast(func.extract("epoch", column), Float)
    return func.insights_epoch(column, type_=Float)


def day_key(column: Any, tz: str, *, postgres: bool | None = None) -> ColumnElement[int]:
    """The local date in tz of a UTC timestamp column, as days since 1970-01-01 (`postgres`:
    the dialect, when the statement runs elsewhere than on the reports' session)."""
    if is_postgres() if postgres is None else postgres:
        return cast(cast(func.timezone(tz, column), Date) - _EPOCH_DATE, Integer)
    return func.insights_day_key(column, tz, type_=Integer)


def anonymous_key(column: Any, *, postgres: bool | None = None) -> ColumnElement[int]:
    """The person key of an unlinked anonymous id (insights/persons.py): -(the first 60 bits
    of its md5) - 1; sqlite_functions.anonymous_key computes it in Python."""
    if is_postgres() if postgres is None else postgres:
        hexed = literal_column("'x'").op("||")(func.substr(func.md5(column), 1, 15))
        return -cast(cast(hexed, BIT(60)), BigInteger) - 1
    return func.insights_anonymous_key(column, type_=BigInteger)


def date_key(column: Any) -> ColumnElement[int]:
    """A DATE column as days since 1970-01-01."""
    if is_postgres():
        return cast(column - _EPOCH_DATE, Integer)
    return func.insights_date_key(column, type_=Integer)


def week_of(day: ColumnElement[int], week_start: str) -> ColumnElement[int]:
    """The day key of the week start (monday or sunday) of a day key."""
    return day - (day + WEEK_OFFSETS[week_start]) % 7


def bucket_key(column: Any, period: Period) -> ColumnElement[int]:
    """The local bucket key of a UTC timestamp column (see params.Period.buckets)."""
    tz, interval = period.tz, period.interval
    if not is_postgres():
        key_type = BigInteger if interval == "hour" else Integer
        return func.insights_bucket_key(column, tz, interval, period.week_start, type_=key_type)
    local = func.timezone(tz, column)
    if interval == "hour":
        # The UTC second its local hour began, at its own offset (sqlite_functions.hour_key):
        # the time since the local hour's start is taken from the UTC instant, so the
        # microseconds cancel and the key is exact.
        into_hour = local - func.date_trunc(literal_column("'hour'"), local)
        return cast(func.extract("epoch", column - into_hour), BigInteger)
    if interval == "month":
        return cast(
            (func.extract("year", local) - 1970) * 12 + func.extract("month", local) - 1, Integer
        )
    day = day_key(column, tz)
    return week_of(day, period.week_start) if interval == "week" else day


def percentile(fraction: float, column: Any) -> ColumnElement[float]:
    """percentile_cont with PostgreSQL's semantics (linear interpolation)."""
    if is_postgres():
        return func.percentile_cont(literal(fraction)).within_group(cast(column, Float))
    return func.percentile_cont(column, fraction, type_=Float)


def json_text(column: Any, key: str) -> ColumnElement[str]:
    """event_data ->> key: the value as text (numbers and booleans as their JSON text)."""
    if is_postgres():
        return column.op("->>")(literal(key))
    path = f'$."{key}"'
    kind = func.json_type(column, path)
    return case(
        (kind.in_(("true", "false")), kind),
        (kind == "null", None),
        else_=cast(func.json_extract(column, path), String),
    )


def json_equals(column: Any, key: str, value: Any) -> ColumnElement[bool]:
    """event_data has key with exactly this JSON value (7 is not "7", true is not 1)."""
    if is_postgres():
        return column.op("@>")(cast(literal(json.dumps({key: value})), JSONB))
    path = f'$."{key}"'
    kind = func.json_type(column, path)
    if value is None:
        return kind == "null"
    if isinstance(value, bool):
        return kind == ("true" if value else "false")
    if isinstance(value, str):
        return and_(kind == "text", func.json_extract(column, path) == value)
    return and_(kind.in_(("integer", "real")), func.json_extract(column, path) == value)


def internal_user_ids() -> ColumnElement[Any]:
    """The ids of internal users, as a subquery for IN."""
    # is_internal is NOT NULL: "= true" says the same as IS NOT FALSE, and uses
    # ix_users_internal (a partial index WHERE is_internal).
    return select(User.id).where(User.is_internal).scalar_subquery()


def user_filter(period: Period, user_id: Any) -> ColumnElement[bool]:
    """Leave internal users out unless the report asks for them (rows without a user, such
    as anonymous requests, stay)."""
    if period.include_internal:
        return literal(True)
    return or_(user_id.is_(None), user_id.not_in(internal_user_ids()))


def event_user_filter(period: Period, user_id: Any) -> ColumnElement[bool]:
    """The events a per-user report counts: a known user's (or person's: with `user_id` a
    person key from insights/persons.py), internal users left out unless asked."""
    return and_(user_id.is_not(None), user_filter(period, user_id))
