"""Schemas of /api/v2/auth."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from app.schemas.fields import JsonBoolean
from app.services.auth.service import is_known_timezone


def _validate_zone(name: str) -> None:
    if not is_known_timezone(name):
        raise ValidationError(f"Unknown IANA time zone: {name!r}.")


class TrimmedString(fields.String):
    """A string with surrounding whitespace removed before validation."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).strip()


class TrimmedEmail(fields.Email):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).strip()


def _display_name() -> TrimmedString:
    return TrimmedString(validate=validate.Length(min=1, max=80))


def _timezone(**kwargs: Any) -> fields.String:
    return fields.String(
        validate=[validate.Length(min=1, max=64), _validate_zone],
        metadata={"description": "IANA time zone, for example Europe/Berlin"},
        **kwargs,
    )


def _anonymous_id() -> fields.String:
    return fields.String(
        validate=validate.Length(min=1, max=200),
        load_only=True,
        metadata={
            "description": "The device's or browser's anonymous id (as /v1's anonymousId): "
            "its events become this user's, unless it is already linked to another user, "
            "which it stays (the call still succeeds and does not say so)"
        },
    )


def _password(min_length: int) -> fields.String:
    return fields.String(
        required=True, validate=validate.Length(min=min_length, max=256), load_only=True
    )


class UserCreate(Schema):
    email = TrimmedEmail(required=True, validate=validate.Length(max=254))
    password = _password(8)
    display_name = TrimmedString(required=True, validate=validate.Length(min=1, max=80))
    timezone = _timezone(load_default="UTC")
    anonymous_id = _anonymous_id()


class UserUpdate(Schema):
    display_name = _display_name()
    timezone = _timezone()
    analytics_opt_out = JsonBoolean(
        metadata={"description": "true: no product events are stored, request logs are anonymous"}
    )


class UserRead(Schema):
    id = fields.Integer()
    email = fields.String()
    display_name = fields.String()
    timezone = fields.String()
    is_admin = fields.Boolean()
    analytics_opt_out = fields.Boolean()
    created_at = fields.DateTime()


class LoginCreate(Schema):
    email = TrimmedString(required=True, validate=validate.Length(min=1, max=254))
    password = _password(1)
    anonymous_id = _anonymous_id()


class PasswordUpdate(Schema):
    current_password = _password(1)
    new_password = _password(8)


class TokensRead(Schema):
    access_token = fields.String()
    refresh_token = fields.String()
    token_type = fields.String()


class AccessTokenRead(Schema):
    access_token = fields.String()
    token_type = fields.String()


class MessageRead(Schema):
    message = fields.String()


class PasswordResetCreate(Schema):
    email = TrimmedString(required=True, validate=validate.Length(min=1, max=254))


class PasswordResetConfirm(Schema):
    token = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        load_only=True,
        metadata={"description": "The token from the reset link (after #token=)"},
    )
    new_password = _password(8)
