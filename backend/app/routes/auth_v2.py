"""/api/v2/auth: register, log in, tokens, the user's profile."""

from __future__ import annotations

from typing import Any

from flask_jwt_extended import current_user, get_jwt

from app.extensions import limiter
from app.routes._common import ApiBlueprint, auth_limit, auth_required, write_limit
from app.schemas.auth import (
    AccessTokenRead,
    LoginCreate,
    MessageRead,
    PasswordUpdate,
    TokensRead,
    UserCreate,
    UserRead,
    UserUpdate,
)
from app.services.auth import service as auth_service
from app.web.rate_limit_keys import auth_email_limit, client_ip_key, login_email_key

blp = ApiBlueprint(
    "auth_v2", __name__, url_prefix="/api/v2/auth", description="Accounts and tokens"
)


@blp.route("/register", methods=["POST"])
@limiter.limit(auth_limit, key_func=client_ip_key)
@blp.arguments(UserCreate)
@blp.response(201, UserRead)
def register(data: dict[str, Any]) -> Any:
    """Create an account"""
    return auth_service.create(**data)


@blp.route("/login", methods=["POST"])
@limiter.limit(auth_limit, key_func=client_ip_key)
@limiter.limit(auth_email_limit, key_func=login_email_key)
@blp.arguments(LoginCreate)
@blp.response(200, TokensRead)
def login(data: dict[str, Any]) -> Any:
    """Exchange email and password for an access and a refresh token"""
    user = auth_service.authenticate(email=data["email"], password=data["password"])
    return auth_service.issue_tokens(user=user)


@blp.route("/refresh", methods=["POST"])
@auth_required(refresh=True)
@blp.response(200, AccessTokenRead)
def refresh() -> Any:
    """Exchange a refresh token for a new access token"""
    return auth_service.issue_access_token(user=current_user)


@blp.route("/logout", methods=["POST"])
@auth_required(any_type=True)
@blp.response(200, MessageRead)
def logout() -> Any:
    """Revoke the presented token (access or refresh)"""
    auth_service.revoke_token(payload=get_jwt())
    return {"message": "Token revoked."}


@blp.route("/me", methods=["GET"])
@auth_required()
@blp.response(200, UserRead)
def get_me() -> Any:
    """The calling user"""
    return current_user


@blp.route("/me", methods=["PATCH"])
@auth_required()
@blp.arguments(UserUpdate)
@blp.response(200, UserRead)
def update_me(data: dict[str, Any]) -> Any:
    """Change display name or time zone"""
    return auth_service.update_profile(user=current_user, **data)


@blp.route("/password", methods=["POST"])
@auth_required()
@limiter.limit(write_limit)
@blp.arguments(PasswordUpdate)
@blp.response(200, TokensRead)
def change_password(data: dict[str, Any]) -> Any:
    """Change the password; every other token stops working, new tokens are returned"""
    user = auth_service.change_password(user=current_user, **data)
    return auth_service.issue_tokens(user=user)
