"""A user's access token sent beside another credential (the /v1 ingestion's X-User-Token).

/v1 takes its write key in Authorization (HTTP Basic, as Segment's API), so a public
client key's call names its user with the access token in X-User-Token instead. The token
passes every check a bearer token passes (signature, expiry, type, claims, revocation and
token version, the user still existing): flask-jwt-extended's own steps, in its order.
"""

from __future__ import annotations

from typing import Any

from flask_jwt_extended import decode_token
from flask_jwt_extended.exceptions import JWTExtendedException
from flask_jwt_extended.internal_utils import (
    custom_verification_for_token,
    user_lookup,
    verify_token_not_blocklisted,
    verify_token_type,
)
from flask_jwt_extended.utils import get_unverified_jwt_headers
from jwt.exceptions import PyJWTError

from app.web.jwt_callbacks import parse_user_id

HEADER = "X-User-Token"
_MAX_TOKEN_LENGTH = 4096


def verified_user_id(header_value: str | None) -> int | None:
    """The id of the user whose valid access token the header carries ("Bearer " optional);
    None when there is none or it fails any check (the reason is not told apart)."""
    if not header_value or len(header_value) > _MAX_TOKEN_LENGTH:
        return None
    token = header_value.strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    try:
        claims: dict[str, Any] = decode_token(token)
        header = get_unverified_jwt_headers(token)
        verify_token_type(claims, False)  # an access token, not a refresh token
        verify_token_not_blocklisted(header, claims)
        custom_verification_for_token(header, claims)
        user = user_lookup(header, claims)
    except (JWTExtendedException, PyJWTError):
        return None
    if user is None:
        return None
    return parse_user_id(claims.get("sub"))
