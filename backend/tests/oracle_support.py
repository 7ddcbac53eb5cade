"""Plain-Python references for the report oracles (test_oracle_*.py), and the hypothesis
strategies that draw their data: zones with odd offsets and the instants around their DST
changes. Nothing here calls the production SQL or the report code: only zoneinfo and loops
(assert_sliced compares a report's answers, given to it, with a reference).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st

from app.extensions import db
from app.models import AnonymousIdentity, Base, User
from app.services.analytics_store import store
from app.services.insights.context import ContextFilter
from tests import services as svc
from tests.store_support import empty_store

# +12:45/+13:45 (changes at :45), +5:45, +5:30, +10:30/+11 (a 30-minute change), and a
# plain European day of 23 and 25 hours.
CHATHAM, KATHMANDU, KOLKATA, LORD_HOWE, BERLIN = (
    "Pacific/Chatham",
    "Asia/Kathmandu",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Europe/Berlin",
)
ZONES = ("UTC", CHATHAM, KATHMANDU, KOLKATA, LORD_HOWE, BERLIN)
# The UTC instants of 2026's DST changes in those zones.
CHANGES = (
    datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # Berlin, spring forward
    datetime(2026, 4, 4, 14, 0, tzinfo=UTC),  # Chatham, fall back (03:45 -> 02:45)
    datetime(2026, 4, 4, 15, 0, tzinfo=UTC),  # Lord Howe, fall back (02:00 -> 01:30)
    datetime(2026, 9, 26, 14, 0, tzinfo=UTC),  # Chatham, spring forward (02:45 -> 03:45)
    datetime(2026, 10, 3, 15, 30, tzinfo=UTC),  # Lord Howe, spring forward (02:00 -> 02:30)
    datetime(2026, 10, 25, 1, 0, tzinfo=UTC),  # Berlin, fall back
)
DAY = timedelta(days=1)


def changes_of(tz: str) -> tuple[datetime, ...]:
    """The instants in CHANGES when tz changes its offset (all of them for a zone without
    DST: each is some other zone's odd moment)."""
    zone = ZoneInfo(tz)
    own = tuple(
        c
        for c in CHANGES
        if (c - timedelta(seconds=1)).astimezone(zone).utcoffset() != c.astimezone(zone).utcoffset()
    )
    return own or CHANGES


def moments(anchor: datetime, *, spread_hours: int = 36) -> st.SearchStrategy[datetime]:
    """Instants near an anchor, many right at or around it (the change itself)."""
    near = st.integers(-3, 3).map(lambda s: anchor + timedelta(seconds=s))
    seconds = spread_hours * 3600
    around = st.integers(-seconds, seconds).map(lambda s: anchor + timedelta(seconds=s))
    return st.one_of(near, around, around)


def edges(first: date, last: date, tz: str) -> st.SearchStrategy[datetime]:
    """Instants at and near a period's two edges, the local midnights that open `first` and
    close `last` in tz: a second either side, or within two hours (a report whose range is
    off by a second or by an hour counts some of them wrongly)."""
    zone = ZoneInfo(tz)
    opens = datetime.combine(first, datetime.min.time(), zone).astimezone(UTC)
    closes = datetime.combine(last + timedelta(days=1), datetime.min.time(), zone).astimezone(UTC)
    edge = st.sampled_from((opens, closes))
    return st.one_of(
        st.builds(lambda e, s: e + timedelta(seconds=s), edge, st.integers(-1, 1)),
        st.builds(lambda e, s: e + timedelta(seconds=s), edge, st.integers(-7200, 7200)),
    )


def add_users(internal: Iterable[bool], prefix: str) -> list[int]:
    """Users <prefix>0@example.com ... with the given is_internal flags; their ids, committed."""
    users = [
        User(email=f"{prefix}{i}@example.com", password_hash="x", display_name=prefix,
             is_internal=flag)
        for i, flag in enumerate(internal)
    ]
    db.session.add_all(users)
    db.session.commit()
    return [user.id for user in users]


# ---- persons: users and anonymous ids ---------------------------------------------------
# An event's actor is a user index (0, 1, ...) or an anonymous id, -1 - k for "anon-k". Its
# person is the user an anonymous id is linked to, or the anonymous id itself.
ANONYMOUS_IDS = 3
Links = dict[int, int]  # anonymous index k -> user index


def actors(users: int) -> st.SearchStrategy[int]:
    """A user index or an anonymous actor (about a third of the draws)."""
    return st.integers(-ANONYMOUS_IDS, users - 1)


def links(users: int) -> st.SearchStrategy[Links]:
    return st.dictionaries(st.integers(0, ANONYMOUS_IDS - 1), st.integers(0, users - 1))


def anonymous_id(actor: int) -> str | None:
    return None if actor >= 0 else f"anon-{-1 - actor}"


def person(actor: int, known: Links) -> int:
    """The actor's person: a user index, or the (negative) anonymous actor if unlinked."""
    return actor if actor >= 0 else known.get(-1 - actor, actor)


def is_internal(person_index: int, internal: list[bool] | tuple[bool, ...]) -> bool:
    return person_index >= 0 and internal[person_index]


def store_links(new: Links, known: Links, user_ids: list[int]) -> None:
    """Link the anonymous ids not linked yet (the first link stands); `known` follows."""
    for k, user in sorted(new.items()):
        if k not in known:
            known[k] = user
            db.session.add(
                AnonymousIdentity(
                    anonymous_id=f"anon-{k}", user_id=user_ids[user], linked_by="login"
                )
            )
    db.session.commit()


def forget_links(known: Links, user: int) -> Links:
    """The links left once a user is erased (theirs go with them)."""
    return {k: u for k, u in known.items() if u != user}


def rollup_modes() -> tuple[bool, ...]:
    """The `rollup` values to ask a report for (in an app context). On the app database both:
    the rollup path and the raw scan. On ClickHouse only True, the one production passes:
    its reports read its raw events and never look at `rollup`, so a second call with False
    would repeat the same queries (and cost a chDB variant a third of its time)."""
    return (True,) if store.active() else (True, False)


def empty_tables() -> None:
    """Every table emptied (rollups and watermarks too): each hypothesis example starts
    clean, as each test does."""
    db.session.rollback()
    db.session.close()
    svc.empty_all_tables(db.engine, Base.metadata)
    empty_store()


def local_date(moment: datetime, tz: str) -> date:
    return moment.astimezone(ZoneInfo(tz)).date()


def dates(first: date, last: date) -> Iterable[date]:
    day = first
    while day <= last:
        yield day
        day += DAY


def week_of(day: date, week_start: str) -> date:
    back = day.weekday() if week_start == "monday" else (day.weekday() + 1) % 7
    return day - timedelta(days=back)


def hour_start(moment: datetime, tz: str) -> datetime:
    """The UTC instant the local hour of `moment` began, at moment's own offset."""
    local = moment.astimezone(ZoneInfo(tz))
    return moment - timedelta(
        minutes=local.minute, seconds=local.second, microseconds=local.microsecond
    )


def hour_buckets(tz: str, first: date, last: date) -> list[tuple[datetime, datetime, str]]:
    """(hour start, end, label) of each hour bucket of the local dates first..last: every
    minute of those days, grouped by hour_start; a bucket is labelled by its first minute,
    in local time with its offset."""
    zone = ZoneInfo(tz)
    minute = datetime(first.year, first.month, first.day, tzinfo=UTC) - DAY
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + 2 * DAY
    buckets: dict[datetime, list[datetime]] = {}
    while minute < end:
        if first <= minute.astimezone(zone).date() <= last:
            buckets.setdefault(hour_start(minute, tz), []).append(minute)
        minute += timedelta(minutes=1)
    return [
        (key, minutes[-1] + timedelta(minutes=1), minutes[0].astimezone(zone).isoformat())
        for key, minutes in buckets.items()
    ]


def bucket_labels(
    tz: str, first: date, last: date, interval: str, week_start: str, now: datetime
) -> list[tuple[str, bool]]:
    """(label, partial) of every bucket of the local dates first..last."""
    if interval == "hour":
        return [(label, end > now) for _, end, label in hour_buckets(tz, first, last)]
    today = local_date(now, tz)
    seen: list[tuple[str, bool]] = []
    for day in dates(first, last):
        label = bucket_of_date(day, interval, week_start)
        if not seen or seen[-1][0] != label:
            seen.append((label, label >= bucket_of_date(today, interval, week_start)))
    return seen


def bucket_of_date(day: date, interval: str, week_start: str) -> str:
    if interval == "week":
        return week_of(day, week_start).isoformat()
    if interval == "month":
        return day.replace(day=1).isoformat()
    return day.isoformat()


def labeller(tz: str, first: date, last: date, interval: str, week_start: str) -> Any:
    """moment -> the label of its bucket, for moments on the local dates first..last."""
    if interval == "hour":
        labels = {key: label for key, _, label in hour_buckets(tz, first, last)}
        return lambda moment: labels[hour_start(moment, tz)]
    return lambda moment: bucket_of_date(local_date(moment, tz), interval, week_start)


def percentile_cont(values: list[float], fraction: float) -> float | None:
    """PostgreSQL's percentile_cont: linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def settings_kwargs(max_examples: int) -> dict[str, Any]:
    """Deterministic (derandomize, no example database), no time limits, and no shrinking:
    each example is a database round trip, and a failure prints its example as drawn."""
    return {
        "max_examples": max_examples,
        "deadline": None,
        "derandomize": True,
        "database": None,
        "phases": [Phase.explicit, Phase.generate],
        "suppress_health_check": [
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    }


# ---- context: the filters and breakdown every report takes (insights/context.py) --------
ANY = "any"  # no filter on the platform
PLATFORMS = (None, "ios", "android")  # an event's platform (None: sent without one)


def platforms() -> st.SearchStrategy[str | None]:
    return st.sampled_from(PLATFORMS)


@dataclass(frozen=True)
class ContextAsk:
    """A report's context parameters: a platform filter (ANY: none; None: the events sent
    without one), identified (None: either), and a breakdown (platform or identified)."""

    platform: str | None = ANY
    identified: bool | None = None
    breakdown: str | None = None

    def context(self) -> ContextFilter:
        """The production filter this ask is (the reports' input)."""
        columns = () if self.platform == ANY else (("platform", self.platform),)
        return ContextFilter(columns=columns, identified=self.identified)

    def keeps(self, platform: str | None, identified: bool) -> bool:
        """Whether an event (its platform, whether its person has a user) is read."""
        return (self.platform == ANY or platform == self.platform) and (
            self.identified is None or identified == self.identified
        )

    def value(self, platform: str | None, identified: bool) -> str | None:
        if self.breakdown == "identified":
            return "identified" if identified else "anonymous"
        return platform

    def values(self, seen: Iterable[tuple[str | None, bool]]) -> list[str | None]:
        """The breakdown's groups from (platform, identified) of the events in the range:
        the most frequent first, the empty value last of equal counts, then by text."""
        counts: dict[str | None, int] = {}
        for platform, identified in seen:
            if self.keeps(platform, identified):
                value = self.value(platform, identified)
                counts[value] = counts.get(value, 0) + 1
        return sorted(counts, key=lambda v: (-counts[v], v is None, v or ""))[:10]

    def narrowed(self, value: str | None) -> ContextAsk:
        """The filter of a breakdown group."""
        if self.breakdown == "identified":
            return ContextAsk(self.platform, value == "identified")
        return ContextAsk(value, self.identified)


EVERYTHING = ContextAsk()


def context_asks() -> st.SearchStrategy[ContextAsk]:
    return st.builds(
        ContextAsk,
        st.sampled_from((ANY, ANY, "ios", "android", None)),
        st.sampled_from((None, True, False)),
        st.sampled_from((None, "platform", "identified")),
    )


def assert_sliced(
    sliced: Any,
    got: Any,
    expect: Any,
    ask: ContextAsk,
    seen: Iterable[tuple[str | None, bool]],
    note: Any,
    same: Any = operator.eq,
) -> None:
    """A breakdown.run result against the reference: `got(report)` (the production answer,
    comparable) is `same` as `expect(ask)` (the reference over the events `ask` keeps), as
    filtered and for each group, and the groups are those `ask.values` finds."""
    assert same(got(sliced.report), expect(ask)), (note, ask)
    if ask.breakdown is None:
        assert sliced.groups is None
        return
    assert [g.value for g in sliced.groups] == ask.values(seen), (note, ask)
    for group in sliced.groups:
        wanted = expect(ask.narrowed(group.value))
        assert same(got(group.report), wanted), (note, ask, group.value)
