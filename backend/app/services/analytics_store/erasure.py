"""Erasure in ClickHouse, inside the app database's erasure transaction: the person's
events deleted (lightweight DELETE), their request logs kept without the user id (a
mutation), both waited for (lightweight_deletes_sync / mutations_sync = 2: every replica).

It runs before the app database commits, with the shippers' watermark rows locked (so no
batch read before the erasure lands after it). If ClickHouse is down the erasure fails
whole (503) and nothing is erased anywhere; if the app database's commit fails after
ClickHouse deleted, the retry deletes nothing more there: the safe side for a person who
asked to be forgotten.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, scoped_session

from app.services.analytics_store import store
from app.services.analytics_store.client import StoreUnavailable, table
from app.services.analytics_store.shipper import STATE_PREFIX, after_delete
from app.services.insights.rollups import watermark


def erase_user(
    session: Session | scoped_session[Session], *, user_id: int, anonymous_ids: list[str]
) -> None:
    """Delete the user's and their linked anonymous ids' events, anonymize their request
    logs; nothing when reports read the app database."""
    if not store.active():
        return
    watermark.hold(session, STATE_PREFIX)
    try:
        client = store.client()
        client.command(
            f"DELETE FROM {table(client.spec, 'events')} WHERE user_id = {{user:Int64}}"
            " OR (user_id IS NULL AND anonymous_id IN {anonymous:Array(String)})",
            {"user": user_id, "anonymous": anonymous_ids},
            settings={"lightweight_deletes_sync": 2},
        )
        client.command(
            f"ALTER TABLE {table(client.spec, 'request_logs')} UPDATE user_id = NULL"
            " WHERE user_id = {user:Int64}",
            {"user": user_id},
            settings={"mutations_sync": 2},
        )
    except StoreUnavailable as exc:
        raise store.unavailable(exc) from exc


def after_erasure(session: Session | scoped_session[Session]) -> None:
    """After the app database's rows are deleted, in its transaction (SQLite reuses ids)."""
    if store.active():
        after_delete(session)


def pending_mutations() -> int:
    """Mutations (erasures) ClickHouse has not finished: 0 once every erasure is complete."""
    client = store.client()
    rows = client.query(
        "SELECT count() FROM system.mutations WHERE database = {db:String} AND NOT is_done",
        {"db": client.spec.database},
    )
    return int(rows[0][0])
