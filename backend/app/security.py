"""flask-jwt-extended callbacks: user lookup, revocation, and 401 problem documents."""

from __future__ import annotations

from typing import Any

from flask import Response, g

from app.errors import problem
from app.extensions import jwt
from app.models import User
from app.services import auth_service


def _unauthorized(detail: str) -> Response:
    return problem(
        401,
        detail,
        type_slug="unauthorized",
        headers={"WWW-Authenticate": 'Bearer realm="api"'},
    )


def register_jwt_callbacks() -> None:
    @jwt.user_lookup_loader
    def load_user(_header: dict[str, Any], payload: dict[str, Any]) -> User | None:
        user = g.get("_token_user")
        if user is None:
            user = auth_service.get_user(user_id=int(payload["sub"]))
        return user

    @jwt.token_in_blocklist_loader
    def is_revoked(_header: dict[str, Any], payload: dict[str, Any]) -> bool:
        try:
            user_id = int(payload["sub"])
        except (KeyError, TypeError, ValueError):
            return True
        user = auth_service.get_user(user_id=user_id)
        g._token_user = user
        if user is None or payload.get("ver", 0) != user.token_version:
            return True
        return auth_service.is_token_revoked(jti=payload["jti"])

    @jwt.user_lookup_error_loader
    def user_gone(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
        return _unauthorized("The token's user no longer exists.")

    @jwt.unauthorized_loader
    def missing_token(reason: str) -> Response:
        return _unauthorized("A valid access token is required: " + reason)

    @jwt.invalid_token_loader
    def invalid_token(reason: str) -> Response:
        return _unauthorized("The token is invalid: " + reason)

    @jwt.expired_token_loader
    def expired_token(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
        return _unauthorized("The token has expired.")

    @jwt.revoked_token_loader
    def revoked_token(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
        return _unauthorized("The token has been revoked.")

    @jwt.needs_fresh_token_loader
    def needs_fresh(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
        return _unauthorized("A fresh token is required.")

    @jwt.token_verification_failed_loader
    def verification_failed(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
        return _unauthorized("The token failed verification.")

