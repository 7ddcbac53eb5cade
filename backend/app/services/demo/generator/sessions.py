"""The members' sessions, day by day, and the events, completions and likes they leave.

The simulation walks the range one day (24 hours) at a time. Each session decides the
member's next one: the next challenge day they turn up for (until their last day), or
after the challenge a casual visit some days later. A session on challenge day k happens
on the local date start_date + k - 1, so a day is never completed before it unlocks, nor
before the join; sometimes yesterday's missed day is completed too.

`Simulation.census()` runs it once to count the events every session must hold and to
weigh the sessions; `Emitter` runs it again (same seed, same sessions) and spreads the
remaining budget over them by weight, so the total is exactly what was asked.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from app.services.demo.generator.people import DAY_US, Calendar, ChallengeInfo, Member, S
from app.services.demo.generator.sinks import NO_DEVICE, Row, Writer, uuid4
from app.services.demo.installs import CONTEXT_TYPES

FREE, PLAN, JOIN = 0, 1, 2
# t_us, member, kind, challenge day (FREE: local date ordinal), catch-up day, completes, weight
Session = tuple[int, Member, int, int, int, bool, int]
Put = Callable[[int, Member, int, int], None]
# seconds after the session's start, event type, event data, the row it also writes (or None)
Item = tuple[float, str, str, Row | None]
SCREENS = ("home", "plan", "videos", "progress", "profile", "settings")
_SERVER_TYPES = frozenset({"plan_viewed", "plan_completed", "challenge_joined", "video_liked"})


@dataclass
class Census:
    sessions: int = 0
    mandatory: int = 0  # events the sessions hold whatever the budget
    weight: int = 0  # the sum of session weights, over which the other events are spread


class Simulation:
    """The seeded course of every member's sessions; a second run yields the same ones."""

    def __init__(self, members: list[Member], cal: Calendar, start_us: int, now_us: int,
                 key: str) -> None:
        self.members, self.cal, self.start_us, self.now_us, self.key = (
            members, cal, start_us, now_us, key)

    def census(self) -> Census:
        census = Census()
        for sessions in self.days():
            for _t, _m, kind, _n, catch, completes, weight in sessions:
                census.sessions += 1
                census.weight += weight
                census.mandatory += 1 + (kind == JOIN) + (2 if catch else 0)
                census.mandatory += (1 + completes) if kind != FREE else 0
        return census

    def days(self) -> Iterator[list[Session]]:
        """The sessions of each 24 hours from the start (in no order within the day)."""
        rng = random.Random(self.key)
        buckets: list[list[tuple[int, Member, int, int]]] = [
            [] for _ in range((self.now_us - self.start_us) // DAY_US + 1)
        ]

        def put(t: int, m: Member, kind: int, n: int) -> None:
            if self.start_us <= t <= self.now_us:
                buckets[(t - self.start_us) // DAY_US].append((t, m, kind, n))

        for m in self.members:
            m.done = 0
            if m.opens:
                put(m.signup_us, m, FREE, m.signup_ord)
            if m.join_us is not None:
                put(m.join_us, m, JOIN, 1)
        for bucket in buckets:
            sessions = []
            i = 0
            while i < len(bucket):  # a session may put the next one later the same day
                sessions.append(self._visit(rng, put, *bucket[i]))
                i += 1
            bucket.clear()
            yield sessions

    def _visit(self, rng: random.Random, put: Put, t: int, m: Member, kind: int,
               n: int) -> Session:
        weight = m.weight * rng.randint(1, 4)
        if kind == FREE:
            # Before a late join the challenge takes over; after the challenge, carry on.
            until = m.join_us if m.join_us is not None and t < m.join_us else None
            self._casual(rng, put, m, n, until)
            return (t, m, kind, n, 0, False, weight)
        completes = rng.random() < m.complete
        missed = n > 1 and not m.done >> (n - 1) & 1
        catch = n - 1 if missed and rng.random() < 0.3 else 0
        m.done |= (completes << n) | ((1 << catch) if catch else 0)
        following = next((j for j in range(n + 1, m.last_day + 1) if rng.random() < m.attend), 0)
        if following:
            put(self.cal.at(rng, m, m.start_ord + following - 1), m, PLAN, following)
        else:
            self._casual(rng, put, m, m.start_ord + n - 1, None)
        return (t, m, kind, n, catch, completes, weight)

    def _casual(self, rng: random.Random, put: Put, m: Member, ordinal: int,
                until: int | None) -> None:
        """The next casual visit, a geometric gap away at the member's revisit rate."""
        if m.revisit <= 0:
            return
        gap = 1 + int(math.log(1.0 - rng.random()) / math.log(1.0 - m.revisit))
        if gap > 400:
            return
        t = self.cal.at(rng, m, ordinal + gap)
        if until is None or t < until:
            put(t, m, FREE, ordinal + gap)


class Emitter:
    """Turns sessions into event rows (sorted by receive time per day), completions and
    likes; remembers who was active on which UTC day from `active_since` on."""

    def __init__(self, *, key: str, writer: Writer, now_us: int, active_since: int,
                 extra: int, weight: int, max_rows: int) -> None:
        self.rng = random.Random(key)
        self.writer, self.now_us, self.active_since = writer, now_us, active_since
        self.extra, self.weight, self.spent, self.max_rows = extra, max(weight, 1), 0, max_rows
        self.liked: set[tuple[int, int]] = set()
        self.active: dict[int, list[int]] = {}  # UTC day number -> users with a session

    def run(self, simulation: Simulation, installs: Iterator[Row] | None = None) -> None:
        """The sessions' rows, day by day, with the installs' anonymous rows (in time
        order) of the same day."""
        installs = installs if installs is not None else iter(())
        rows: list[Row] = []
        waiting = next(installs, None)
        day_end = simulation.start_us
        for sessions in simulation.days():
            day_end += DAY_US
            for s in sessions:
                before = self.spent * self.extra // self.weight
                self.spent += s[6]
                self._session(s, self.spent * self.extra // self.weight - before, rows)
                if len(rows) >= self.max_rows:  # an unusually full day: bound the memory
                    self._flush(rows)
            while waiting is not None and waiting[5] < day_end:
                rows.append(waiting)
                waiting = next(installs, None)
            self._flush(rows)
        while waiting is not None:
            rows.append(waiting)
            waiting = next(installs, None)
        self._flush(rows)

    def _flush(self, rows: list[Row]) -> None:
        rows.sort(key=itemgetter(3))  # receive order, in which a live table hands out ids
        self.writer.add("analytics_events", rows)
        rows.clear()

    def _session(self, s: Session, extra: int, rows: list[Row]) -> None:
        t0, m, kind, day, catch, completes, _weight = s
        rng = self.rng
        items: list[Item] = [(1.0, "app_opened", "{}", None)]
        at = 1.0 + rng.uniform(5, 40)
        video: tuple[int, int] | None = None
        if kind == FREE:
            if m.challenge is not None:  # rewatching a video of their challenge
                _pid, vid, secs = m.challenge.plans[rng.randint(1, m.challenge.days)]
                video = (vid, secs) if vid is not None else None
        else:
            ch = m.challenge
            assert ch is not None
            if kind == JOIN:
                data = json.dumps({"challenge_id": ch.id, "enrollment_id": m.enrollment_id})
                items.append((at, "challenge_joined", data, None))
                at += rng.uniform(10, 60)
            if catch:
                at = self._complete(items, m, ch, catch, at, view=True) + rng.uniform(5, 40)
            pid, vid, secs = ch.plans[day]
            items.append((at, "plan_viewed", _viewed(pid, day), None))
            video = (vid, secs) if vid is not None and rng.random() < 0.85 else None
        end = self._extras(items, m, extra, at, video, can_like=kind != FREE)
        if kind != FREE and completes:
            assert m.challenge is not None
            self._complete(items, m, m.challenge, day, end + rng.uniform(10, 60), view=False)
        self._rows(t0, m, items, rows)

    def _complete(self, items: list[Item], m: Member, ch: ChallengeInfo, day: int, at: float,
                  *, view: bool) -> float:
        """(View and) complete a day: the event and its completions row at the same time."""
        pid = ch.plans[day][0]
        if view:
            items.append((at, "plan_viewed", _viewed(pid, day), None))
            at += self.rng.uniform(30, 240)
        data = _json(("c", pid, day), {"plan_id": pid, "day_of_challenge": day,
                                       "challenge_id": ch.id})
        items.append((at, "plan_completed", data, ("completions", m.enrollment_id, pid, day)))
        return at

    def _extras(self, items: list[Item], m: Member, extra: int, at: float,
                video: tuple[int, int] | None, *, can_like: bool) -> float:
        """Append exactly `extra` client events, likeliest first; the session's end."""
        rng = self.rng
        picks: list[Item] = []
        end = at + rng.uniform(60, 600)
        vid, secs, tv = 0, 0, 0.0
        if video is not None:
            vid, secs = video
            tv = at + rng.uniform(10, 60)
            end = tv + secs * rng.uniform(1.0, 1.05)
            data = _video(vid)
            picks += [(tv, "video_started", data, None), (end, "video_completed", data, None)]
            picks += [(tv + secs * p, "video_progress", _progress(vid, p, secs), None)
                      for p in (0.5, 0.25, 0.75)]
            if can_like and (m.uid, vid) not in self.liked and rng.random() < 0.3:
                self.liked.add((m.uid, vid))
                picks.append((tv + secs * rng.uniform(0.3, 1.0), "video_liked", data,
                              ("user_liked_videos", vid)))
        picks.append((0.5, "notification_opened", '{"kind":"daily_reminder"}', None))
        shared = "share_clicked" if rng.random() < 0.5 else "plan_shared"
        picks.append((end + rng.uniform(5, 30), shared, '{"channel":"link"}', None))
        for n in range(extra - len(picks)):  # long sessions: browsing and seeking
            if video is not None and n % 2:
                p = (1 + int(rng.random() * 19)) / 20
                picks.append((tv + secs * p, "video_progress", _progress(vid, p, secs), None))
            else:
                picks.append((rng.uniform(1.5, end), "screen_viewed", _screen(rng), None))
        items += picks[:extra]
        return end

    def _rows(self, t0: int, m: Member, items: list[Item], rows: list[Row]) -> None:
        rng, now = self.rng, self.now_us
        span = max(item[0] for item in items) * S
        squeeze = min(1.0, (now - t0) / span)  # a session going on now ends by now
        for offset, kind, data, also in items:
            occurred = t0 + int(offset * S * squeeze)
            # The server records its own events when they happen; clients' arrive later.
            created = occurred if kind in _SERVER_TYPES else min(now, occurred + _lag(rng))
            where = m.device if kind in CONTEXT_TYPES else NO_DEVICE
            rows.append((m.uid, kind, data, created, uuid4(rng), occurred, where))
            if also is not None and also[0] == "completions":
                self.writer.add("completions", [(also[1], m.uid, also[2], also[3], occurred)])
            elif also is not None:
                self.writer.add("user_liked_videos", [(m.uid, also[1], occurred)])
        if t0 >= self.active_since:
            self.active.setdefault(t0 // DAY_US, []).append(m.uid)


def _lag(rng: random.Random) -> int:
    """A client event's receive lag: mostly a fraction of a second, sometimes hours (a
    phone offline), never near the 7 days past which ingestion refuses events."""
    u = rng.random()
    if u < 0.003:
        return int((2 * 3600 + rng.random() * 3 * 86400) * S)
    if u < 0.02:
        return int((60 + rng.random() * 2 * 3600) * S)
    return 40_000 - int(math.log(1.0 - rng.random()) * 200_000)  # exponential, mean 0.2 s


_cache: dict[tuple[Any, ...], str] = {}


def _json(key: tuple[Any, ...], value: dict[str, Any]) -> str:
    """Event data repeats (a plan, a video): serialize each distinct value once."""
    found = _cache.get(key)
    if found is None:
        found = _cache[key] = json.dumps(value, separators=(",", ":"))
    return found


def _viewed(pid: int, day: int) -> str:
    return _json(("v", pid, day), {"plan_id": pid, "day_of_challenge": day})


def _video(vid: int) -> str:
    return _json(("video", vid), {"video_id": vid})


def _progress(vid: int, position: float, secs: int) -> str:
    value = {"video_id": vid, "position_s": round(secs * position), "duration_s": secs}
    return _json(("p", vid, position, secs), value)


def _screen(rng: random.Random) -> str:
    name = SCREENS[int(rng.random() * len(SCREENS))]
    return _json(("s", name), {"screen": name})
