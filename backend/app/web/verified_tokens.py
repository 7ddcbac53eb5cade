"""flask-jwt-extended's JWTManager, remembering the tokens it has verified in this process.

A client sends the same access token with every request, and decoding it costs three
parses of the token and an HMAC (about a tenth of a millisecond, a few percent of a cheap
request). A token's signature and claims cannot change, so once verified its claims are
kept, per app and bounded, and only the expiry is checked again (as PyJWT checks it).
Everything that can change is still checked on every request after the decode: the
blocklist and the user's token version (app.web.jwt_callbacks.is_revoked), the token type and
freshness (flask-jwt-extended).
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from flask import current_app
from flask_jwt_extended import JWTManager
from flask_jwt_extended.config import config

MAX_TOKENS = 4096  # per app; when full the cache starts over
_EXTENSION = "verified_tokens"


def _seconds(leeway: float | timedelta) -> float:
    return leeway.total_seconds() if isinstance(leeway, timedelta) else leeway


class CachingJWTManager(JWTManager):
    """JWTManager whose decode answers a token verified before from memory until it expires."""

    def _decode_jwt_from_config(
        self, encoded_token: str, csrf_value: Any = None, allow_expired: bool = False
    ) -> dict:
        if csrf_value is not None or allow_expired:  # not the plain bearer-token path
            return super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        verified: dict[str, dict] = current_app.extensions.setdefault(_EXTENSION, {})
        claims = verified.get(encoded_token)
        # PyJWT's own rule: expired once exp <= now - leeway.
        if claims is not None and claims["exp"] > time.time() - _seconds(config.leeway):
            return dict(claims)  # a copy: callers may add to it
        claims = super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        if type(claims.get("exp")) is int:  # tokens without an expiry are never cached
            if len(verified) >= MAX_TOKENS:
                verified.clear()
            verified[encoded_token] = dict(claims)
        return claims
