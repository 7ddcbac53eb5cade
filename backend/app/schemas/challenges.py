"""Schemas of challenges and enrollments."""

from __future__ import annotations

from marshmallow import Schema, fields


class ChallengeRead(Schema):
    id = fields.Integer()
    slug = fields.String()
    title = fields.String()
    description = fields.String()
    duration_days = fields.Integer()


class ChallengeListRead(Schema):
    items = fields.List(fields.Nested(ChallengeRead))


class EnrollmentRead(Schema):
    id = fields.Integer()
    challenge_id = fields.Integer()
    challenge = fields.Nested(ChallengeRead)
    start_date = fields.Date()
    joined_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
    active = fields.Boolean()
    day_of_challenge = fields.Integer(allow_none=True)


class EnrollmentListRead(Schema):
    items = fields.List(fields.Nested(EnrollmentRead))
