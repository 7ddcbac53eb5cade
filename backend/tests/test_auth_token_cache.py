"""Verified tokens are remembered per app (app.web.verified_tokens), and never past their expiry."""

from __future__ import annotations

import time

import jwt as pyjwt
from flask_jwt_extended import decode_token

from app.web import verified_tokens
from tests.test_auth_jwt_errors import ME, SECRET, assert_401


def _claims(app, token: str) -> dict:
    with app.app_context():
        return dict(decode_token(token))


def test_a_remembered_token_is_refused_once_it_expires(app, client, auth):
    user = auth()
    claims = _claims(app, user.tokens["access_token"])
    expires = int(time.time()) + 2
    token = pyjwt.encode(claims | {"exp": expires}, SECRET, algorithm="HS256")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(ME, headers=headers).status_code == 200  # verified and remembered
    assert token in app.extensions[verified_tokens._EXTENSION]
    while time.time() <= expires:  # PyJWT: expired once exp <= now
        time.sleep(0.05)
    body = assert_401(client.get(ME, headers=headers), "token-expired")
    assert body["detail"] == "The token has expired."


def test_a_token_remembered_by_one_app_is_verified_afresh_by_another(app, client, auth,
                                                                       app_factory):
    user = auth()
    assert client.get(ME, headers=user.headers).status_code == 200
    other = app_factory(JWT_SECRET_KEY="another-secret-key-that-is-long-enough-for-hs256")
    body = assert_401(other.test_client().get(ME, headers=user.headers))
    assert "Signature verification failed" in body["detail"]


def test_the_memory_is_bounded(app, client, auth, monkeypatch):
    monkeypatch.setattr(verified_tokens, "MAX_TOKENS", 2)
    user = auth()
    claims = _claims(app, user.tokens["access_token"])
    tokens = [
        pyjwt.encode(claims | {"jti": f"jti-{n}"}, SECRET, algorithm="HS256") for n in range(3)
    ]
    for token in tokens:
        assert client.get(ME, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    remembered = app.extensions[verified_tokens._EXTENSION]
    assert len(remembered) <= 2 and tokens[2] in remembered
