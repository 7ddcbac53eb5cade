"""/api/v2/auth: register, log in, tokens, the user's profile."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import make_response
from flask_jwt_extended import current_user, get_jwt

from app.errors import DomainError
from app.extensions import limiter
from app.routes._common import ApiBlueprint, auth_limit, auth_required, problems, write_limit
from app.schemas.auth import (
    LoginCreate,
    MessageRead,
    PasswordResetConfirm,
    PasswordResetCreate,
    PasswordUpdate,
    TokensRead,
    UserCreate,
    UserRead,
    UserUpdate,
)
from app.services.auth import reset_links, rotation, tokens
from app.services.auth import service as auth_service
from app.web.rate_limit_keys import (
    auth_client_failure_limit,
    auth_email_limit,
    client_ip_key,
    login_client_key,
    login_email_client_key,
    login_failed,
    password_reset_limit,
    reset_email_key,
)

blp = ApiBlueprint(
    "auth_v2", __name__, url_prefix="/api/v2/auth", description="Accounts and tokens"
)

# RFC 6749 §5.1: a response carrying tokens must not be stored by any cache.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_NO_STORE_DOC = {
    "Cache-Control": {"description": "no-store", "schema": {"type": "string"}},
    "Pragma": {"description": "no-cache", "schema": {"type": "string"}},
}


def no_store(func: Callable[..., Any]) -> Callable[..., Any]:
    """Send the view's response with NO_STORE's headers."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        response = make_response(func(*args, **kwargs))
        response.headers.update(NO_STORE)
        return response

    return wrapper


@blp.route("/register", methods=["POST"])
@limiter.limit(auth_limit, key_func=client_ip_key)
@blp.arguments(UserCreate)
@blp.response(201, UserRead)
@problems(409)
def register(data: dict[str, Any]) -> Any:
    """Create an account"""
    return auth_service.create(**data)


@blp.route("/login", methods=["POST"])
@limiter.limit(auth_limit, key_func=client_ip_key)
@limiter.limit(auth_email_limit, key_func=login_email_client_key, deduct_when=login_failed)
@limiter.limit(auth_client_failure_limit, key_func=login_client_key, deduct_when=login_failed)
@no_store
@blp.arguments(LoginCreate)
@blp.response(200, TokensRead, headers=_NO_STORE_DOC)
@problems(401)
def login(data: dict[str, Any]) -> Any:
    """Exchange email and password for an access and a refresh token (a new session)"""
    user = auth_service.authenticate(
        email=data["email"], password=data["password"], anonymous_id=data.get("anonymous_id")
    )
    return tokens.issue_tokens(user=user)


@blp.route("/refresh", methods=["POST"])
@auth_required(refresh=True)
@no_store
@blp.response(200, TokensRead, headers=_NO_STORE_DOC)
def refresh() -> Any:
    """Exchange a refresh token for the session's next access and refresh tokens (the
    presented refresh token is spent: using it again is 401 token-revoked)"""
    return rotation.rotate(user=current_user, payload=get_jwt())


@blp.route("/logout", methods=["POST"])
@auth_required(any_type=True)
@blp.response(200, MessageRead)
def logout() -> Any:
    """Revoke the presented token's session: its access and refresh tokens"""
    tokens.revoke_token(payload=get_jwt())
    return {"message": "Session revoked."}


@blp.route("/logout-all", methods=["POST"])
@auth_required(any_type=True)
@blp.response(200, MessageRead)
def logout_all() -> Any:
    """Revoke every token of the user, on every device"""
    tokens.revoke_all(user=current_user)
    return {"message": "Every session revoked."}


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
    """Change display name, time zone or analytics opt-out (at least one)"""
    if not data:
        raise DomainError("Nothing to update: send display_name, timezone or analytics_opt_out.")
    return auth_service.update_profile(user=current_user, **data)


@blp.route("/password", methods=["POST"])
@auth_required()
@limiter.limit(write_limit)
@no_store
@blp.arguments(PasswordUpdate)
@blp.response(200, TokensRead, headers=_NO_STORE_DOC)
def change_password(data: dict[str, Any]) -> Any:
    """Change the password; every other token stops working, new tokens are returned"""
    user = auth_service.change_password(user=current_user, **data)
    return tokens.issue_tokens(user=user)


@blp.route("/password-reset", methods=["POST"])
@limiter.limit(auth_limit, key_func=client_ip_key)
@limiter.limit(password_reset_limit, key_func=reset_email_key)
@blp.arguments(PasswordResetCreate)
@blp.response(202, MessageRead)
def request_password_reset(data: dict[str, Any]) -> Any:
    """Send a link to reset the password, if the address has an account (the answer is
    the same either way)"""
    reset_links.request_reset(email=data["email"])
    return {"message": "If this address has an account, a link to reset its password is on "
            "its way."}


@blp.route("/password-reset/confirm", methods=["POST"])
@limiter.limit(auth_limit, key_func=client_ip_key)
@blp.arguments(PasswordResetConfirm)
@blp.response(204)
@problems(400)
def confirm_password_reset(data: dict[str, Any]) -> Any:
    """Set a new password with the token of a reset link (once); every session of the user
    ends"""
    reset_links.confirm_reset(token=data["token"], new_password=data["new_password"])
    return None
