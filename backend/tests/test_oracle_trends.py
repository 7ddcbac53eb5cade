"""Trends against a plain-Python reference: every interval (hour, day, week from monday or
sunday, month), with and without a breakdown (an event_data key, or the context column
platform, which holds the same text), with compare=previous; events around DST
changes in zones with odd offsets, late arrivals and erasure; users counted as persons
(anonymous ids linked to users, some late, some never); through the activity rollup
(daily, no breakdown) and raw rows; with a drawn context filter (platform, identified),
on both databases and stores."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app import clock
from app.extensions import db
from app.models import AnalyticsEvent
from app.services.insights.params import build_period
from app.services.insights.reports import trends
from app.services.privacy import erasure as erasure_service
from tests.oracle_support import (
    ANY,
    EVERYTHING,
    ZONES,
    ContextAsk,
    Links,
    actors,
    add_users,
    anonymous_id,
    bucket_labels,
    changes_of,
    dates,
    edges,
    empty_tables,
    forget_links,
    is_internal,
    labeller,
    links,
    local_date,
    moments,
    person,
    rollup_modes,
    settings_kwargs,
    store_links,
)

# About 95 s on one worker, under load: started first (conftest.py, `heavy`).
pytestmark = pytest.mark.heavy(95)

TYPES = ["app_opened", "plan_viewed"]
NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
MISSING = object()  # the key absent from event_data
Event = tuple[int, str, datetime, Any]  # actor (oracle_support), type, occurred_at, value of "v"


def _json_text(value: Any) -> str | None:
    """event_data ->> 'v': absent and null are None; true is "true", 1 is "1"."""
    if value is MISSING or value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def expected(
    events: list[Event],
    internal: list[bool],
    known: Links,
    *,
    tz: str,
    first: date,
    last: date,
    interval: str,
    week_start: str,
    breakdown: bool,
    include_internal: bool,
    top: list[str] | None = None,
    context: ContextAsk = EVERYTHING,
) -> dict[tuple[str, str | None, bool], list[tuple[str, bool, int, int]]]:
    """{(type, value, other): [(bucket, partial, events, users)]}: the events whose local
    date in tz is first..last and that `context` keeps (platform holds the value's text),
    per bucket; `top` the breakdown values of the reported period (the others are
    `other`); users are persons (`known`: the links)."""
    label_of = labeller(tz, first, last, interval, week_start)
    kept = [
        (person(e[0], known), *e[1:])
        for e in events
        if first <= local_date(e[2], tz) <= last
        and (include_internal or not is_internal(person(e[0], known), internal))
        and context.keeps(_json_text(e[3]), person(e[0], known) >= 0)
    ]
    if breakdown and top is None:
        top = sorted({v for *_, value in kept if (v := _json_text(value)) is not None})
    cells: dict[tuple[str, str | None, bool], dict[str, list[int]]] = defaultdict(dict)
    for user, kind, moment, value in kept:
        if breakdown:
            text = _json_text(value)
            other = text is not None and text not in (top or [])
            name = (kind, None if other else text, other)
        else:
            name = (kind, None, False)
        cells[name].setdefault(label_of(moment), []).append(user)
    if not breakdown:
        for kind in TYPES:
            cells.setdefault((kind, None, False), {})
    labels = bucket_labels(tz, first, last, interval, week_start, NOW)
    return {
        name: [
            (label, partial, len(by.get(label, [])), len(set(by.get(label, []))))
            for label, partial in labels
        ]
        for name, by in cells.items()
    }


def _got(series: list[trends.TrendSeries]) -> dict[Any, list[tuple[str, bool, int, int]]]:
    return {
        (s.event_type, s.value, s.other): [
            (p.start, p.partial, p.events, p.users) for p in s.points
        ]
        for s in series
    }


def _events(when: st.SearchStrategy[datetime], users: int) -> st.SearchStrategy[list[Event]]:
    value = st.sampled_from([MISSING, None, "a", "b", 1, True])
    event = st.tuples(actors(users), st.sampled_from(TYPES), when, value)
    return st.lists(event, max_size=30)


@st.composite
def _scenario(draw: Any) -> dict[str, Any]:
    tz = draw(st.sampled_from(ZONES))
    anchor = draw(st.sampled_from(changes_of(tz)))
    internal = draw(st.lists(st.booleans(), min_size=2, max_size=4))
    interval = draw(st.sampled_from(("hour", "day", "week", "month")))
    days = draw(st.integers(1, 3) if interval == "hour" else st.integers(1, 12))
    first = local_date(anchor, tz) - timedelta(days=draw(st.integers(0, days)))
    last = first + timedelta(days=days - 1)
    # Around the zone's change, and at the period's edges (an off-by-one-second or
    # off-by-an-hour range miscounts those).
    when = st.one_of(moments(anchor), edges(first, last, tz))
    return {
        "internal": internal,
        "events": draw(_events(when, len(internal))),
        "late": draw(_events(when, len(internal))),
        "links": draw(links(len(internal))),
        "late_links": draw(links(len(internal))),
        "erase": draw(st.none() | st.integers(0, len(internal) - 1)),
        "tz": tz,
        "interval": interval,
        "week_start": draw(st.sampled_from(("monday", "sunday"))),
        "breakdown": draw(st.sampled_from((None, "v", "platform"))),
        "compare": draw(st.booleans()),
        "context": draw(st.builds(ContextAsk, st.sampled_from((ANY, ANY, "a", None)),
                                  st.sampled_from((None, None, True, False)))),
        "include_internal": draw(st.booleans()),
        "first": first,
        "last": last,
    }


def _insert(events: list[Event], user_ids: list[int], received: datetime) -> None:
    db.session.add_all(
        AnalyticsEvent(
            user_id=None if actor < 0 else user_ids[actor],
            anonymous_id=anonymous_id(actor),
            event_type=kind,
            event_data={} if value is MISSING else {"v": value},
            # The context column holds the text event_data ->> 'v' gives: one reference.
            platform=_json_text(value),
            occurred_at=moment,
            created_at=received,
        )
        for actor, kind, moment, value in events
    )
    db.session.commit()


def test_trends_equal_the_reference(store_app):
    app = store_app

    @settings(**settings_kwargs(25))
    @given(scenario=_scenario())
    def check(scenario: dict[str, Any]) -> None:
        s = scenario
        with app.app_context():
            empty_tables()
            clock.set_clock(lambda: NOW)
            user_ids = add_users(s["internal"], "t")
            known: Links = {}
            store_links(s["links"], known, user_ids)
            events = list(s["events"])
            _insert(events, user_ids, NOW - timedelta(days=1))
            period = build_period(
                tz=s["tz"],
                start=s["first"],
                end=s["last"],
                interval=s["interval"],
                week_start=s["week_start"],
                include_internal=s["include_internal"],
            )
            args = {
                "tz": period.tz,
                "interval": period.interval,
                "week_start": period.week_start,
                "breakdown": s["breakdown"] is not None,
                "include_internal": period.include_internal,
                "context": s["context"],
            }

            def compare(when: str) -> None:
                current = expected(
                    events, s["internal"], known, first=period.start_date, last=period.end_date,
                    **args,
                )
                top = sorted({v for (_, v, other) in current if v is not None and not other})
                before = period.previous()
                previous = expected(
                    events,
                    s["internal"],
                    known,
                    first=before.start_date,
                    last=before.end_date,
                    top=top if s["breakdown"] else None,
                    **args,
                )
                for rollup in rollup_modes():
                    result = trends.run(
                        period=period,
                        event_types=TYPES,
                        breakdown="v" if s["breakdown"] == "v" else None,
                        breakdown_property="platform" if s["breakdown"] == "platform" else None,
                        compare_previous=s["compare"],
                        context=s["context"].context(),
                        rollup=rollup,
                    )
                    assert _got(result.series) == current, (when, rollup)
                    if s["compare"]:
                        assert result.previous is not None
                        assert _got(result.previous) == previous, (when, rollup, "previous")

            compare("first")
            # Late arrivals: received now, occurred days ago, after the reports above ran;
            # links made now join anonymous histories already counted to their users.
            _insert(s["late"], user_ids, NOW)
            events += s["late"]
            store_links(s["late_links"], known, user_ids)
            compare("late")
            if s["erase"] is not None:
                erasure_service.erase_user(user_id=user_ids[s["erase"]], requested_by="admin")
                events = [e for e in events if person(e[0], known) != s["erase"]]
                known = forget_links(known, s["erase"])
                compare("erased")
            clock.set_clock(None)

    check()


def test_the_reference_covers_every_day_once():
    """The reference's buckets themselves: each local date of a range in one bucket."""
    for tz in ZONES:
        first, last = date(2026, 3, 27), date(2026, 4, 6)
        labels = [label for label, _ in bucket_labels(tz, first, last, "day", "monday", NOW)]
        assert labels == [d.isoformat() for d in dates(first, last)]
