"""Challenge progress: join-week cohorts, and per day k the share who completed it.

Reads the completions table (the source of truth), not events. A user belongs to
the cohort of the week of their first enrollment's start_date; a cell counts only
the members who could have reached day k by today (start + k - 1 <= today in tz):
a cell no member could have reached yet is null, never 0.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from app.errors import NotFound
from app.models import Challenge, Completion, Enrollment
from app.services import clock
from app.services.insights.params import Period, day_number, from_day_number
from app.services.insights.reader import reader
from app.services.insights.sql import date_key, user_filter, week_of


@dataclass(frozen=True)
class ProgressCell:
    day: int
    eligible: int  # members who could have reached day k by today
    on: int | None
    on_or_after: int | None

    @property
    def on_share(self) -> float | None:
        return round(self.on / self.eligible, 4) if self.eligible and self.on is not None else None

    @property
    def on_or_after_share(self) -> float | None:
        if not self.eligible or self.on_or_after is None:
            return None
        return round(self.on_or_after / self.eligible, 4)


@dataclass(frozen=True)
class ProgressCohort:
    week_start: str
    size: int
    days: list[ProgressCell]


@dataclass(frozen=True)
class ChallengeProgressResult:
    period: Period
    challenge_id: int
    duration_days: int
    cohorts: list[ProgressCohort]

    def csv_rows(self) -> list[list[Any]]:
        rows: list[list[Any]] = [
            [
                "cohort_week",
                "cohort_size",
                "day",
                "eligible",
                "on",
                "on_share",
                "on_or_after",
                "on_or_after_share",
            ]
        ]
        for c in self.cohorts:
            for d in c.days:
                rows.append(
                    [
                        c.week_start,
                        c.size,
                        d.day,
                        d.eligible,
                        d.on,
                        d.on_share,
                        d.on_or_after,
                        d.on_or_after_share,
                    ]
                )
        return rows


def run(*, period: Period, challenge_id: int) -> ChallengeProgressResult:
    challenge = reader().get(Challenge, challenge_id)
    if challenge is None:
        raise NotFound("No such challenge.")
    first, last = day_number(period.start_date), day_number(period.end_date)
    starts = (
        select(Enrollment.user_id, func.min(date_key(Enrollment.start_date)).label("start"))
        .where(Enrollment.challenge_id == challenge_id, user_filter(period, Enrollment.user_id))
        .group_by(Enrollment.user_id)
        .subquery("starts")
    )
    members = (
        select(
            starts.c.user_id,
            starts.c.start,
            week_of(starts.c.start, period.week_start).label("cohort"),
        )
        .where(starts.c.start >= first, starts.c.start <= last)
        .subquery("members")
    )
    sizes: dict[int, dict[int, int]] = defaultdict(dict)
    stmt = select(members.c.cohort, members.c.start, func.count()).group_by(
        members.c.cohort, members.c.start
    )
    for cohort, start, count in reader().execute(stmt):
        sizes[cohort][start] = count

    done = (
        select(members.c.cohort, Completion.user_id, Completion.day)
        .join(Enrollment, Enrollment.id == Completion.enrollment_id)
        .join(members, members.c.user_id == Completion.user_id)
        .where(Enrollment.challenge_id == challenge_id)
        .subquery("done")
    )
    on: dict[tuple[int, int], int] = {}
    stmt = select(done.c.cohort, done.c.day, func.count(func.distinct(done.c.user_id))).group_by(
        done.c.cohort, done.c.day
    )
    for cohort, day, count in reader().execute(stmt):
        on[(cohort, day)] = count
    furthest = (
        select(done.c.cohort, func.max(done.c.day).label("day"))
        .group_by(done.c.user_id, done.c.cohort)
        .subquery("furthest")
    )
    reached: dict[int, dict[int, int]] = defaultdict(dict)
    stmt = select(furthest.c.cohort, furthest.c.day, func.count()).group_by(
        furthest.c.cohort, furthest.c.day
    )
    for cohort, day, count in reader().execute(stmt):
        reached[cohort][day] = count

    today = day_number(clock.today_in(period.tz))
    cohorts = []
    for cohort in sorted(sizes):
        cells = []
        for k in range(1, challenge.duration_days + 1):
            eligible = sum(n for start, n in sizes[cohort].items() if start + k - 1 <= today)
            if eligible == 0:
                cells.append(ProgressCell(k, 0, None, None))
                continue
            after = sum(n for day, n in reached[cohort].items() if day >= k)
            cells.append(ProgressCell(k, eligible, on.get((cohort, k), 0), after))
        cohorts.append(
            ProgressCohort(from_day_number(cohort).isoformat(), sum(sizes[cohort].values()), cells)
        )
    return ChallengeProgressResult(period, challenge_id, challenge.duration_days, cohorts)
