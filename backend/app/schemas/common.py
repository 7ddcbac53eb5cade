"""Schema pieces shared by several blueprints."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class ProblemFieldRead(Schema):
    field = fields.String()
    message = fields.String()


class ProblemRead(Schema):
    """An RFC 9457 problem document."""

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.List(fields.Nested(ProblemFieldRead))
    request_id = fields.String()


class ChallengeQuery(Schema):
    challenge_id = fields.Integer(
        validate=validate.Range(min=1),
        metadata={"description": "Which active enrollment (default: the most recently joined)"},
    )
