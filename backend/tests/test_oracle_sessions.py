"""Sessions against a plain-Python reference: persons made of users and their linked
anonymous ids (a link arriving later merges the history), client session ids and the gap
rule (gaps at exactly the gap, a second either side), every interval, odd zones and DST
days, late arrivals and erasure; filtered and broken down by platform and identified (a
session made of the kept events only); on both databases."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app import clock
from app.extensions import db
from app.models import AnalyticsEvent, AnonymousIdentity, User
from app.services.insights import breakdown
from app.services.insights.params import build_period, local_midnight
from app.services.insights.reports import sessions
from app.services.privacy import erasure as erasure_service
from tests.oracle_support import (
    EVERYTHING,
    ZONES,
    ContextAsk,
    add_users,
    assert_sliced,
    bucket_labels,
    changes_of,
    context_asks,
    empty_tables,
    labeller,
    moments,
    percentile_cont,
    platforms,
    settings_kwargs,
)

# About 110 s on one worker, under load: started first (conftest.py, `heavy`).
pytestmark = pytest.mark.heavy(110)

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
REACH = timedelta(hours=24)
# (user index or None, anonymous index or None, client session id or None, occurred_at,
# platform)
Event = tuple[int | None, int | None, str | None, datetime, str | None]


def reference(
    events: list[Event],
    links: dict[int, int],
    internal: list[bool],
    *,
    tz: str,
    first: date,
    last: date,
    interval: str,
    week_start: str,
    include_internal: bool,
    gap: timedelta,
    context: ContextAsk = EVERYTHING,
) -> list[tuple[Any, ...]]:
    """Per bucket: (label, partial, sessions, anonymous, median, p90, mean events, single,
    share). Events within REACH of the range that `context` keeps; a person is a user with
    their linked anonymous ids, or an unlinked anonymous id; sessions by client id, else by
    gaps."""
    zone_start = local_midnight(first, ZoneInfo(tz))
    zone_end = local_midnight(last + timedelta(days=1), ZoneInfo(tz))
    runs: dict[tuple[Any, ...], list[datetime]] = defaultdict(list)
    for user, anon, sid, moment, platform in events:
        if not zone_start - REACH <= moment < zone_end + REACH:
            continue
        owner = user if user is not None else links.get(anon)  # type: ignore[arg-type]
        if not context.keeps(platform, owner is not None):
            continue
        if owner is not None and internal[owner] and not include_internal:
            continue
        person = ("u", owner) if owner is not None else ("a", anon)
        runs[(person, sid)].append(moment)
    found: list[tuple[datetime, float, int, bool]] = []  # start, length, events, anonymous
    for (person, sid), times in runs.items():
        times.sort()
        groups = [[times[0]]]
        for moment in times[1:]:
            if sid is None and moment - groups[-1][-1] >= gap:
                groups.append([moment])
            else:
                groups[-1].append(moment)
        for group in groups:
            length = (group[-1] - group[0]).total_seconds()
            found.append((group[0], length, len(group), person[0] == "a"))
    label_of = labeller(tz, first, last, interval, week_start)
    by_label: dict[str, list[tuple[datetime, float, int, bool]]] = defaultdict(list)
    for session in found:
        if zone_start <= session[0] < zone_end:
            by_label[label_of(session[0])].append(session)
    rows = []
    for label, partial in bucket_labels(tz, first, last, interval, week_start, NOW):
        got = by_label.get(label, [])
        if not got:
            rows.append((label, partial, 0, 0, None, None, None, 0, None))
            continue
        lengths = [g[1] for g in got]
        single = sum(1 for g in got if g[2] == 1)
        rows.append(
            (
                label,
                partial,
                len(got),
                sum(1 for g in got if g[3]),
                percentile_cont(lengths, 0.5),
                percentile_cont(lengths, 0.9),
                round(sum(g[2] for g in got) / len(got), 4),
                single,
                round(single / len(got), 4),
            )
        )
    return rows


def _times(anchor: datetime, gap: timedelta) -> st.SearchStrategy[datetime]:
    """Around the anchor, and at multiples of the gap from it, a second either side."""
    steps = st.builds(
        lambda k, s, us: anchor + k * gap + timedelta(seconds=s, microseconds=us),
        st.integers(-6, 6),
        st.sampled_from((-1, 0, 0, 0, 1)),
        st.sampled_from((0, 0, 0, 1, 999_999)),
    )
    return st.one_of(steps, steps, moments(anchor, spread_hours=40))


@st.composite
def _scenario(draw: Any) -> dict[str, Any]:
    tz = draw(st.sampled_from(ZONES))
    anchor = draw(st.sampled_from(changes_of(tz)))
    # 10 hours: runs long enough to cross the range's edges and REACH.
    gap = timedelta(minutes=draw(st.sampled_from((30, 30, 5, 600))))
    internal = draw(st.lists(st.booleans(), min_size=1, max_size=3))
    anons = 2
    actor = st.one_of(
        st.tuples(st.integers(0, len(internal) - 1), st.none() | st.integers(0, anons - 1)),
        st.tuples(st.none(), st.integers(0, anons - 1)),
    )
    event = st.builds(
        lambda a, sid, t, platform: (a[0], a[1], sid, t, platform),
        actor,
        st.sampled_from((None, None, None, "s1", "s2")),
        _times(anchor, gap),
        platforms(),
    )
    link = st.dictionaries(st.integers(0, anons - 1), st.integers(0, len(internal) - 1))
    interval = draw(st.sampled_from(("hour", "day", "week", "month")))
    days = draw(st.integers(1, 2) if interval == "hour" else st.integers(1, 5))
    local = anchor.astimezone(ZoneInfo(tz)).date()
    start = local - timedelta(days=draw(st.integers(0, days)))
    return {
        "tz": tz,
        "gap": gap,
        "internal": internal,
        "events": draw(st.lists(event, max_size=30)),
        "late": draw(st.lists(event, max_size=8)),
        "links": draw(link),
        "late_links": draw(link),
        "erase": draw(st.none() | st.integers(0, len(internal) - 1)),
        "interval": interval,
        "week_start": draw(st.sampled_from(("monday", "sunday"))),
        "include_internal": draw(st.booleans()),
        "first": start,
        "last": start + timedelta(days=days - 1),
        "context": draw(context_asks()),
    }


def _insert(events: list[Event], user_ids: list[int], received: datetime) -> None:
    db.session.add_all(
        AnalyticsEvent(
            user_id=None if user is None else user_ids[user],
            anonymous_id=None if anon is None else f"anon-{anon}",
            session_id=sid,
            event_type="app_opened",
            event_data={},
            occurred_at=moment,
            created_at=received,
            platform=platform,
        )
        for user, anon, sid, moment, platform in events
    )
    db.session.commit()


def _link(links: dict[int, int], known: dict[int, int], user_ids: list[int]) -> None:
    """New links only: the first link of an anonymous id stands."""
    for anon, user in links.items():
        if anon not in known:
            known[anon] = user
            db.session.add(
                AnonymousIdentity(
                    anonymous_id=f"anon-{anon}", user_id=user_ids[user], linked_by="login",
                    linked_at=NOW,
                )
            )
    db.session.commit()


def _got(result: sessions.SessionsResult) -> list[tuple[Any, ...]]:
    return [
        (
            p.start, p.partial, p.sessions, p.anonymous_sessions, p.median_seconds,
            p.p90_seconds, p.mean_events, p.single_event_sessions, p.single_event_share,
        )
        for p in result.points
    ]


def _same(got: list[tuple[Any, ...]], want: list[tuple[Any, ...]]) -> bool:
    if len(got) != len(want):
        return False
    for g, w in zip(got, want, strict=True):
        for a, b in zip(g, w, strict=True):
            if isinstance(b, float) and not isinstance(b, bool):
                if a is None or a != pytest.approx(b, abs=2e-6):
                    return False
            elif a != b:
                return False
    return True


def test_sessions_equal_the_reference(app):
    @settings(**settings_kwargs(40))
    @given(scenario=_scenario())
    def check(scenario: dict[str, Any]) -> None:
        s = scenario
        with app.app_context():
            empty_tables()
            clock.set_clock(lambda: NOW)
            user_ids = add_users(s["internal"], "s")
            known: dict[int, int] = {}
            _link(s["links"], known, user_ids)
            events = list(s["events"])
            _insert(events, user_ids, NOW - timedelta(days=1))
            period = build_period(
                tz=s["tz"], start=s["first"], end=s["last"], interval=s["interval"],
                week_start=s["week_start"], include_internal=s["include_internal"],
            )
            gap_minutes = int(s["gap"].total_seconds() // 60)

            def compare(when: str) -> None:
                want = reference(
                    events, known, s["internal"], tz=period.tz, first=period.start_date,
                    last=period.end_date, interval=period.interval,
                    week_start=period.week_start, include_internal=period.include_internal,
                    gap=s["gap"],
                )
                got = _got(sessions.run(period=period, gap_minutes=gap_minutes))
                assert _same(got, want), (when, got, want)
                # The drawn filter and breakdown (a session: of the kept events only).
                ask: ContextAsk = s["context"]
                seen = []
                for user, anon, _sid, moment, platform in events:
                    owner = user if user is not None else known.get(anon)  # type: ignore[arg-type]
                    if period.utc_start <= moment < period.utc_end and (
                        owner is None or period.include_internal or not s["internal"][owner]
                    ):
                        seen.append((platform, owner is not None))
                sliced = breakdown.run(
                    lambda c: sessions.run(period=period, gap_minutes=gap_minutes, context=c),
                    context=ask.context(), breakdown_property=ask.breakdown, period=period,
                )
                assert_sliced(
                    sliced, _got,
                    lambda c: reference(
                        events, known, s["internal"], tz=period.tz, first=period.start_date,
                        last=period.end_date, interval=period.interval,
                        week_start=period.week_start, include_internal=period.include_internal,
                        gap=s["gap"], context=c,
                    ),
                    ask, seen, when, same=_same,
                )

            compare("first")
            # Late events, and links made later: the anonymous history joins its user.
            _insert(s["late"], user_ids, NOW)
            events += s["late"]
            _link(s["late_links"], known, user_ids)
            compare("late")
            if s["erase"] is not None:
                erasure_service.erase_user(user_id=user_ids[s["erase"]], requested_by="admin")
                gone = {a for a, u in known.items() if u == s["erase"]}
                events = [
                    e for e in events
                    if e[0] != s["erase"] and not (e[0] is None and e[1] in gone)
                ]
                known = {a: u for a, u in known.items() if u != s["erase"]}
                compare("erased")
            clock.set_clock(None)

    check()


def test_a_session_spanning_sign_up_is_one_session(app):
    """Anonymous events, then the same device's user after the link: one session."""
    with app.app_context():
        empty_tables()
        user = User(email="a@example.com", password_hash="x", display_name="a")
        db.session.add(user)
        db.session.commit()
        t0 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
        _insert(
            [(None, 0, None, t0, None), (None, 0, None, t0 + timedelta(minutes=10), None)],
            [user.id], t0,
        )
        _insert([(0, None, None, t0 + timedelta(minutes=20), None)], [user.id], t0)
        period = build_period(tz="UTC", start=date(2026, 5, 1), end=date(2026, 5, 1))
        before = sessions.run(period=period, gap_minutes=30).points[0]
        assert (before.sessions, before.anonymous_sessions) == (2, 1)
        _link({0: 0}, {}, [user.id])
        after = sessions.run(period=period, gap_minutes=30).points[0]
        assert (after.sessions, after.anonymous_sessions, after.median_seconds) == (1, 0, 1200)
        assert after.mean_events == 3 and after.single_event_sessions == 0


def test_a_gap_of_exactly_the_gap_starts_a_session_and_client_ids_ignore_gaps(app):
    with app.app_context():
        empty_tables()
        user = User(email="g@example.com", password_hash="x", display_name="g")
        db.session.add(user)
        db.session.commit()
        t0 = datetime(2026, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
        gap = timedelta(minutes=30)
        under = t0 + gap - timedelta(microseconds=1)
        _insert(
            [
                (0, None, None, t0, None),
                (0, None, None, under, None),  # just under the gap: the same session
                (0, None, None, under + gap, None),  # exactly the gap: a new one
                (0, None, "c", t0, None),  # a client session id: one session whatever the gaps
                (0, None, "c", t0 + 5 * gap, None),
            ],
            [user.id],
            t0,
        )
        period = build_period(tz="UTC", start=date(2026, 5, 1), end=date(2026, 5, 1))
        point = sessions.run(period=period, gap_minutes=30).points[0]
        assert point.sessions == 3
        assert point.single_event_sessions == 1
        assert point.median_seconds == 1799.999999
        assert point.p90_seconds == pytest.approx(1799.999999 + 0.8 * 7200.000001)
