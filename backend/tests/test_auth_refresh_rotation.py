"""Refresh-token rotation (issue 16): a refresh answers with the session's next access and
refresh tokens and spends the presented refresh token; using a spent one is refused."""

from __future__ import annotations

import pytest
from flask_jwt_extended import decode_token

from app.services.auth import rotation
from app.services.auth.service import get_user
from tests.test_auth_jwt_errors import assert_401

ME = "/api/v2/auth/me"
REFRESH = "/api/v2/auth/refresh"
LOGOUT = "/api/v2/auth/logout"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_refresh_rotates_the_refresh_token_within_the_session(app, client, auth):
    user = auth()
    first = client.post(REFRESH, headers=bearer(user.tokens["refresh_token"]))
    assert first.status_code == 200, first.get_json()
    tokens = first.get_json()
    assert set(tokens) == {"access_token", "refresh_token", "token_type"}
    second = client.post(REFRESH, headers=bearer(tokens["refresh_token"]))
    assert second.status_code == 200, second.get_json()
    with app.app_context():
        claims = [
            decode_token(t)
            for t in (
                user.tokens["refresh_token"],
                tokens["refresh_token"],
                second.get_json()["refresh_token"],
                second.get_json()["access_token"],
            )
        ]
    assert len({c["sid"] for c in claims}) == 1
    assert len({c["jti"] for c in claims}) == 4
    assert client.get(ME, headers=bearer(second.get_json()["access_token"])).status_code == 200


def test_reusing_a_spent_refresh_token_is_refused(client, auth):
    user = auth()
    spent = bearer(user.tokens["refresh_token"])
    renewed = client.post(REFRESH, headers=spent).get_json()
    body = assert_401(client.post(REFRESH, headers=spent), "token-revoked")
    assert "used already" in body["detail"] or "revoked" in body["detail"]
    # Refusing the stale copy leaves the session's current tokens working.
    assert client.get(ME, headers=bearer(renewed["access_token"])).status_code == 200
    assert client.post(REFRESH, headers=bearer(renewed["refresh_token"])).status_code == 200


def test_logout_ends_the_rotated_refresh_token(client, auth):
    user = auth()
    renewed = client.post(REFRESH, headers=bearer(user.tokens["refresh_token"])).get_json()
    assert client.post(LOGOUT, headers=bearer(renewed["access_token"])).status_code == 200
    assert_401(client.post(REFRESH, headers=bearer(renewed["refresh_token"])), "token-revoked")


def test_two_refreshes_racing_with_one_token_get_one_answer(app, auth):
    """The blocklist row is the claim: a second process whose token cache still says
    "not revoked" cannot spend the same refresh token again."""
    user = auth()
    with app.app_context():
        payload = decode_token(user.tokens["refresh_token"])
        owner = get_user(user_id=user.user["id"])
        assert set(rotation.rotate(user=owner, payload=payload)) >= {"refresh_token"}
        with pytest.raises(rotation.RefreshTokenSpent):
            rotation.rotate(user=owner, payload=payload)
