"""/api/v2/insights/dashboards: saved dashboards, shared by the admins."""

from __future__ import annotations

from typing import Any

from flask_jwt_extended import current_user

from app.errors import DomainError
from app.routes._admin import admins_only
from app.routes._common import ApiBlueprint, problems
from app.schemas.dashboards import (
    DashboardCreate,
    DashboardListRead,
    DashboardRead,
    DashboardUpdate,
)
from app.services.insights import dashboards

blp = ApiBlueprint(
    "insights_dashboards",
    __name__,
    url_prefix="/api/v2/insights/dashboards",
    description="Saved dashboards: named sets of report views, shared by the admins",
)

ADMINS = admins_only("Dashboards")


@blp.route("", methods=["GET"])
@ADMINS
@blp.response(200, DashboardListRead)
def list_dashboards() -> Any:
    """Every saved dashboard, by name"""
    return {"items": dashboards.list_all()}


@blp.route("", methods=["POST"])
@ADMINS
@blp.arguments(DashboardCreate)
@blp.response(201, DashboardRead)
@problems(409)
def create_dashboard(data: dict[str, Any]) -> Any:
    """Save a named set of views (a name no other dashboard has)"""
    return dashboards.create(**data, created_by=current_user.id)


@blp.route("/<int:dashboard_id>", methods=["GET"])
@ADMINS
@blp.response(200, DashboardRead)
def get_dashboard(dashboard_id: int) -> Any:
    """One dashboard and its views"""
    return dashboards.get(dashboard_id=dashboard_id)


@blp.route("/<int:dashboard_id>", methods=["PATCH"])
@ADMINS
@blp.arguments(DashboardUpdate)
@blp.response(200, DashboardRead)
@problems(409)
def update_dashboard(data: dict[str, Any], dashboard_id: int) -> Any:
    """Rename a dashboard or replace its views (the whole list, in order)"""
    if not data:
        raise DomainError("Nothing to update: send name or items.")
    return dashboards.update(dashboard_id=dashboard_id, **data)


@blp.route("/<int:dashboard_id>", methods=["DELETE"])
@ADMINS
@blp.response(204)
def delete_dashboard(dashboard_id: int) -> Any:
    """Delete a dashboard (for everyone)"""
    dashboards.delete(dashboard_id=dashboard_id)
    return None
