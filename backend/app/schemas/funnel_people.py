"""The people of a funnel step (/api/v2/insights/funnels/people)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.schemas.insights import FunnelStepCreate, PeriodRead


class FunnelPeopleCreate(Schema):
    steps = fields.List(
        fields.Nested(FunnelStepCreate), required=True, validate=validate.Length(min=2, max=8)
    )
    window_days = fields.Integer(load_default=14, validate=validate.Range(min=1, max=365))
    step = fields.Integer(
        required=True,
        validate=validate.Range(min=2, max=8),
        metadata={"description": "The step they did not reach (1-based): dropped before it"},
    )
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class DroppedUserRead(Schema):
    id = fields.Integer()
    email = fields.String()
    display_name = fields.String()


class FunnelPeopleRead(Schema):
    period = fields.Nested(PeriodRead)
    step = fields.Integer()
    dropped = fields.Integer(metadata={"description": "Every person who dropped, anonymous too"})
    anonymous = fields.Integer(metadata={"description": "Anonymous visitors (not listed)"})
    items = fields.List(fields.Nested(DroppedUserRead))
