"""The session report queries run on: the read replica when INSIGHTS_DATABASE_URL is set.

The replica's connections are read-only (PostgreSQL: default_transaction_read_only;
SQLite: PRAGMA query_only), so no code path can write there by mistake.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import db

BIND = "insights"


def reads_primary() -> bool:
    """True when reports read the primary, where the rollups are kept and can be folded."""
    return BIND not in current_app.config.get("SQLALCHEMY_BINDS", {})


def reader() -> Session:
    """db.session, or this request's session on the replica."""
    if reads_primary():
        return db.session
    session = g.get("_insights_session")
    if session is None:
        session = g._insights_session = Session(db.engines[BIND])
    return session


def _close(_exc: BaseException | None) -> None:
    session = g.pop("_insights_session", None)
    if session is not None:
        session.close()


def _sqlite_query_only(dbapi_connection: Any, _record: Any) -> None:
    from app.services.insights.sqlite_functions import register_sqlite_functions

    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()
    register_sqlite_functions(dbapi_connection)


def register_reader(app: Flask) -> None:
    if BIND not in app.config.get("SQLALCHEMY_BINDS", {}):
        return
    with app.app_context():
        engine = db.engines[BIND]
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_query_only)
    app.teardown_appcontext(_close)
