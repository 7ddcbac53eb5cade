"""Challenge progress: join-week cohorts, and per day k the share who completed it.

Reads the completions table (the source of truth), not events. A user belongs to
the cohort of the week of their first enrollment's start_date. Cell k counts only the
members who could have reached day k by today in the report's zone (start + k - 1 <=
today in tz), in `eligible` and in `on`/`on_or_after` alike, so a share never exceeds 1
(a member in a zone ahead of tz who completed day k early counts from the day k is
reached in tz). A cell no member could have reached yet is null, never 0.

On the primary the counts come from the progress rollup (rollups/progress.py: counters per
challenge and start day, kept by id watermarks); on a read replica, or when the rollup
cannot be brought up to date, from one statement over enrollments and completions.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, literal_column, select, union_all

from app import clock
from app.errors import NotFound
from app.models import Challenge, Completion, Enrollment
from app.services.insights.params import Period, day_number, from_day_number
from app.services.insights.reader import reader, reads_primary
from app.services.insights.rollups import progress as progress_rollup
from app.services.insights.rollups.progress import DONE, FURTHEST, SIZE
from app.services.insights.sql import date_key, user_filter
from app.services.insights.sqlite_functions import WEEK_OFFSETS


@dataclass(frozen=True)
class ProgressCell:
    day: int
    eligible: int  # members who could have reached day k by today in the report's zone
    on: int | None  # of those, who completed day k
    on_or_after: int | None  # of those, who completed day k or a later day

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


def run(*, period: Period, challenge_id: int, rollup: bool = True) -> ChallengeProgressResult:
    """The report; from the progress rollup unless `rollup` is False or reports read a
    replica."""
    challenge = reader().get(Challenge, challenge_id)
    if challenge is None:
        raise NotFound("No such challenge.")
    first, last = day_number(period.start_date), day_number(period.end_date)
    if rollup and reads_primary() and progress_rollup.refresh():
        rows = progress_rollup.counts(
            challenge_id=challenge_id,
            first=first,
            last=last,
            include_internal=period.include_internal,
        )
    else:
        rows = _raw_counts(period, challenge_id, first, last)

    # Counts per start day: a cell sums the start days that make its members eligible.
    sizes: dict[int, dict[int, int]] = defaultdict(dict)
    on: dict[tuple[int, int], int] = defaultdict(int)
    reached: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for kind, start, day, users in rows:
        if kind == SIZE:
            sizes[_week(start, period.week_start)][start] = users
        elif kind == DONE:
            on[(start, day)] += users
        elif kind == FURTHEST:
            reached[start][day] += users

    today = day_number(clock.today_in(period.tz))
    cohorts = []
    for cohort in sorted(sizes):
        cells = []
        for k in range(1, challenge.duration_days + 1):
            starts = [start for start in sizes[cohort] if start + k - 1 <= today]
            if not starts:
                cells.append(ProgressCell(k, 0, None, None))
                continue
            after = sum(n for start in starts for day, n in reached[start].items() if day >= k)
            cells.append(
                ProgressCell(
                    k,
                    sum(sizes[cohort][start] for start in starts),
                    sum(on[(start, k)] for start in starts),
                    after,
                )
            )
        cohorts.append(
            ProgressCohort(from_day_number(cohort).isoformat(), sum(sizes[cohort].values()), cells)
        )
    return ChallengeProgressResult(period, challenge_id, challenge.duration_days, cohorts)


def _week(start: int, week_start: str) -> int:
    """The cohort (its week's first day) of a start day."""
    return start - (start + WEEK_OFFSETS[week_start]) % 7


def _raw_counts(
    period: Period, challenge_id: int, first: int, last: int
) -> list[tuple[int, int, int, int]]:
    """(kind, start day, day, users) as progress_rollup.counts gives them, in one statement
    over enrollments and completions."""
    starts = (
        select(Enrollment.user_id, func.min(date_key(Enrollment.start_date)).label("start"))
        .where(Enrollment.challenge_id == challenge_id, user_filter(period, Enrollment.user_id))
        .group_by(Enrollment.user_id)
        .subquery("starts")
    )
    members = (
        select(starts.c.user_id, starts.c.start)
        .where(starts.c.start >= first, starts.c.start <= last)
        .cte("members")
    )
    # Each member's completed days, once however many enrollments they had.
    done = (
        select(Completion.user_id, Completion.day)
        .join(Enrollment, Enrollment.id == Completion.enrollment_id)
        .where(Enrollment.challenge_id == challenge_id)
        .distinct()
        .subquery("done")
    )
    days = (
        select(members.c.user_id, members.c.start, done.c.day)
        .join(done, done.c.user_id == members.c.user_id)
        .cte("days")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    furthest = (
        select(days.c.start, func.max(days.c.day).label("day"))
        .group_by(days.c.user_id, days.c.start)
        .subquery("furthest")
    )
    statement = union_all(
        select(
            literal_column(str(SIZE)), members.c.start, literal_column("0"), func.count()
        ).group_by(members.c.start),
        select(literal_column(str(DONE)), days.c.start, days.c.day, func.count()).group_by(
            days.c.start, days.c.day
        ),
        select(
            literal_column(str(FURTHEST)), furthest.c.start, furthest.c.day, func.count()
        ).group_by(furthest.c.start, furthest.c.day),
    )
    return [tuple(row) for row in reader().execute(statement)]  # type: ignore[misc]
