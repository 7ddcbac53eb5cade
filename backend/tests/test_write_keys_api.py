"""/api/v2/admin/write-keys: list, create (the key shown once), revoke; admins only."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text

from app.extensions import db
from app.models import User
from tests.problem_helpers import assert_problem
from tests.segment_support import NOW, basic, message

URL = "/api/v2/admin/write-keys"


@pytest.fixture
def admin(app, auth) -> Any:
    user = auth()
    with app.app_context():
        db.session.get(User, user.user["id"]).is_admin = True
        db.session.commit()
    return user


def test_a_key_is_created_shown_once_used_and_revoked(client, admin, query, at) -> None:
    at(NOW)
    created = client.post(URL, json={"source": "web", "name": "Web site"}, headers=admin.headers)
    assert created.status_code == 201
    assert created.headers["Cache-Control"] == "no-store"
    body = created.get_json()
    key = body.pop("key")
    assert key.startswith("wk_pub_") and body["key_prefix"] == key[:12]
    assert body | {"created_at": None} == {
        "id": body["id"], "name": "Web site", "source": "web", "is_secret": False,
        "key_prefix": key[:12], "created_at": None, "revoked_at": None,
    }
    assert query("SELECT key_hash FROM write_keys")[0][0] != key  # only its SHA-256 is kept

    listed = client.get(URL, headers=admin.headers).get_json()["items"]
    assert listed == [body] and "key" not in listed[0]

    assert client.post("/v1/track", json=message(), headers=basic(key)).status_code == 200
    revoked = client.delete(f"{URL}/{body['id']}", headers=admin.headers)
    assert revoked.status_code == 200 and revoked.get_json()["revoked_at"]
    assert client.delete(f"{URL}/{body['id']}", headers=admin.headers).status_code == 200
    assert_problem(client.post("/v1/track", json=message(), headers=basic(key)), 401)
    assert client.get(URL, headers=admin.headers).get_json()["items"][0]["revoked_at"]


def test_a_used_key_is_checked_from_memory_and_a_revocation_elsewhere_within_the_bound(
    app, client, admin, at, db_url
) -> None:
    """Like access tokens (TOKEN_CACHE_SECONDS): a valid key's answer is remembered, so a
    /v1 call runs no look-up; a revocation by another process is seen within the bound."""
    at(NOW)
    key = client.post(URL, json={"source": "server", "name": "Jobs"}, headers=admin.headers)
    key = key.get_json()["key"]
    assert client.post("/v1/track", json=message(), headers=basic(key)).status_code == 200

    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.post("/v1/track", json=message(), headers=basic(key)).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert statements and not [s for s in statements if "write_keys" in s]

    other_process = create_engine(db_url)
    with other_process.begin() as conn:
        conn.execute(text("UPDATE write_keys SET revoked_at = CURRENT_TIMESTAMP"))
    other_process.dispose()
    assert client.post("/v1/track", json=message(), headers=basic(key)).status_code == 200
    later = datetime.fromisoformat(NOW.replace("Z", "+00:00")) + timedelta(
        seconds=app.config["TOKEN_CACHE_SECONDS"] + 0.001
    )
    at(later.isoformat())
    assert_problem(client.post("/v1/track", json=message(), headers=basic(key)), 401)


def test_a_server_key_is_secret(client, admin) -> None:
    created = client.post(URL, json={"source": "server", "name": "Backend"}, headers=admin.headers)
    assert created.get_json()["is_secret"] is True
    assert created.get_json()["key"].startswith("wk_sec_")


def test_write_keys_are_for_admins_only(client, auth) -> None:
    plain = auth()
    assert_problem(client.get(URL), 401)
    for method, path, body in (("GET", URL, None), ("POST", URL, {"source": "ios", "name": "x"}),
                               ("DELETE", f"{URL}/1", None)):
        problem = assert_problem(client.open(path, method=method, json=body,
                                             headers=plain.headers), 403)
        assert "admins only" in problem["detail"]


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "x"}, "source"),
    ({"source": "desktop", "name": "x"}, "source"),
    ({"source": "ios"}, "name"),
    ({"source": "ios", "name": ""}, "name"),
    ({"source": "ios", "name": "x" * 101}, "name"),
])
def test_bad_keys_are_422_naming_the_field(client, admin, body, field) -> None:
    problem = assert_problem(client.post(URL, json=body, headers=admin.headers), 422)
    assert field in [e["field"] for e in problem["errors"]]


def test_revoking_an_unknown_key_is_404(client, admin) -> None:
    assert_problem(client.delete(f"{URL}/999", headers=admin.headers), 404)
