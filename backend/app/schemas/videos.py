"""Schemas of videos and likes."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class VideoRead(Schema):
    id = fields.Integer()
    title = fields.String()
    description = fields.String()
    url = fields.String()
    duration_s = fields.Integer()
    liked = fields.Boolean()


class VideoListQuery(Schema):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = fields.String(
        validate=validate.Length(max=64),
        metadata={"description": "next_cursor of the previous page"},
    )


class VideoListRead(Schema):
    items = fields.List(fields.Nested(VideoRead))
    next_cursor = fields.String(allow_none=True)


class LikedVideoRead(VideoRead):
    liked_at = fields.DateTime()


class LikedVideoListRead(Schema):
    items = fields.List(fields.Nested(LikedVideoRead))


class LikeRead(Schema):
    video_id = fields.Integer()
    liked = fields.Boolean()
