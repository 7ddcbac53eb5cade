"""ClickHouse's form of sql.bucket_key: the same integer keys (days, week starts, months
since 1970 on the zone's wall clock; for hours the UTC second the local hour began)."""

from __future__ import annotations

from app.services.insights.params import Period
from app.services.insights.sqlite_functions import WEEK_OFFSETS


def bucket_key(column: str, period: Period) -> str:
    """SQL for the bucket key of a DateTime64 column; binds {tz:String}."""
    tz = "{tz:String}"
    if period.interval == "hour":
        return (
            f"(toInt64(toUnixTimestamp({column})) - toMinute({column}, {tz}) * 60"
            f" - toSecond({column}, {tz}))"
        )
    if period.interval == "month":
        return f"((toYear({column}, {tz}) - 1970) * 12 + toMonth({column}, {tz}) - 1)"
    day = f"toInt32(toDate32({column}, {tz}))"
    if period.interval == "week":
        return f"({day} - (({day} + {WEEK_OFFSETS[period.week_start]}) % 7))"
    return day
