"""Generated installs (issue 15): every member's device and its onboarding, anonymous
until sign-up and linked then, and strangers' installs that never register; the draws are
the demo seed's (services/demo/installs.py: devices, app-version rollout, the version with
the broken onboarding step).

The anonymous events take what the budget leaves, at most BUDGET_SHARE of it: each
member's onboarding (in signup order) and STRANGERS_PER_MEMBER strangers' installs after
it, while the budget lasts. `Installs.rows()` yields the same rows on every call (count,
then write), in time order. A member's app_opened, video_started and video_completed
events carry their device's id and context, as the seed's do (demo.CONTEXT_TYPES).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

from app.services.demo import installs as demo
from app.services.demo.generator.people import Member, S
from app.services.demo.generator.sinks import Device, device, from_us, to_us, uuid4

BUDGET_SHARE = 0.1
STRANGERS_PER_MEMBER = 1
_MINUTE = 60 * S
_DATA: dict[tuple[Any, Any], str] = {}  # the onboarding's few event_data values, as JSON
# (uid or None, event type, event data JSON, created_us, event id, occurred_us, Device)
Row = tuple[Any, ...]


class Installs:
    """The members' devices (set on them) and the installs' anonymous events and links."""

    def __init__(self, members: list[Member], *, key: str, budget: int, start_us: int,
                 now_us: int) -> None:
        self.members, self.key, self.budget = members, key, budget
        self.start_us, self.now_us = start_us, now_us
        self._linked: list[Member] = []  # whose onboarding rows() wrote
        rng = random.Random(f"{key}:devices")
        first, now = from_us(start_us), from_us(now_us)
        for n, m in enumerate(members):
            installed = from_us(max(start_us, m.signup_us - 15 * _MINUTE))
            install = demo.draw_install(rng, n, installed, first=first, now=now)
            m.device = device(f"gen-{key}-m{n}", install.context)

    def count(self) -> int:
        """How many rows rows() yields (the same draws, no rows built)."""
        return self._walk(build=False)[0]

    def rows(self) -> Iterator[Row]:
        """The installs' anonymous events, in time order (the same on every call). They
        are held in memory while written: at most the budget, about nine per member."""
        found = self._walk(build=True)[1]
        found.sort(key=lambda row: row[5])
        return iter(found)

    def links(self) -> list[tuple[str, int, int]]:
        """(anonymous id, user id, linked at) of the members whose onboarding is written:
        linked at register. Call after count() or rows(), once the members have ids."""
        return [(m.device.values[0], m.uid, m.signup_us) for m in self._linked]

    def _walk(self, *, build: bool) -> tuple[int, list[Row]]:
        """The installs within the budget: their event count, and (`build`) their rows."""
        rng, ids = random.Random(f"{self.key}:installs"), random.Random(f"{self.key}:ids")
        first, now = from_us(self.start_us), from_us(self.now_us)
        rows: list[Row] = []
        total = 0
        self._linked = []
        span = self.now_us - self.start_us
        for n, m in enumerate(self.members):
            at = m.signup_us - rng.randrange(6, 20) * _MINUTE
            if at >= self.start_us:
                install = demo.Install(m.device.values[0], from_us(at), m.device.context)
                events, _ = demo.onboarding_events(rng, install, finishes=True)
                if total + len(events) > self.budget:
                    return total, rows
                total += len(events)
                if build:
                    rows += self._events(ids, events, m.device)
                self._linked.append(m)
            for k in range(STRANGERS_PER_MEMBER):
                at = from_us(self.start_us + int(rng.random() * span))
                install = demo.draw_install(rng, n, at, first=first, now=now)
                events, _ = demo.onboarding_events(rng, install, finishes=False)
                events = [e for e in events if e[1] <= now]
                if total + len(events) > self.budget:
                    return total, rows
                total += len(events)
                if build:
                    where = device(f"gen-{self.key}-s{n}-{k}", install.context)
                    rows += self._events(ids, events, where)
        return total, rows

    @staticmethod
    def _events(rng: random.Random, events: list[tuple[str, Any, dict[str, Any]]],
                where: Device) -> list[Row]:
        found = []
        for kind, at, data in events:
            occurred = to_us(at)
            key = (data.get("screen"), data.get("step"))
            text = _DATA.get(key)
            if text is None:
                text = _DATA[key] = json.dumps(data, separators=(",", ":"))
            found.append((None, kind, text, occurred, uuid4(rng), occurred, where))
        return found
