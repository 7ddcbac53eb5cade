"""Schemas of daily plans."""

from __future__ import annotations

from marshmallow import Schema, fields

from app.schemas.videos import VideoRead


class PlanRead(Schema):
    id = fields.Integer()
    challenge_id = fields.Integer()
    day = fields.Integer()
    title = fields.String()
    description = fields.String()
    tasks = fields.List(fields.Raw())
    video = fields.Nested(VideoRead, allow_none=True)
    completed = fields.Boolean()
    completed_at = fields.DateTime(allow_none=True)
