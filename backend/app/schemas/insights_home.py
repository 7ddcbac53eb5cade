"""The dashboard's home: the overview's figures and the people search."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.schemas.insights import FormatQuery, PeriodRead


class OverviewPointRead(Schema):
    start = fields.String(metadata={"description": "A local day (a join week for day 7)"})
    partial = fields.Boolean()
    value = fields.Float(allow_none=True)


class OverviewFigureRead(Schema):
    key = fields.String()
    label = fields.String()
    unit = fields.String(metadata={"description": "count, share (0..1) or ms"})
    value = fields.Float(allow_none=True)
    previous = fields.Float(allow_none=True, metadata={"description": "The previous period's"})
    change = fields.Float(allow_none=True, metadata={"description": "Relative; null without"})
    points = fields.List(fields.Nested(OverviewPointRead))


class OverviewRead(Schema):
    period = fields.Nested(PeriodRead)
    previous_period = fields.Nested(PeriodRead)
    figures = fields.List(fields.Nested(OverviewFigureRead))
    top_events = fields.List(fields.Nested(OverviewFigureRead))


class PeopleQuery(FormatQuery):
    q = fields.String(
        validate=validate.Length(max=254),
        metadata={"description": "Part of an email or display name, or an id"},
    )
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(validate=validate.Length(max=20))


class PersonRead(Schema):
    id = fields.Integer()
    email = fields.String()
    display_name = fields.String()
    created_at = fields.DateTime()
    last_seen = fields.DateTime(allow_none=True, metadata={"description": "Last event or request"})
    is_admin = fields.Boolean()
    is_internal = fields.Boolean()


class PeopleRead(Schema):
    q = fields.String(allow_none=True)
    items = fields.List(fields.Nested(PersonRead))
    next_cursor = fields.String(allow_none=True)
