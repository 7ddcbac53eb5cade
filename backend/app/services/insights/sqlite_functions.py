"""SQL functions registered on every SQLite connection: what PostgreSQL has built in.

The insights reports use them so that the same select() gives the same answer on
both databases: time-zone conversion of a stored UTC timestamp to local bucket keys
(PostgreSQL: timezone(tz, ts) and date arithmetic) and a percentile_cont aggregate
with PostgreSQL's semantics (linear interpolation between the closest ranks), and the
person key of an anonymous id (persons.anonymous_key).
"""

from __future__ import annotations

import hashlib
import math
import sqlite3
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

_EPOCH_DAY = date(1970, 1, 1).toordinal()
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
# Day 0 (1970-01-01) was a Thursday: day + offset is a multiple of 7 on a week start.
WEEK_OFFSETS = {"monday": 3, "sunday": 4}


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _parse(value: Any) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _local(value: Any, tz: str) -> datetime | None:
    moment = _parse(value)
    return None if moment is None else moment.astimezone(_zone(tz)).replace(tzinfo=None)


def epoch(value: Any) -> float | None:
    """Seconds since 1970 of a stored UTC timestamp (PostgreSQL: extract(epoch from ts))."""
    moment = _parse(value)
    return None if moment is None else moment.timestamp()


def day_key(value: Any, tz: str) -> int | None:
    """The local date of a UTC timestamp in tz, as days since 1970-01-01."""
    local = _local(value, tz)
    return None if local is None else local.date().toordinal() - _EPOCH_DAY


def date_key(value: Any) -> int | None:
    """A stored DATE as days since 1970-01-01."""
    if value is None:
        return None
    return date.fromisoformat(str(value)[:10]).toordinal() - _EPOCH_DAY


def hour_key(moment: datetime, tz: str) -> int:
    """The UTC second (since 1970) at which moment's local hour began, at moment's own
    offset: one key per real hour, so a repeated wall-clock hour is two keys and no
    instant is left without one (PostgreSQL: sql.bucket_key)."""
    local = moment.astimezone(_zone(tz))
    floor = (moment - _EPOCH_UTC) // _SECOND  # whole seconds; the offset has no fraction
    return floor - local.minute * 60 - local.second


def bucket_key(value: Any, tz: str, interval: str, week_start: str) -> int | None:
    """The local bucket of a UTC timestamp: for hours, hour_key; else days, week-start
    days or months since 1970 on the local wall clock of tz."""
    if interval == "hour":
        moment = _parse(value)
        return None if moment is None else hour_key(moment, tz)
    local = _local(value, tz)
    if local is None:
        return None
    if interval == "month":
        return (local.year - 1970) * 12 + local.month - 1
    day = local.date().toordinal() - _EPOCH_DAY
    if interval == "week":
        return day - (day + WEEK_OFFSETS[week_start]) % 7
    return day


class PercentileCont:
    """percentile_cont(value, fraction): PostgreSQL's percentile_cont(fraction)
    WITHIN GROUP (ORDER BY value); NULL values are ignored, no rows give NULL."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.fraction: float | None = None

    def step(self, value: Any, fraction: Any) -> None:
        if fraction is not None:
            self.fraction = float(fraction)
        if value is not None:
            self.values.append(float(value))

    def finalize(self) -> float | None:
        if not self.values or self.fraction is None:
            return None
        return percentile_cont(self.values, self.fraction)


def percentile_cont(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def anonymous_key(value: Any) -> int | None:
    """persons.anonymous_key: -(the first 60 bits of the id's md5) - 1."""
    if value is None:
        return None
    return -int(hashlib.md5(str(value).encode()).hexdigest()[:15], 16) - 1


def register_sqlite_functions(connection: sqlite3.Connection) -> None:
    connection.create_function("insights_epoch", 1, epoch, deterministic=True)
    connection.create_function("insights_day_key", 2, day_key, deterministic=True)
    connection.create_function("insights_date_key", 1, date_key, deterministic=True)
    connection.create_function("insights_bucket_key", 4, bucket_key, deterministic=True)
    connection.create_function("insights_anonymous_key", 1, anonymous_key, deterministic=True)
    connection.create_aggregate("percentile_cont", 2, PercentileCont)  # type: ignore[arg-type]
