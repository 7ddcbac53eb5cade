"""Refresh-token rotation: every refresh spends the presented refresh token.

POST /auth/refresh answers with a new access token *and* a new refresh token of the same
session (the same `sid`), and puts the presented refresh token's jti on the blocklist in
the same step. Presenting it again is refused with token-revoked, so a stolen refresh
token is good for one use at most, and a client learns at once that its copy is stale.

The blocklist row is the claim: two refreshes racing with one token (or another process
whose token cache has not yet seen the first) insert the same unique jti, and only one
insert commits. Logging out still revokes the whole session by its sid, which outlives
every refresh token issued before it (tokens.revoke_token).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from flask_jwt_extended import create_access_token, create_refresh_token
from sqlalchemy.exc import IntegrityError

from app.errors import Unauthorized
from app.extensions import db
from app.models import RevokedToken, User

REFRESH = "refresh"  # RevokedToken.token_type of a spent refresh token
# RFC 6750 §3, as every other token-* 401 (web/jwt_callbacks.py).
CHALLENGE = {
    "WWW-Authenticate": 'Bearer realm="api", error="invalid_token", '
    'error_description="token-revoked"'
}


class RefreshTokenSpent(Unauthorized):
    """The refresh token was used already (a 401 token-revoked, as a logged-out one)."""

    type_slug = "token-revoked"


def rotate(*, user: User, payload: dict[str, Any]) -> dict[str, str]:
    """Spend the presented refresh token (its decoded `payload`) and issue the session's
    next access and refresh tokens. RefreshTokenSpent when it was spent already."""
    db.session.add(
        RevokedToken(
            jti=payload["jti"],
            token_type=REFRESH,
            user_id=user.id,
            expires_at=datetime.fromtimestamp(payload["exp"], UTC),
        )
    )
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise RefreshTokenSpent(
            "This refresh token has been used already: log in again.", headers=CHALLENGE
        ) from None
    # A token from before sessions existed has no sid: its successors start one.
    claims = {"ver": user.token_version, "sid": payload.get("sid") or uuid.uuid4().hex}
    identity = str(user.id)
    return {
        "access_token": create_access_token(identity=identity, additional_claims=claims),
        "refresh_token": create_refresh_token(identity=identity, additional_claims=claims),
        "token_type": "Bearer",
    }
