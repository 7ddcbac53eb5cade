"""Schema pieces shared by several blueprints."""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields

from app.schemas.fields import Id


class ProblemFieldRead(Schema):
    field = fields.String()
    message = fields.String()


class ProblemRead(Schema):
    """An RFC 9457 problem document; some carry extension members (e.g. unlocks_on)."""

    class Meta:
        unknown = INCLUDE

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.List(fields.Nested(ProblemFieldRead))
    request_id = fields.String()


class ChallengeQuery(Schema):
    challenge_id = Id(
        metadata={"description": "Which active enrollment (default: the most recently joined)"},
    )
