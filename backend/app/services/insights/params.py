"""The parameters every report shares: a local date range, a zone, an interval."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app import clock
from app.errors import ValidationFailed
from app.services.insights.sqlite_functions import WEEK_OFFSETS, bucket_key, hour_key

PRESETS = {"last_7d": 7, "last_30d": 30, "last_90d": 90}
INTERVALS = ("hour", "day", "week", "month")
WEEK_STARTS = tuple(WEEK_OFFSETS)
MAX_BUCKETS = 2000
EPOCH = date(1970, 1, 1)
UTC_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HOUR = 3600
SECOND = timedelta(seconds=1)


def invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        "The request has invalid fields.", errors=[{"field": field, "message": message}]
    )


def zone(name: str) -> ZoneInfo:
    try:
        if not name or name != name.strip():
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid("tz", f"Unknown time zone {name!r}; use an IANA name.") from None


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant a local day starts (a local day may last 23 or 25 hours)."""
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def day_number(day: date) -> int:
    return (day - EPOCH).days


def from_day_number(number: int) -> date:
    return EPOCH + timedelta(days=number)


@dataclass(frozen=True)
class Bucket:
    key: int
    start: str  # a local date, or for hours the local ISO datetime it starts, with its offset
    partial: bool


@dataclass(frozen=True)
class Period:
    tz: str
    start_date: date
    end_date: date  # inclusive
    interval: str = "day"
    week_start: str = "monday"
    include_internal: bool = False

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @property
    def utc_start(self) -> datetime:
        return local_midnight(self.start_date, self.zone)

    @property
    def utc_end(self) -> datetime:
        """Exclusive: the start of the day after end_date."""
        return local_midnight(self.end_date + timedelta(days=1), self.zone)

    @property
    def days(self) -> int:
        return (self.end_date - self.start_date).days + 1

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        return replace(
            self,
            start_date=self.start_date - timedelta(days=self.days),
            end_date=self.start_date - timedelta(days=1),
        )

    def key_of(self, moment: datetime) -> int:
        key = bucket_key(
            moment.astimezone(UTC).isoformat(), self.tz, self.interval, self.week_start
        )
        assert key is not None
        return key

    def hour_starts(self) -> list[tuple[int, datetime]]:
        """(key, UTC start) of each hour bucket: one per real hour, starting where a local
        hour starts (or the offset changes); a change inside an hour (Chatham's at :45)
        leaves that hour one bucket, a repeated wall-clock hour is two."""
        zone, end = self.zone, self.utc_end
        starts: list[tuple[int, datetime]] = []
        moment = self.utc_start
        while moment < end:
            key = hour_key(moment, self.tz)
            if not starts or starts[-1][0] != key:
                starts.append((key, moment))
            moment = _next_hour_edge(moment, key, zone)
        return starts

    def bucket_keys(self) -> list[int]:
        if self.interval == "hour":
            return [key for key, _ in self.hour_starts()]
        first = self.key_of(self.utc_start)
        last = self.key_of(self.utc_end - timedelta(microseconds=1))
        step = 7 if self.interval == "week" else 1
        return list(range(first, last + 1, step))

    def buckets(self) -> list[Bucket]:
        now = clock.now()
        if self.interval == "hour":
            starts = self.hour_starts()
            ends = [start for _, start in starts[1:]] + [self.utc_end]
            return [
                Bucket(key, start.astimezone(self.zone).isoformat(), end > now)
                for (key, start), end in zip(starts, ends, strict=True)
            ]
        current = self.key_of(now)
        return [Bucket(key, self.label(key), key >= current) for key in self.bucket_keys()]

    def label(self, key: int) -> str:
        """A day, week or month key as its first local date."""
        if self.interval == "month":
            return date(1970 + key // 12, key % 12 + 1, 1).isoformat()
        return from_day_number(key).isoformat()


def _next_hour_edge(moment: datetime, key: int, zone: ZoneInfo) -> datetime:
    """Where the hour bucket holding `moment` (its key given) may end: the end of its local
    hour, or the first instant before that at which the zone's offset changes."""
    hour_end = UTC_EPOCH + timedelta(seconds=key + HOUR)
    offset = moment.astimezone(zone).utcoffset()
    last = hour_end - SECOND
    if last <= moment or last.astimezone(zone).utcoffset() == offset:
        return hour_end
    low, high = moment, last  # the offset is unchanged at low, changed at high
    while high - low > SECOND:
        middle = low + (high - low) // 2 // SECOND * SECOND
        if middle.astimezone(zone).utcoffset() == offset:
            low = middle
        else:
            high = middle
    return high


def build_period(
    *,
    tz: str = "UTC",
    start: date | None = None,
    end: date | None = None,
    preset: str | None = None,
    interval: str = "day",
    week_start: str = "monday",
    include_internal: bool = False,
) -> Period:
    """Validate the common parameters (422 naming the parameter) into a Period."""
    zone(tz)
    if interval not in INTERVALS:
        raise invalid("interval", f"Must be one of {', '.join(INTERVALS)}.")
    if week_start not in WEEK_STARTS:
        raise invalid("week_start", "Must be monday or sunday.")
    if preset is not None and (start is not None or end is not None):
        raise invalid("preset", "Give either a preset or from/to, not both.")
    if preset is not None:
        if preset not in PRESETS:
            raise invalid("preset", f"Must be one of {', '.join(PRESETS)}.")
        end = clock.today_in(tz)
        start = end - timedelta(days=PRESETS[preset] - 1)
    elif start is None and end is None:
        end = clock.today_in(tz)
        start = end - timedelta(days=PRESETS["last_30d"] - 1)
    elif start is None:
        raise invalid("from", "Give from together with to.")
    elif end is None:
        raise invalid("to", "Give to together with from.")
    if start > end:
        raise invalid("from", "from must not be after to.")
    period = Period(tz, start, end, interval, week_start, include_internal)
    estimate = period.days * 25 if interval == "hour" else period.days
    if estimate > MAX_BUCKETS * 7 or len(period.bucket_keys()) > MAX_BUCKETS:
        raise invalid("interval", f"The range holds more than {MAX_BUCKETS} buckets.")
    return period
