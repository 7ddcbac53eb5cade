"""Challenge progress rollup: the challenge progress report without joining completions.

Three tables, built on the first report and then folded on every report call (`refresh`),
on the primary, in one transaction with two id watermarks (services/insights/rollups/watermark.py:
"progress:enrollments" and "progress:completions"):

- progress_users: per (user, challenge) with an enrollment: the first start day (the
  report's cohort key) and the furthest day completed.
- progress_days: per (user, challenge): each day completed, once however many enrollments.
- progress_counts: per (challenge, start day), the users enrolled, the users who completed
  each day, and the users per furthest day: what the report reads.

A fold takes the (challenge, user) pairs touched by the new enrollments and completions,
subtracts their rows' contributions from the counters, recomputes their rows from the
enrollments and completions tables, and adds the contributions back: a second enrollment
with an earlier start moves the user to another cohort, and a completion recorded under a
user id without an enrollment of its own counts once that user enrolls, as in the raw
report. Counters include internal users; reports subtract theirs when they read. Erasure
takes the user's rows out of the counters (`forget_user`) and deletes them; nothing else
deletes enrollments or completions.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    FromClause,
    Integer,
    MetaData,
    Select,
    Table,
    and_,
    delete,
    func,
    literal_column,
    select,
    text,
    tuple_,
    union,
    union_all,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import (
    Completion,
    Enrollment,
    ProgressCount,
    ProgressDay,
    ProgressUser,
    RollupState,
)
from app.services.database import upsert
from app.services.insights.rollups import watermark as rollup_watermark
from app.services.insights.sql import date_key, internal_user_ids

PREFIX = "progress:"
SOURCES: dict[str, Table] = {
    PREFIX + "enrollments": Enrollment.__table__,  # type: ignore[dict-item]
    PREFIX + "completions": Completion.__table__,  # type: ignore[dict-item]
}
ENROLLMENTS: Table = Enrollment.__table__  # type: ignore[assignment]
COMPLETIONS: Table = Completion.__table__  # type: ignore[assignment]
USERS: Table = ProgressUser.__table__  # type: ignore[assignment]
DAYS: Table = ProgressDay.__table__  # type: ignore[assignment]
COUNTS: Table = ProgressCount.__table__  # type: ignore[assignment]
SIZE, DONE, FURTHEST = 0, 1, 2  # progress_counts.kind
ANALYZE_AFTER = 10_000  # (challenge, user) pairs in one fold

# A fold's scratch table (one connection, one transaction): the pairs it recomputes.
_scratch = MetaData()
TOUCHED = Table(
    "progress_fold_pairs",
    _scratch,
    Column("challenge_id", Integer),
    Column("user_id", Integer),
    prefixes=["TEMPORARY"],
)


def refresh() -> bool:
    """Fold every committed enrollment and completion not yet counted (building the rollup
    on first use) and commit; False when it cannot be brought up to date now (an insert
    held a table too long: read the raw tables instead)."""
    session = db.session
    highs = {name: rollup_watermark.committed_high_id(table) for name, table in SOURCES.items()}
    if any(high is None for high in highs.values()):
        return False
    state = RollupState.__table__.c
    folded = dict(
        session.execute(select(state.name, state.folded_id).where(state.name.in_(SOURCES))).all()
    )
    if all(folded.get(name, -1) >= high for name, high in highs.items()):
        return True
    try:
        if len(folded) < len(SOURCES):
            # Committed before any fold: erasure locks the committed state rows, so it
            # waits for (or is waited for by) every fold; an uncommitted row would escape it.
            for name in SOURCES:
                rollup_watermark.claim(session, name, None)
            session.commit()
        spans = {name: rollup_watermark.claim(session, name, high) for name, high in highs.items()}
        if any(spans.values()):
            _fold(session.connection(), spans)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return True


def _fold(conn: Connection, spans: dict[str, rollup_watermark.Span | None]) -> None:
    e, c, t = ENROLLMENTS.c, COMPLETIONS.c, TOUCHED.c
    parts: list[Select[Any]] = []
    enrolled, completed = spans[PREFIX + "enrollments"], spans[PREFIX + "completions"]
    if enrolled is not None:
        parts.append(
            select(e.challenge_id, e.user_id).where(e.id > enrolled.low, e.id <= enrolled.high)
        )
    if completed is not None:
        parts.append(
            select(e.challenge_id, c.user_id)
            .select_from(COMPLETIONS.join(ENROLLMENTS, e.id == c.enrollment_id))
            .where(c.id > completed.low, c.id <= completed.high)
        )
    TOUCHED.create(conn)
    # Each pair once (a union of one select would not remove duplicates).
    pairs = union_all(*parts).subquery("pairs")
    touched = conn.execute(
        TOUCHED.insert().from_select(
            ["challenge_id", "user_id"], select(pairs.c.challenge_id, pairs.c.user_id).distinct()
        )
    ).rowcount
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"ANALYZE {TOUCHED.name}"))  # a cold build touches every pair
    _add(conn, _contributions(TOUCHED, sign=-1))
    for table in (DAYS, USERS):
        pair = tuple_(table.c.challenge_id, table.c.user_id)
        conn.execute(delete(table).where(pair.in_(select(t.challenge_id, t.user_id))))
    conn.execute(
        DAYS.insert().from_select(
            ["user_id", "challenge_id", "day"],
            select(c.user_id, e.challenge_id, c.day)
            .select_from(
                COMPLETIONS.join(ENROLLMENTS, e.id == c.enrollment_id).join(
                    TOUCHED, and_(t.challenge_id == e.challenge_id, t.user_id == c.user_id)
                )
            )
            .distinct(),
        )
    )
    d = DAYS.c
    furthest = (
        select(d.user_id, d.challenge_id, func.max(d.day).label("day"))
        .select_from(
            DAYS.join(TOUCHED, and_(t.challenge_id == d.challenge_id, t.user_id == d.user_id))
        )
        .group_by(d.user_id, d.challenge_id)
        .subquery("furthest")
    )
    starts = (
        select(e.user_id, e.challenge_id, func.min(date_key(e.start_date)).label("start_day"))
        .select_from(
            ENROLLMENTS.join(
                TOUCHED, and_(t.challenge_id == e.challenge_id, t.user_id == e.user_id)
            )
        )
        .group_by(e.user_id, e.challenge_id)
        .subquery("starts")
    )
    conn.execute(
        USERS.insert().from_select(
            ["user_id", "challenge_id", "start_day", "max_day"],
            select(starts.c.user_id, starts.c.challenge_id, starts.c.start_day, furthest.c.day)
            .select_from(starts)
            .outerjoin(
                furthest,
                and_(
                    furthest.c.user_id == starts.c.user_id,
                    furthest.c.challenge_id == starts.c.challenge_id,
                ),
            ),
        )
    )
    _add(conn, _contributions(TOUCHED, sign=1))
    if conn.dialect.name == "postgresql" and touched > ANALYZE_AFTER:
        # Fresh statistics for the next folds' plans after a build (autovacuum may lag).
        conn.execute(text(f"ANALYZE {DAYS.name}, {USERS.name}, {COUNTS.name}"))
    TOUCHED.drop(conn)


def _contributions(scope: FromClause, *, sign: int) -> list[Select[Any]]:
    """What the progress rows of the (challenge_id, user_id) pairs in `scope` add to the
    counters, times sign: rows of (challenge_id, start_day, kind, day, users)."""
    u, d, s = USERS.c, DAYS.c, scope.c
    mine = USERS.join(scope, and_(s.challenge_id == u.challenge_id, s.user_id == u.user_id))
    users = (func.count() * sign).label("users")
    return [
        select(
            u.challenge_id,
            u.start_day,
            literal_column(str(SIZE)).label("kind"),
            literal_column("0").label("day"),
            users,
        )
        .select_from(mine)
        .group_by(u.challenge_id, u.start_day),
        select(u.challenge_id, u.start_day, literal_column(str(DONE)), d.day, users)
        .select_from(
            mine.join(DAYS, and_(d.user_id == u.user_id, d.challenge_id == u.challenge_id))
        )
        .group_by(u.challenge_id, u.start_day, d.day),
        select(u.challenge_id, u.start_day, literal_column(str(FURTHEST)), u.max_day, users)
        .select_from(mine)
        .where(u.max_day.is_not(None))
        .group_by(u.challenge_id, u.start_day, u.max_day),
    ]


def _add(conn: Connection, parts: list[Select[Any]]) -> None:
    """Add the rows' users to the counters (INSERT, or add to the existing row)."""
    keys = ["challenge_id", "start_day", "kind", "day"]
    upsert.add_counts(conn, COUNTS, select(union_all(*parts).subquery("source")), keys)


def reset(*, session: Session) -> None:
    """Forget the rollup (rows and watermarks) in the caller's transaction: the next fold
    counts every enrollment and completion again."""
    rollup_watermark.hold(session, PREFIX)
    for table in (COUNTS, DAYS, USERS):
        session.execute(delete(table))
    rollup_watermark.reset(session, PREFIX)


def forget_user(*, session: Session, user_id: int) -> None:
    """Erasure: take a user's rows out of the counters, in the caller's transaction, which
    then deletes their progress_users and progress_days rows, enrollments and completions.
    Another user's completions on their enrollments go too: that user is recomputed by the
    next fold."""
    rollup_watermark.hold(session, PREFIX)
    conn = session.connection()
    e, c, u = ENROLLMENTS.c, COMPLETIONS.c, USERS.c
    # Their own rows, and those of anyone with completions on their enrollments (which go
    # with the enrollments): recomputed by the next fold from what is left.
    others = (
        select(e.challenge_id, c.user_id)
        .select_from(COMPLETIONS.join(ENROLLMENTS, e.id == c.enrollment_id))
        .where(e.user_id == user_id, c.user_id != user_id)
    )
    pairs = union(select(u.challenge_id, u.user_id).where(u.user_id == user_id), others).subquery(
        "pairs"
    )
    _add(conn, _contributions(pairs, sign=-1))
    # Theirs are left to the caller (its audit counts them); the others' go now.
    for table in (DAYS, USERS):
        pair = tuple_(table.c.challenge_id, table.c.user_id)
        conn.execute(delete(table).where(pair.in_(others), table.c.user_id != user_id))
    redo = conn.execute(
        select(func.min(e.id)).where(
            tuple_(e.challenge_id, e.user_id).in_(others), e.user_id != user_id
        )
    ).scalar()
    if redo is not None:
        # The next fold touches every enrollment from there on, theirs among them.
        conn.execute(
            update(RollupState)
            .where(RollupState.name == PREFIX + "enrollments", RollupState.folded_id >= redo)
            .values(folded_id=redo - 1)
        )


def counts(
    *, challenge_id: int, first: int, last: int, include_internal: bool
) -> list[tuple[int, int, int, int]]:
    """(kind, start_day, day, users) of the challenge's users whose first start day is in
    first..last, internal users left out unless asked; only rows with users."""
    c = COUNTS.c
    parts: list[Select[Any]] = [
        select(c.challenge_id, c.start_day, c.kind, c.day, c.users).where(
            c.challenge_id == challenge_id, c.start_day >= first, c.start_day <= last
        )
    ]
    if not include_internal:
        # The counters hold every user: take the internal users' own rows away.
        u = USERS.c
        internal = (
            select(u.challenge_id, u.user_id)
            .where(
                u.challenge_id == challenge_id,
                u.user_id.in_(internal_user_ids()),
                u.start_day >= first,
                u.start_day <= last,
            )
            .subquery("internal")
        )
        parts += _contributions(internal, sign=-1)
    rows = union_all(*parts).subquery("rows")
    totals = select(rows.c.kind, rows.c.start_day, rows.c.day, func.sum(rows.c.users)).group_by(
        rows.c.kind, rows.c.start_day, rows.c.day
    )
    return [
        (int(kind), int(start), int(day), int(users))
        for kind, start, day, users in db.session.execute(totals)
        if users
    ]
