"""The rollup watermark: a fold covers each committed row exactly once, and never moves
past a row whose insert is still open."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import AnalyticsEvent, RollupState
from app.services.insights.rollups import watermark as rollup_watermark
from tests import services as svc

EVENTS = AnalyticsEvent.__table__


def _add_events(user_id: int, count: int) -> list[int]:
    rows = [AnalyticsEvent(user_id=user_id, event_type="app_opened", event_data={})
            for _ in range(count)]
    db.session.add_all(rows)
    db.session.commit()
    return [row.id for row in rows]


def _fold(name: str) -> rollup_watermark.Span | None:
    span = rollup_watermark.claim(db.session, name, rollup_watermark.committed_high_id(EVENTS))
    db.session.commit()
    return span


def test_spans_cover_each_row_once_and_reset_starts_over(app: Flask, register) -> None:
    user = register()
    with app.app_context():
        ids = _add_events(user["id"], 3)
        first = _fold("activity:UTC")
        assert first == rollup_watermark.Span(low=0, high=max(ids))
        assert _fold("activity:UTC") is None  # nothing new
        more = _add_events(user["id"], 2)
        assert _fold("activity:UTC") == rollup_watermark.Span(low=max(ids), high=max(more))
        # Another rollup keeps its own watermark.
        assert _fold("latency") == rollup_watermark.Span(low=0, high=max(more))
        rollup_watermark.reset(db.session, "activity:")
        db.session.commit()
        assert rollup_watermark.folded_id(db.session, "activity:UTC") == 0
        assert rollup_watermark.folded_id(db.session, "latency") == max(more)
        names = db.session.execute(select(RollupState.name).order_by(RollupState.name))
        assert names.scalars().all() == ["activity:UTC", "latency"]


def test_high_id_waits_for_an_open_insert(app: Flask, register) -> None:
    """An insert still open when the fold starts is waited for, so the watermark never
    passes an id that would commit afterwards. (SQLite has one writer at a time: the
    BEGIN IMMEDIATE cannot start while an insert is open, and cannot be watched waiting.)"""
    user = register()
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("pg_locks shows the wait on PostgreSQL only")
        _add_events(user["id"], 1)
        inserted, high = svc.call_during_open_insert(
            app,
            db.engine,
            EVENTS.insert().values(user_id=user["id"], event_type="app_opened", event_data={})
            .returning(EVENTS.c.id),
            lambda: rollup_watermark.committed_high_id(EVENTS),
        )
        assert high == inserted
