"""Request logs for the generated activity: the API-health report's raw material.

They fill the last --log-days local days (UTC) up to now, in time order, minute by
minute, shaped by the hour of the day; each comes from a member active that day (or
nobody, for the 401s). Routes, methods, statuses and latencies follow what the app's
clients do: the batch and track calls of the analytics SDK first, plan and video reads
next, logins rare and slow (argon2); a small share of 4xx and 5xx, and a slow tail.
"""

from __future__ import annotations

import math
import random

from app.services.demo.generator.sinks import Row, Writer

MINUTE_US = 60_000_000
DAY_US = 86_400_000_000
# route template, method, usual status, median latency in ms, share of requests
ROUTES = (
    ("/api/v2/analytics/batch", "POST", 201, 9.0, 28),
    ("/api/v2/analytics/track", "POST", 201, 7.0, 14),
    ("/api/v2/plans/today", "GET", 200, 22.0, 12),
    ("/api/v2/plans/<int:day>", "GET", 200, 20.0, 4),
    ("/api/v2/plans/<int:day>/complete", "POST", 200, 35.0, 4),
    ("/api/v2/videos", "GET", 200, 18.0, 6),
    ("/api/v2/videos/<int:video_id>", "GET", 200, 12.0, 5),
    ("/api/v2/videos/<int:video_id>/like", "POST", 201, 25.0, 1),
    ("/api/v2/auth/me", "GET", 200, 6.0, 9),
    ("/api/v2/auth/refresh", "POST", 200, 11.0, 5),
    ("/api/v2/auth/login", "POST", 200, 160.0, 2),
    ("/api/v2/challenges", "GET", 200, 15.0, 4),
    ("/api/v2/challenges/<int:challenge_id>", "GET", 200, 10.0, 2),
    ("/api/v2/me/enrollments", "GET", 200, 14.0, 3),
    ("<unmatched>", "GET", 404, 2.0, 1),
)
# A route by one random draw: each appears as often as its share.
_PICK = tuple(i for i, route in enumerate(ROUTES) for _ in range(route[4]))
# Requests per hour of the UTC day: members in Europe, the Americas and Japan overlap.
HOURLY = (3, 2, 2, 2, 3, 5, 8, 11, 13, 12, 10, 9, 9, 9, 10, 11, 12, 14, 16, 16, 14, 11, 8, 5)


def write(*, rng: random.Random, writer: Writer, total: int, start_us: int, now_us: int,
          active: dict[int, list[int]], everyone: list[int]) -> None:
    """Exactly `total` rows between start_us and now_us; `active` names the users with a
    session per UTC day number (anyone from `everyone` on a day without)."""
    minutes = max(1, -(-(now_us - start_us) // MINUTE_US))
    first_hour = start_us // MINUTE_US
    weights = [HOURLY[((first_hour + i) // 60) % 24] for i in range(minutes)]
    whole, done, cumulative = sum(weights), 0, 0
    for i, weight in enumerate(weights):
        cumulative += weight
        count = cumulative * total // whole - done  # exact total, no drift
        done += count
        if count:
            t = start_us + i * MINUTE_US
            users = active.get(t // DAY_US) or everyone
            width = max(1, min(MINUTE_US, now_us - t))
            writer.add("request_logs", _minute(rng, count, t, width, users))


def _minute(rng: random.Random, count: int, t: int, width: int, users: list[int]) -> list[Row]:
    rows = []
    draw = rng.random  # int(draw() * n) rather than randrange(n): this loop runs millions
    picks, n_users = len(_PICK), len(users)
    for offset in sorted(int(draw() * width) for _ in range(count)):
        endpoint, method, status, median, _share = ROUTES[_PICK[int(draw() * picks)]]
        uid: int | None = users[int(draw() * n_users)] if n_users else None
        u = draw()
        if endpoint == "<unmatched>" or u < 0.01:
            status, uid, median = (404 if endpoint == "<unmatched>" else 401), None, 2.0
        elif u < 0.011:
            status, median = 500, median * 4
        elif u < 0.013:
            status = 429
        elif u < 0.02 and "<int:" in endpoint:
            status = 404
        elif u < 0.025 and method == "POST":
            status = 422
        latency = median * math.exp(0.45 * rng.gauss(0.0, 1.0))  # log-normal around median
        if draw() < 0.01:  # the slow tail: cold caches, lock waits
            latency *= 4 + 8 * draw()
        ip = None if uid is None else f"198.{18 + uid % 2}.{(uid >> 8) & 255}.{uid & 255}"
        rows.append((endpoint, method, status, round(latency, 3), uid, ip, t + offset))
    return rows
