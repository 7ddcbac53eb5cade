"""Schemas of /api/v2/auth."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class UserCreate(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, validate=validate.Length(min=8, max=256), load_only=True)
    display_name = fields.String(required=True, validate=validate.Length(min=1, max=80))
    timezone = fields.String(
        load_default="UTC",
        validate=validate.Length(min=1, max=64),
        metadata={"description": "IANA time zone, for example Europe/Berlin"},
    )


class UserUpdate(Schema):
    display_name = fields.String(validate=validate.Length(min=1, max=80))
    timezone = fields.String(validate=validate.Length(min=1, max=64))


class UserRead(Schema):
    id = fields.Integer()
    email = fields.String()
    display_name = fields.String()
    timezone = fields.String()
    is_admin = fields.Boolean()
    created_at = fields.DateTime()


class LoginCreate(Schema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256), load_only=True)


class PasswordUpdate(Schema):
    current_password = fields.String(
        required=True, validate=validate.Length(min=1, max=256), load_only=True
    )
    new_password = fields.String(
        required=True, validate=validate.Length(min=8, max=256), load_only=True
    )


class TokensRead(Schema):
    access_token = fields.String()
    refresh_token = fields.String()
    token_type = fields.String()


class AccessTokenRead(Schema):
    access_token = fields.String()
    token_type = fields.String()


class MessageRead(Schema):
    message = fields.String()
