"""Schemas of /api/v2/analytics."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class EventCreate(Schema):
    event_type = fields.String(required=True, validate=validate.Length(min=1, max=64))
    event_data = fields.Dict(
        keys=fields.String(),
        load_default=dict,
        metadata={"description": "A JSON object: at most 8 KiB as compact JSON, depth <= 8"},
    )


class EventRead(Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    event_type = fields.String()
    event_data = fields.Dict()
    created_at = fields.DateTime()
