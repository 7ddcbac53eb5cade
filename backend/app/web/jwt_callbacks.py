"""flask-jwt-extended callbacks: user lookup, revocation, and 401 problem documents.

The look-ups themselves are the auth service's; the app factory hands them in, so the web
plumbing imports no service.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, g
from flask_jwt_extended.exceptions import JWTDecodeError

from app.errors import problem
from app.extensions import jwt
from app.models import User
from app.schemas.fields import MAX_ID

_TOKEN_TYPES = ("access", "refresh")
_MAX_JTI_LENGTH = 64  # revoked_tokens.jti


def parse_user_id(sub: object) -> int | None:
    """The user id a token's `sub` names, or None: only canonical positive decimals."""
    if not isinstance(sub, str) or not (sub.isascii() and sub.isdigit()) or len(sub) > 10:
        return None
    value = int(sub)
    if str(value) != sub or not 0 < value <= MAX_ID:  # users.id is a 32-bit INTEGER
        return None
    return value


def check_claims(payload: dict[str, Any]) -> int:
    """The token's user id; JWTDecodeError (a 401) when a claim we rely on is off.

    Only someone holding the secret can sign such a token; refusing it anyway keeps a
    leaked or buggy issuer from producing tokens that never expire or crash a lookup.
    """
    user_id = parse_user_id(payload.get("sub"))
    if user_id is None:
        raise JWTDecodeError("the subject is not a user id")
    jti = payload.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= _MAX_JTI_LENGTH:
        raise JWTDecodeError("the token has no valid jti claim")
    if payload.get("type") not in _TOKEN_TYPES:
        raise JWTDecodeError("the token has no valid type claim")
    if "exp" not in payload:
        raise JWTDecodeError("the token has no exp claim")
    version = payload.get("ver", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise JWTDecodeError("the token has no valid ver claim")
    return user_id


# Problem types of a 401 (README, "Errors"): a client refreshes on token-expired, logs in
# again on token-revoked or token-invalid, and sends a token on unauthorized.
TOKEN_EXPIRED = "token-expired"
TOKEN_REVOKED = "token-revoked"
TOKEN_INVALID = "token-invalid"
_MAX_SID_LENGTH = 64  # revoked_tokens.jti holds a revoked session id


def _unauthorized(detail: str, type_slug: str = "unauthorized") -> Response:
    # RFC 6750 §3: a request without a token gets no error code, a bad token invalid_token.
    challenge = 'Bearer realm="api"'
    if type_slug != "unauthorized":
        challenge += f', error="invalid_token", error_description="{type_slug}"'
    title = type_slug.replace("-", " ").capitalize()  # "Token expired"
    return problem(
        401, detail, title=title, type_slug=type_slug, headers={"WWW-Authenticate": challenge}
    )


def _session_id(payload: dict[str, Any]) -> str | None:
    """The token's session id (tokens issued before sessions have none)."""
    sid = payload.get("sid")
    if sid is not None and not (isinstance(sid, str) and 0 < len(sid) <= _MAX_SID_LENGTH):
        raise JWTDecodeError("the token has no valid sid claim")
    return sid


# (user_id, jti, session_id) -> (the user or None, whether the jti or session is revoked);
# user_id -> the user.
UserForToken = Callable[..., tuple[User | None, bool]]
GetUser = Callable[..., User | None]


def register_jwt_callbacks(*, user_for_token: UserForToken, get_user: GetUser) -> None:
    @jwt.token_in_blocklist_loader
    def is_revoked(_header: dict[str, Any], payload: dict[str, Any]) -> bool:
        # flask-jwt-extended calls this first for every decoded token, before the
        # user lookup: check the claims here and load the user once for both.
        user, revoked = user_for_token(
            user_id=check_claims(payload), jti=payload["jti"], session_id=_session_id(payload)
        )
        g._token_user = user
        if user is None:
            return False  # the user lookup answers "no longer exists"
        return revoked or payload.get("ver", 0) != user.token_version

    @jwt.user_lookup_loader
    def load_user(_header: dict[str, Any], payload: dict[str, Any]) -> User | None:
        if "_token_user" in g:
            return g._token_user
        user_id = parse_user_id(payload.get("sub"))
        return get_user(user_id=user_id) if user_id is not None else None

    @jwt.user_lookup_error_loader
    def user_gone(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
        return _unauthorized("The token's user no longer exists.", TOKEN_INVALID)

    @jwt.unauthorized_loader
    def missing_token(reason: str) -> Response:
        return _unauthorized("A valid access token is required: " + reason)

    @jwt.invalid_token_loader
    def invalid_token(reason: str) -> Response:
        return _unauthorized("The token is invalid: " + reason, TOKEN_INVALID)

    @jwt.expired_token_loader
    def expired_token(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
        return _unauthorized("The token has expired.", TOKEN_EXPIRED)

    @jwt.revoked_token_loader
    def revoked_token(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
        return _unauthorized("The token has been revoked: log in again.", TOKEN_REVOKED)

    @jwt.needs_fresh_token_loader
    def needs_fresh(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
        return _unauthorized("A fresh token is required.")

    @jwt.token_verification_failed_loader
    def verification_failed(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
        return _unauthorized("The token failed verification.", TOKEN_INVALID)
