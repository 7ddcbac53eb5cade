"""Demo installs: anonymous devices going through onboarding before (some) register.

Each install has an anonymous id and a device context (ios, android or web; OS, model,
locale) and the app version that was current when it was installed: versions roll out over
the weeks. It opens the app and views the onboarding screens in order; on version
BROKEN_VERSION most installs never get past BROKEN_STEP. The seed's members are installs
that finished onboarding and registered (their anonymous id linked at register); the
others stay anonymous, so the onboarding funnel and the bad version stand out.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

ONBOARDING = ("welcome", "goals", "notifications", "create_account")
BROKEN_VERSION = "2.3.0"
BROKEN_STEP = "notifications"  # on BROKEN_VERSION, most installs stop before this screen
# (share of the range elapsed when the version ships, version, build)
ROLLOUT = ((0.0, "2.1.0", "210"), (0.4, "2.2.0", "220"), (0.75, BROKEN_VERSION, "230"),
           (0.92, "2.3.1", "231"))
DEVICES = {
    "ios": (("iOS", ("17.5", "18.1")), ("iPhone15,2", "iPhone16,1", "iPad13,4")),
    "android": (("Android", ("13", "14")), ("Pixel 8", "SM-S918B", "moto g54")),
    "web": (("Mac OS X", ("14.5",)), ("Mac",)),
}
CONTEXT_KEYS = ("platform", "os_name", "os_version", "app_version", "app_build", "device_model",
                "locale", "library_name", "library_version")
LOCALES = ("en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "hi-IN")
# A member's events that carry their device's id and context (the others none).
CONTEXT_TYPES = ("app_opened", "video_started", "video_completed")


@dataclass(frozen=True)
class Install:
    anonymous_id: str
    at: datetime
    context: dict[str, Any]


def draw_install(rng: random.Random, number: int, at: datetime, *, first: datetime,
                 now: datetime) -> Install:
    """A device installed at `at`, with the app version current then."""
    platform = rng.choices(("ios", "android", "web"), weights=(5, 4, 1))[0]
    (os_name, os_versions), models = DEVICES[platform]
    elapsed = max(0.0, (at - first) / (now - first)) if now > first else 1.0
    _, version, build = [r for r in ROLLOUT if r[0] <= elapsed][-1]
    context = {
        "platform": platform,
        "os_name": os_name,
        "os_version": rng.choice(os_versions),
        "app_version": None if platform == "web" else version,
        "app_build": None if platform == "web" else build,
        "device_model": rng.choice(models),
        "locale": rng.choice(LOCALES),
        "library_name": "analytics-web" if platform == "web" else f"analytics-{platform}",
        "library_version": "4.1.0",
    }
    return Install(f"demo-install-{number:04d}", at, context)


def onboarding_events(rng: random.Random, install: Install, *, finishes: bool
                      ) -> tuple[list[tuple[str, datetime, dict[str, Any]]], datetime]:
    """app_opened, then the onboarding screens up to where the install stops (all of them
    when `finishes`); and the time of the last one."""
    t = install.at
    events: list[tuple[str, datetime, dict[str, Any]]] = [("app_opened", t, {})]
    broken = install.context["app_version"] == BROKEN_VERSION
    for step, screen in enumerate(ONBOARDING, start=1):
        if not finishes and step > 1:
            stay = 0.15 if broken and screen == BROKEN_STEP else 0.85
            if rng.random() > stay:
                break
        t += timedelta(seconds=rng.randrange(8, 70))
        events.append(("screen_viewed", t, {"screen": f"onboarding_{screen}", "step": step}))
    return events, t


def event_row(install: Install, kind: str, at: datetime, data: dict[str, Any],
              user_id: int | None = None) -> dict[str, Any]:
    """An analytics_events row of the install (anonymous unless user_id is given)."""
    return {
        "user_id": user_id, "anonymous_id": install.anonymous_id, "event_type": kind,
        "event_data": data, "created_at": at, "occurred_at": at, **install.context,
    }


def anonymous_history(rng: random.Random, *, members: list[tuple[int, datetime]],
                      strangers: int, first: datetime, now: datetime
                      ) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                 dict[int, Install]]:
    """Event rows and identity links of the installs: one per member (user id, time of
    registration), which onboarded just before and is linked at register, and `strangers`
    that stay anonymous; and each member's install."""
    events: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    of_member: dict[int, Install] = {}
    for number, (uid, registered) in enumerate(members, start=1):
        at = registered - timedelta(minutes=rng.randrange(6, 20))
        install = draw_install(rng, number, at, first=first, now=now)
        of_member[uid] = install
        rows, _ = onboarding_events(rng, install, finishes=True)
        events += [event_row(install, kind, t, data) for kind, t, data in rows]
        links.append({"anonymous_id": install.anonymous_id, "user_id": uid,
                      "linked_by": "register", "linked_at": registered})
    span = int((now - first).total_seconds()) - 3600
    for number in range(len(members) + 1, len(members) + strangers + 1):
        at = first + timedelta(seconds=rng.randrange(max(span, 1)))
        install = draw_install(rng, number, at, first=first, now=now)
        rows, _ = onboarding_events(rng, install, finishes=False)
        events += [event_row(install, kind, t, data) for kind, t, data in rows if t <= now]
    return events, links, of_member
