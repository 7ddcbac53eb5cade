"""Every way a token can be wrong is a 401 problem document: never 422, never 500."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt as pyjwt
import pytest
from flask_jwt_extended import create_access_token, create_refresh_token, decode_token
from sqlalchemy import text

from app.extensions import db

PROBLEM = "application/problem+json"
ME = "/api/v2/auth/me"
SECRET = "test-secret-key-that-is-long-enough-for-hs256"  # make_config's JWT_SECRET_KEY


def assert_401(response, kind: str = "token-invalid") -> dict:
    """A 401 problem document of type kind: unauthorized (no token), token-expired,
    token-revoked or token-invalid."""
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == 401
    assert body["type"] == f"https://errors.challenge.app/{kind}", body
    assert body["title"] and body["detail"]
    assert "Traceback" not in response.get_data(as_text=True)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    return body


def b64(data: dict) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims_of(app, token: str) -> dict:
    with app.app_context():
        return decode_token(token)


def forged(claims: dict, *, secret: str = SECRET) -> str:
    return pyjwt.encode(claims, secret, algorithm="HS256")


def valid_claims(app, user) -> dict:
    return dict(claims_of(app, user.tokens["access_token"]))


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer  "},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "bearer"},
        {"Authorization": "Token abc"},
        {"Authorization": "Bearer a b"},
    ],
    ids=[
        "none",
        "empty",
        "bearer-only",
        "bearer-space",
        "bearer-spaces",
        "basic",
        "lower",
        "token-scheme",
        "two-parts",
    ],
)
def test_missing_or_misshapen_authorization_header_is_401(client, headers):
    # A Bearer header whose token is empty or split is a malformed token; anything else
    # carries no bearer token at all.
    malformed = headers.get("Authorization", "").startswith("Bearer")
    assert_401(client.get(ME, headers=headers), "token-invalid" if malformed else "unauthorized")


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "not.a.jwt",
        "a.b.c.d",
        "....",
        "eyJhbGciOiJIUzI1NiJ9.e30.",
        "eyJhbGciOiJIUzI1NiJ9.%%%%.abc",
        "\u00e9\u00e9\u00e9",
        "x" * 5000,
    ],
    ids=[
        "word",
        "three-words",
        "four-parts",
        "dots",
        "no-signature",
        "bad-base64",
        "non-ascii",
        "long",
    ],
)
def test_malformed_token_is_401(client, token):
    assert_401(client.get(ME, headers={"Authorization": f"Bearer {token}"}))


def test_expired_token_is_401(app, client, auth):
    user = auth()
    with app.app_context():
        token = create_access_token(
            identity=str(user.user["id"]),
            additional_claims={"ver": 0},
            expires_delta=timedelta(seconds=-1),
        )
    body = assert_401(client.get(ME, headers={"Authorization": f"Bearer {token}"}), "token-expired")
    assert "expired" in body["detail"]


def test_token_signed_with_another_secret_is_401(app, client, auth):
    user = auth()
    claims = valid_claims(app, user)
    token = forged(claims, secret="another-secret-that-is-also-long-enough!")
    assert_401(client.get(ME, headers={"Authorization": f"Bearer {token}"}))
    # the same claims under the right secret pass: the signature alone made the difference
    good = forged(claims)
    assert client.get(ME, headers={"Authorization": f"Bearer {good}"}).status_code == 200


def test_unsigned_alg_none_token_is_401(app, client, auth):
    user = auth()
    claims = valid_claims(app, user)
    token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    assert_401(client.get(ME, headers={"Authorization": f"Bearer {token}"}))


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_token_with_another_algorithm_is_401(app, client, auth):
    user = auth()
    token = pyjwt.encode(valid_claims(app, user), SECRET, algorithm="HS512")
    assert_401(client.get(ME, headers={"Authorization": f"Bearer {token}"}))


def test_refresh_token_used_as_access_token_is_401(client, auth):
    user = auth()
    refresh = {"Authorization": f"Bearer {user.tokens['refresh_token']}"}
    assert_401(client.get(ME, headers=refresh))
    assert_401(client.patch(ME, headers=refresh, json={"display_name": "X"}))
    assert_401(
        client.post(
            "/api/v2/auth/password",
            headers=refresh,
            json={"current_password": user.user["password"], "new_password": "brand new pw"},
        )
    )


def test_token_of_a_deleted_user_is_401(app, client, auth):
    user = auth()
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DELETE FROM users WHERE id = :id"), {"id": user.user["id"]})
    body = assert_401(client.get(ME, headers=user.headers))
    assert "no longer exists" in body["detail"]
    assert_401(
        client.post(
            "/api/v2/auth/refresh",
            headers={"Authorization": f"Bearer {user.tokens['refresh_token']}"},
        )
    )


@pytest.mark.parametrize(
    "sub",
    ["abc", "", " 1", "1 ", "1_0", "+1", "-1", "0", "1.0", "\u0661", "9" * 30, "0x1"],
)
def test_token_whose_subject_is_not_a_user_id_is_401(app, client, auth, sub):
    user = auth()
    claims = valid_claims(app, user) | {"sub": sub}
    token = forged(claims)
    assert_401(client.get(ME, headers={"Authorization": f"Bearer {token}"}))


@pytest.mark.parametrize("sub", [1, None, ["1"], {"id": 1}])
def test_token_whose_subject_is_not_a_string_is_401(app, client, auth, sub):
    user = auth()
    claims = valid_claims(app, user) | {"sub": sub}
    assert_401(client.get(ME, headers={"Authorization": f"Bearer {forged(claims)}"}))


# A token without "type" is an access token by flask-jwt-extended's design; without
# "exp" it would never expire, so it is refused.
@pytest.mark.parametrize("claim", ["sub", "jti", "exp"])
def test_token_missing_a_required_claim_is_401(app, client, auth, claim):
    user = auth()
    claims = valid_claims(app, user)
    del claims[claim]
    assert_401(client.get(ME, headers={"Authorization": f"Bearer {forged(claims)}"}))


@pytest.mark.parametrize(
    "changes",
    [
        {"jti": 5},
        {"jti": None},
        {"jti": ""},
        {"jti": "x" * 65},
        {"ver": "0"},
        {"ver": None},
        {"ver": False},
        {"type": "other"},
        {"exp": "soon"},
    ],
    ids=[
        "jti-int",
        "jti-null",
        "jti-empty",
        "jti-long",
        "ver-str",
        "ver-null",
        "ver-bool",
        "type-other",
        "exp-str",
    ],
)
def test_token_with_claims_of_the_wrong_type_is_401(app, client, auth, changes):
    user = auth()
    claims = valid_claims(app, user) | changes
    assert_401(client.get(ME, headers={"Authorization": f"Bearer {forged(claims)}"}))


def test_token_from_the_future_is_401(app, client, auth):
    user = auth()
    soon = int((datetime.now(UTC) + timedelta(hours=1)).timestamp())
    claims = valid_claims(app, user) | {"nbf": soon, "iat": soon}
    assert_401(client.get(ME, headers={"Authorization": f"Bearer {forged(claims)}"}))


def test_token_of_an_unknown_user_cannot_log_out(app, client, query):
    with app.app_context():
        refresh = create_refresh_token(identity=str(10**6), additional_claims={"ver": 0})
    assert_401(client.post("/api/v2/auth/logout", headers={"Authorization": f"Bearer {refresh}"}))
    assert query("SELECT count(*) FROM revoked_tokens") == [(0,)]


@pytest.mark.parametrize("path", ["/api/v2/auth/logout", "/api/v2/auth/refresh"])
def test_malformed_claims_are_refused_on_every_auth_route(app, client, auth, path):
    user = auth()
    claims = claims_of(app, user.tokens["refresh_token"]) | {"jti": "x" * 65}
    assert_401(client.post(path, headers={"Authorization": f"Bearer {forged(claims)}"}))
