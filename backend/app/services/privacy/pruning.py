"""Retention: deleting rows past their settings, and masking stored addresses.

Both work in bounded batches, each its own short transaction, so they can run while
the app serves (no long lock; on SQLite the single write lock is held one batch at a
time). Progress is reported through a callback (the CLI draws a progress bar).
On PostgreSQL, where request_logs is partitioned by month, whole months past the cutoff
are dropped as partitions first; only the rest (the boundary month, the default
partition) is deleted row by row. Deleted events are taken out of the activity rollups'
counts in the same transaction; the latency rollup drops its buckets past the cutoff.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Column, Table, bindparam, delete, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.models import AnalyticsEvent, IpHashKey, RejectedEvent, RequestLog
from app.services.insights.rollups import activity as activity_rollup
from app.services.insights.rollups import event_spans
from app.services.insights.rollups import latency as latency_rollup
from app.services.privacy.ip_masking import HASH_PREFIX, KEY_LIFETIME, mask_ip
from app.services.request_logs import partitions

Progress = Callable[[int], object]


def _noop(_n: int) -> None:
    return None


@dataclass(frozen=True)
class PruneTarget:
    table: Table
    column: Column  # type: ignore[type-arg]
    cutoff: datetime


@dataclass
class PruneResult:
    deleted: dict[str, int] = field(default_factory=dict)
    dropped_partitions: dict[str, list[str]] = field(default_factory=dict)


def prune_targets(
    *,
    now: datetime,
    request_log_days: int | None,
    event_days: int | None,
    rejected_days: int | None = 14,
) -> list[PruneTarget]:
    """What prune deletes: rows created before each cutoff (None days: kept for ever)."""
    logs = RequestLog.__table__
    events = AnalyticsEvent.__table__
    rejected = RejectedEvent.__table__
    keys = IpHashKey.__table__
    targets = []
    if request_log_days:
        targets.append(PruneTarget(logs, logs.c.created_at, now - timedelta(days=request_log_days)))
    if event_days:
        targets.append(PruneTarget(events, events.c.created_at, now - timedelta(days=event_days)))
    if rejected_days:
        targets.append(
            PruneTarget(rejected, rejected.c.received_at, now - timedelta(days=rejected_days))
        )
    targets.append(PruneTarget(keys, keys.c.created_at, now - KEY_LIFETIME))  # type: ignore[arg-type]
    return targets


def count_prunable(engine: Engine, targets: list[PruneTarget]) -> int:
    with engine.connect() as conn:
        return sum(
            conn.execute(
                select(func.count()).select_from(t.table).where(t.column < t.cutoff)
            ).scalar_one()
            for t in targets
        )


def prune(
    engine: Engine,
    targets: list[PruneTarget],
    *,
    batch_size: int = 5000,
    progress: Progress = _noop,
) -> PruneResult:
    """Delete every target's old rows, at most batch_size per transaction.

    A partitioned request_logs loses its whole old months as partitions first.
    """
    result = PruneResult()
    for target in targets:
        pk = next(iter(target.table.primary_key.columns))
        total = 0
        if target.table.name == partitions.PARENT and partitions.is_partitioned(engine):
            dropped = partitions.drop_months_before(
                engine, cutoff=target.cutoff, progress=progress
            )
            result.dropped_partitions[target.table.name] = dropped.dropped
            total += dropped.rows
        while True:
            batch = (
                select(pk).where(target.column < target.cutoff).order_by(pk).limit(batch_size)
            )
            # The cutoff again in the outer statement lets PostgreSQL skip newer partitions.
            statement = delete(target.table).where(pk.in_(batch), target.column < target.cutoff)
            with engine.begin() as conn:
                if target.table.name == AnalyticsEvent.__tablename__:
                    # The activity rollups take these events out of their counts, in the
                    # transaction that deletes them.
                    ids = list(conn.scalars(batch))
                    activity_rollup.forget_events(conn=conn, event_ids=ids)
                    statement = delete(target.table).where(pk.in_(ids))
                deleted = conn.execute(statement).rowcount or 0
            total += deleted
            progress(deleted)
            if deleted < batch_size:
                break
        result.deleted[target.table.name] = total
        if target.table.name == AnalyticsEvent.__tablename__ and total:
            # Users' first and last events may be gone: rebuilt by the next report.
            with Session(engine) as session:
                event_spans.reset(session=session)
                session.commit()
        if target.table.name == RequestLog.__tablename__:
            # After the rows: a fold between the two would count nothing twice or wrongly.
            latency_rollup.prune_latency_rollup(target.cutoff)
    return result


def _ip_filter() -> list[object]:
    logs = RequestLog.__table__
    return [logs.c.ip_address.is_not(None), logs.c.ip_address.not_like(f"{HASH_PREFIX}%")]


def count_addresses(engine: Engine) -> int:
    logs = RequestLog.__table__
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(logs).where(*_ip_filter())
        ).scalar_one()


def anonymize_ips(
    engine: Engine, *, batch_size: int = 5000, progress: Progress = _noop
) -> int:
    """Mask every stored address (hashed values are left alone); the rows changed.

    Always masking, whatever IP_MODE is: hashing old rows with today's key would link
    old visitors to today's. Idempotent: a masked address masks to itself.
    """
    logs = RequestLog.__table__
    statement = (
        update(logs).where(logs.c.id == bindparam("row_id")).values(ip_address=bindparam("ip"))
    )
    last_id = 0
    changed = 0
    while True:
        with engine.begin() as conn:
            rows = conn.execute(
                select(logs.c.id, logs.c.ip_address)
                .where(logs.c.id > last_id, *_ip_filter())
                .order_by(logs.c.id)
                .limit(batch_size)
            ).all()
            if not rows:
                break
            updates = [
                {"row_id": row_id, "ip": masked}
                for row_id, address in rows
                if (masked := mask_ip(address)) != address
            ]
            if updates:
                conn.execute(statement, updates)
        last_id = rows[-1][0]
        changed += len(updates)
        progress(len(rows))
    return changed
