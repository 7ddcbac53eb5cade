"""Saved dashboards: named, ordered sets of report views (a report page and the query string
of its view, as in its /admin URL), shared by every admin. Any admin may change or delete
any dashboard: they belong to the team, not to whoever saved them first."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import clock
from app.errors import Conflict, NotFound
from app.extensions import db
from app.models import SavedDashboard

# The dashboard's pages a view can be of (routes/admin_dashboard.PAGES, but its own list).
REPORTS = (
    "overview", "trends", "active-users", "challenge-progress", "funnels", "retention",
    "api-health", "realtime", "people", "user-timeline",
)


def list_all() -> list[SavedDashboard]:
    """Every dashboard, by name."""
    return list(db.session.scalars(select(SavedDashboard).order_by(SavedDashboard.name)))


def get(*, dashboard_id: int) -> SavedDashboard:
    dashboard = db.session.get(SavedDashboard, dashboard_id)
    if dashboard is None:
        raise NotFound(f"No dashboard with id {dashboard_id}.")
    return dashboard


def _commit_named(name: str) -> None:
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(
            f"A dashboard named {name!r} exists already.",
            errors=[{"field": "name", "message": "Taken by another dashboard."}],
        ) from None


def create(*, name: str, items: list[dict[str, Any]], created_by: int) -> SavedDashboard:
    """A new dashboard; Conflict when the name is taken."""
    now = clock.now()
    dashboard = SavedDashboard(
        name=name, items=items, created_by=created_by, created_at=now, updated_at=now
    )
    db.session.add(dashboard)
    _commit_named(name)
    return dashboard


def update(
    *, dashboard_id: int, name: str | None = None, items: list[dict[str, Any]] | None = None
) -> SavedDashboard:
    """Rename it or replace its views (the whole list, in order)."""
    dashboard = get(dashboard_id=dashboard_id)
    if name is not None:
        dashboard.name = name
    if items is not None:
        dashboard.items = items
    dashboard.updated_at = clock.now()
    _commit_named(dashboard.name)
    return dashboard


def delete(*, dashboard_id: int) -> None:
    db.session.delete(get(dashboard_id=dashboard_id))
    db.session.commit()
