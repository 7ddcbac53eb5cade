"""Write keys of /v1 (/api/v2/admin/write-keys)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.models import WRITE_KEY_SOURCES


class WriteKeyCreate(Schema):
    source = fields.String(
        required=True,
        validate=validate.OneOf(WRITE_KEY_SOURCES),
        metadata={"description": "ios, android, web (public keys) or server (secret)"},
    )
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))


class WriteKeyRead(Schema):
    id = fields.Integer()
    name = fields.String()
    source = fields.String()
    is_secret = fields.Boolean()
    key_prefix = fields.String(metadata={"description": "The key's first characters"})
    created_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)


class WriteKeyCreatedRead(WriteKeyRead):
    key = fields.String(metadata={"description": "The key itself: shown this once, never again"})


class WriteKeyListRead(Schema):
    items = fields.List(fields.Nested(WriteKeyRead))
