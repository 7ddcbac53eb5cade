"""Saved dashboards (/api/v2/insights/dashboards)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates

from app.services.insights.dashboards import REPORTS

MAX_VIEWS = 24


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank.")


def _strip(data: dict[str, Any], *names: str) -> dict[str, Any]:
    """Surrounding spaces go after validation (the lengths are checked on what was sent, as
    the OpenAPI document says)."""
    return data | {n: data[n].strip() for n in names if isinstance(data.get(n), str)}


class DashboardView(Schema):
    report = fields.String(
        required=True,
        validate=validate.OneOf(REPORTS),
        metadata={"description": "The report page: /admin/<report>"},
    )
    title = fields.String(load_default="", validate=validate.Length(max=100))
    query = fields.String(
        load_default="",
        validate=validate.Length(max=2000),
        metadata={
            "description": "The view's query string, as in its /admin URL (without '?'): "
            "preset=last_30d&tz=UTC&steps=..."
        },
    )

    @validates("query")
    def _no_question_mark(self, value: str, **_: Any) -> None:
        if value.startswith("?"):
            raise ValidationError("Without the leading '?'.")

    @post_load
    def _trim(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return _strip(data, "title")


def _views(**kwargs: Any) -> fields.List:
    return fields.List(
        fields.Nested(DashboardView),
        validate=validate.Length(min=1, max=MAX_VIEWS),
        metadata={"description": f"1 to {MAX_VIEWS} views, in order"},
        **kwargs,
    )


def _name(**kwargs: Any) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=100), _not_blank], **kwargs)


class DashboardCreate(Schema):
    name = _name(required=True)
    items = _views(required=True)

    @post_load
    def _trim(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return _strip(data, "name")


class DashboardUpdate(Schema):
    name = _name()
    items = _views()

    @post_load
    def _trim(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return _strip(data, "name")


class DashboardRead(Schema):
    id = fields.Integer()
    name = fields.String()
    items = fields.List(fields.Nested(DashboardView))
    created_by = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class DashboardListRead(Schema):
    items = fields.List(fields.Nested(DashboardRead))
