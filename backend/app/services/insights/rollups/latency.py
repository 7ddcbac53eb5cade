"""The latency histogram rollup: request_logs folded into counts per route, UTC bucket and
latency bin, from which API health reads exact counts and percentiles within 2%.

Bins. A latency x > 0 ms falls in bin b = floor(ln x / ln 1.04), so r**b <= x < r**(b+1)
with r = 1.04; 0 ms (and anything below, which the middleware's monotonic clock never
writes) has its own bin. A bin is read as its geometric middle r**(b + 1/2), which is
within a factor sqrt(r) of every value in the bin: relative error at most
sqrt(1.04) - 1 = 1.98 %. A percentile is read like percentile_cont: the order statistics
at floor and ceil of p * (n - 1), linearly interpolated; both are read within that
factor, and so is any mix of them with weights >= 0. So every p50/p95/p99 of the
histogram is within ERROR_BOUND of the exact percentile_cont of the same rows (0 stays
exactly 0). Latencies are clamped to [1e-300, 1e300] ms before the logarithm, so tiny,
huge and infinite values fold without error (the bound holds inside that range).

Buckets. Each request is counted in three rows, at grains of 15 minutes, 1 hour and 1 day
(UTC). Every IANA zone's local hours and days start on a 15-minute UTC boundary, so any
local range is an exact union of buckets: a range is covered by whole days, the hours at
its edges, and at most three quarters at each end (api_health.cover).

Freshness. Rows are folded in id order behind an id watermark (app/services/
rollup_watermark.py, name "latency"), never by created_at: the writer commits batches out
of order and the spool replays rows long after their created_at. Each fold reads the
highest id below which no insert is still open, claims the span above the watermark,
adds the span's counts with an upsert and moves the watermark in the same transaction.
A late row lands in its own (old) bucket. Reports fold right before they read.

Internal users. Their requests are counted in rows of their own (internal_user_id), so a
report leaves them out by a filter on the rollup alone. Each fold first makes
latency_rollup_users match users.is_internal: a user no longer internal (or erased, whose
logs erasure keeps as anonymous rows) is merged into the shared rows; a newly internal
user's folded requests are read again from request_logs and moved out of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Float,
    Integer,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import LatencyRollup, LatencyRollupUser, RequestLog, User
from app.services.database import upsert
from app.services.insights.rollups import watermark as rollup_watermark
from app.services.insights.rollups.latency_bins import (
    PERCENTILES,
    bin_expr,
    interpolate,
    sql_number,
)

NAME = "latency"  # the rollup_state row
GRAINS = (1440, 60, 15)  # minutes, coarsest first
FOLD_CHUNK = 500_000  # ids per fold transaction: a backlog commits as it goes
ANALYZE_AFTER = 200_000  # ids folded in one call that warrant fresh planner statistics

L = LatencyRollup.__table__
U = LatencyRollupUser.__table__
R = RequestLog.__table__


# -- SQL -------------------------------------------------------------------------------


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


_ORIGIN = literal_column("TIMESTAMPTZ '1970-01-01 00:00:00+00'")


def _bucket(column: Any, grain: int, *, postgres: bool, from_quarter: bool) -> Any:
    """The UTC start of column's bucket of `grain` minutes.

    SQLite stores UTC timestamps as text ("YYYY-MM-DD HH:MM:SS.ffffff", SQLAlchemy's
    format, which the report's bound parameters use too): cut as text, no rounding.
    """
    if postgres:
        width = literal_column(f"INTERVAL '{grain} minutes'")
        return func.date_bin(width, column, _ORIGIN)
    day = func.substr(column, 1, 10)
    if grain == 1440:
        return _concat(day, " 00:00:00.000000")
    if grain == 60:
        return _concat(day, " ", func.substr(column, 12, 2), ":00:00.000000")
    if from_quarter:
        return column
    minute = cast(func.substr(column, 15, 2), Integer) // 15 * 15
    return _concat(day, " ", func.substr(column, 12, 3), func.printf("%02d:00.000000", minute))


def _concat(*parts: Any) -> Any:
    result = parts[0]
    for part in parts[1:]:
        result = result.op("||")(part)
    return result


# -- Folding ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FoldResult:
    folded_to: int  # the watermark after the fold
    spans: int  # transactions that folded new ids (0: nothing new, or the table busy)


def fold_latency_rollup(*, chunk: int = FOLD_CHUNK) -> FoldResult:
    """Fold every committed request log above the watermark into the rollup, after
    moving the rows of users who became (or stopped being) internal since the last fold.

    Cost is proportional to the new rows; a big backlog is folded `chunk` ids per
    transaction. Runs on the primary (db.session) and commits. Meant for every API
    health call and for a periodic command (`flask analytics rollup`).
    """
    session = db.session
    high = rollup_watermark.committed_high_id(R)
    spans = folded_ids = 0
    while True:
        start = rollup_watermark.folded_id(session, NAME)  # claim() re-reads it, locked
        target = None if high is None or high <= start else min(high, start + chunk)
        if target is None and _internal_users(session) == _split_users(session):
            break  # up to date: no write, no commit
        span = rollup_watermark.claim(session, NAME, target)  # locks the state row
        folded = span.low if span else rollup_watermark.folded_id(session, NAME)
        _reconcile_internal(session, folded)
        if span is not None:
            _fold_span(session, span)
            spans += 1
            folded_ids += span.high - span.low
        session.commit()
        if span is None or span.high >= (high or 0):
            break
    if folded_ids >= ANALYZE_AFTER and _is_postgres(session):
        # Fresh statistics, or the first reports plan for an empty table.
        session.execute(text(f"ANALYZE {L.name}"))
        session.commit()
    return FoldResult(folded_to=rollup_watermark.folded_id(session, NAME), spans=spans)


def _quarters(
    *where: Any, postgres: bool, user_key: Any = None, sign: int = 1, source: Any = R
) -> Any:
    """Request logs counted per quarter, route, bin and internal_user_id (user_key; None:
    all as shared rows, 0)."""
    shared = user_key is None
    if shared:
        user_key = literal_column("0")
    status = R.c.status
    quarter = _bucket(R.c.created_at, 15, postgres=postgres, from_quarter=False)
    bin_ = bin_expr(R.c.latency_ms, postgres=postgres)
    one = literal_column(str(sign))
    return (
        select(
            quarter.label("bucket_start"),
            R.c.endpoint,
            R.c.method,
            bin_.label("bin"),
            user_key.label("internal_user_id"),
            func.sum(one).label("requests"),
            func.sum(case((status.between(400, 499), one), else_=0)).label("n4xx"),
            func.sum(case((status >= 500, one), else_=0)).label("n5xx"),
        )
        .select_from(source)
        .where(*where)
        .group_by(quarter, R.c.endpoint, R.c.method, bin_, *([] if shared else [user_key]))
    )


def _upsert(session: Session, quarters: Any, *, postgres: bool) -> None:
    """Add quarter counts to the rollup at every grain (one statement)."""
    q = quarters.cte("q")
    parts = []
    for grain in reversed(GRAINS):
        start = _bucket(q.c.bucket_start, grain, postgres=postgres, from_quarter=True)
        keys = [q.c.endpoint, q.c.method, q.c.bin, q.c.internal_user_id]
        part = select(
            literal_column(str(grain)).label("grain"),
            start.label("bucket_start"),
            *keys,
            func.sum(q.c.requests).label("requests"),
            func.sum(q.c.n4xx).label("n4xx"),
            func.sum(q.c.n5xx).label("n5xx"),
        ).group_by(start, *keys)
        parts.append(part)
    _add_rows(session, union_all(*parts))


def _add_rows(session: Session, rows: Any) -> None:
    """Add the rows' counts to the rollup (a new row, or added to the row of its key)."""
    upsert.add_counts(session, L, rows, [c.name for c in L.primary_key.columns])


def _fold_span(session: Session, span: rollup_watermark.Span) -> None:
    postgres = _is_postgres(session)
    if postgres:
        # A backlog's grouping fits in memory instead of spilling to disk.
        session.execute(select(func.set_config("work_mem", "128MB", true())))
    quarters = _quarters(
        R.c.id > span.low,
        R.c.id <= span.high,
        postgres=postgres,
        user_key=func.coalesce(U.c.user_id, literal_column("0")),
        source=R.outerjoin(U, U.c.user_id == R.c.user_id),
    )
    _upsert(session, quarters, postgres=postgres)


def _internal_users(session: Session) -> set[int]:
    # "= true", as sql.internal_user_ids: served by the partial index ix_users_internal.
    return set(session.scalars(select(User.id).where(User.is_internal)))


def _split_users(session: Session) -> set[int]:
    return set(session.scalars(select(U.c.user_id)))


def _reconcile_internal(session: Session, folded: int) -> None:
    """Make latency_rollup_users the internal users of now, moving the counts of those
    who changed: a user no longer internal (or erased) merges into the shared rows; a
    newly internal user's folded requests leave them (read again from request_logs)."""
    postgres = _is_postgres(session)
    internal, split = _internal_users(session), _split_users(session)
    gone, new = sorted(split - internal), sorted(internal - split)
    if gone:
        _merge_back(session, gone)
        session.execute(delete(U).where(U.c.user_id.in_(gone)))
    if new:
        session.execute(insert(U), [{"user_id": user_id} for user_id in new])
        mine = [R.c.user_id.in_(new), R.c.id <= folded]
        own = _quarters(*mine, postgres=postgres, user_key=R.c.user_id)
        _upsert(session, own, postgres=postgres)
        shared = _quarters(*mine, postgres=postgres, sign=-1)
        _upsert(session, shared, postgres=postgres)
        # Shared rows emptied by the move (or below zero in a pruned bucket) go.
        times = select(func.min(R.c.created_at), func.max(R.c.created_at)).where(*mine)
        first, last = session.execute(times).one()
        if first is not None:
            session.execute(
                delete(L).where(
                    L.c.internal_user_id == 0,
                    L.c.requests <= 0,
                    L.c.bucket_start >= first - timedelta(days=1),
                    L.c.bucket_start <= last,
                )
            )


def _merge_back(session: Session, user_ids: list[int]) -> None:
    """Move these users' counted requests into the shared rows."""
    moved = L.c.internal_user_id.in_(user_ids)
    keys = [L.c.grain, L.c.bucket_start, L.c.endpoint, L.c.method, L.c.bin]
    counts = [func.sum(L.c[name]).label(name) for name in ("requests", "n4xx", "n5xx")]
    rows = select(*keys, literal_column("0").label("internal_user_id"), *counts)
    rows = rows.where(moved).group_by(*keys)
    _add_rows(session, rows)
    session.execute(delete(L).where(moved))


def forget_user(session: Session, user_id: int) -> None:
    """Erasure: no rollup row keeps the user's id; their requests stay counted (anonymous,
    as their request_logs rows stay). Runs in the caller's transaction, after waiting for
    a fold in progress; the caller deletes their latency_rollup_users row."""
    rollup_watermark.claim(session, NAME, None)
    _merge_back(session, [user_id])


def prune_latency_rollup(before: datetime) -> int:
    """Delete the buckets that end at or before `before` (the retention cutoff of
    request_logs); the rows deleted. A bucket straddling the cutoff is kept whole."""
    clauses = [
        and_(L.c.grain == grain, L.c.bucket_start <= before - timedelta(minutes=grain))
        for grain in GRAINS
    ]
    rollup_watermark.claim(db.session, NAME, None)  # waits for a fold in progress
    deleted = db.session.execute(delete(L).where(or_(*clauses))).rowcount or 0
    db.session.commit()
    return deleted


def reset_latency_rollup() -> None:
    """Forget the rollup: its next fold counts every request log again."""
    rollup_watermark.claim(db.session, NAME, None)  # waits for a fold in progress
    db.session.execute(delete(L))
    db.session.execute(delete(U))
    rollup_watermark.reset(db.session, NAME)
    db.session.commit()


# -- Reading ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    """Rollup rows of one grain with start <= bucket_start < end (api_health.cover)."""

    grain: int
    start: datetime
    end: datetime


@dataclass(frozen=True)
class HistogramStats:
    key: tuple[Any, ...]
    requests: int
    n4xx: int
    n5xx: int
    percentiles: tuple[float, ...]  # PERCENTILES, unrounded


def read(
    *,
    pieces: list[Piece],
    keys: list[Any],
    where: Sequence[Any] = (),
    include_internal: bool,
) -> list[HistogramStats]:
    """Counts and percentiles per key (expressions over latency_rollups) over the pieces,
    in key order. Internal users' requests (as of the last fold) only if asked."""
    session = db.session
    names = [f"k{i}" for i in range(len(keys))]
    span = or_(
        *(
            and_(L.c.grain == p.grain, L.c.bucket_start >= p.start, L.c.bucket_start < p.end)
            for p in pieces
        )
    )
    if not include_internal:
        where = [*where, L.c.internal_user_id == 0]
    h = (
        select(
            *(k.label(n) for k, n in zip(keys, names, strict=True)),
            L.c.bin,
            cast(func.sum(L.c.requests), Float).label("n"),
            func.sum(L.c.n4xx).label("n4xx"),
            func.sum(L.c.n5xx).label("n5xx"),
        )
        .where(span, *where)
        .group_by(*keys, L.c.bin)
        .having(func.sum(L.c.requests) > 0)
        .subquery("h")
    )
    hkeys = [h.c[n] for n in names]
    c = select(
        h,
        func.sum(h.c.n).over(partition_by=hkeys, order_by=h.c.bin).label("upto"),
        func.sum(h.c.n).over(partition_by=hkeys).label("total"),
    ).subquery("c")
    order_stats = []
    for fraction in PERCENTILES:
        position = sql_number(fraction) * (c.c.total - 1)
        for rank in (func.floor(position), func.ceil(position)):
            order_stats.append(func.min(case((c.c.upto > rank, c.c.bin))))
    ckeys = [c.c[n] for n in names]
    stmt = (
        select(*ckeys, func.max(c.c.total), func.sum(c.c.n4xx), func.sum(c.c.n5xx), *order_stats)
        .group_by(*ckeys)
        .order_by(*ckeys)
    )
    if _is_postgres(session):
        # Hash the rollup rows in memory (no sort of route texts under a collation), and
        # no JIT: compiling costs more than the few hundred thousand rows take.
        session.execute(select(func.set_config("work_mem", "64MB", true())))
        session.execute(select(func.set_config("jit", "off", true())))
    result = []
    for row in session.execute(stmt):
        key, rest = tuple(row[: len(names)]), row[len(names) :]
        n = int(rest[0])
        bins = rest[3:]
        values = tuple(
            interpolate(n, fraction, bins[2 * i], bins[2 * i + 1])
            for i, fraction in enumerate(PERCENTILES)
        )
        result.append(HistogramStats(key, n, int(rest[1]), int(rest[2]), values))
    return result
