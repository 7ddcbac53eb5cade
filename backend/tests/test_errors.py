"""Every error is one problem+json document: bodies, routes, methods, crashes."""

from __future__ import annotations

import logging
import uuid

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import User
from tests.problem_helpers import assert_problem

REGISTER = "/api/v2/auth/register"


def _user(**overrides: str) -> dict[str, str]:
    return {
        "email": f"u-{uuid.uuid4().hex[:8]}@example.com",
        "password": "correct horse battery",
        "display_name": "Tester",
        "timezone": "UTC",
    } | overrides


def _user_count(app) -> int:  # type: ignore[no-untyped-def]
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


def test_malformed_json_is_400_problem(client):
    r = client.post(REGISTER, data='{"email": "a@example.com",', content_type="application/json")
    body = assert_problem(r, 400)
    assert "JSON" in body["detail"] and "errors" not in body


def test_invalid_utf8_body_is_400_problem(client):
    r = client.post(REGISTER, data=b'{"email": "\xff\xfe"}', content_type="application/json")
    assert_problem(r, 400)


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_body_with_non_json_content_type_is_415(client, content_type):
    r = client.post(REGISTER, data='{"email": "a@example.com"}', content_type=content_type)
    body = assert_problem(r, 415)
    assert "application/json" in body["detail"]


def test_form_post_is_415(client):
    r = client.post(REGISTER, data={"email": "a@example.com", "password": "x" * 12})
    assert_problem(r, 415)


def test_field_errors_are_422_listing_each_field(client, app):
    r = client.post(REGISTER, json={"email": "not-an-email", "password": "short"})
    body = assert_problem(r, 422)
    fields = {item["field"] for item in body["errors"]}
    assert {"email", "password", "display_name"} <= fields
    assert all(item["message"] for item in body["errors"])
    assert _user_count(app) == 0


@pytest.mark.parametrize("data", ["[1, 2]", '"text"', "null"])
def test_json_that_is_not_an_object_is_422_on_the_body(client, data):
    r = client.post(REGISTER, data=data, content_type="application/json")
    body = assert_problem(r, 422)
    assert [item["field"] for item in body["errors"]] == ["body"]


def test_unknown_field_is_reported_by_name(client):
    r = client.post(REGISTER, json=_user(is_admin=True))
    body = assert_problem(r, 422)
    assert "is_admin" in {item["field"] for item in body["errors"]}


def test_body_over_64_kib_is_413(client, app):
    r = client.post(REGISTER, json=_user(display_name="x" * (64 * 1024)))
    assert_problem(r, 413)
    assert _user_count(app) == 0


def test_body_just_under_64_kib_is_not_refused_for_size(client):
    r = client.post(REGISTER, json=_user(display_name="x" * (60 * 1024)))
    assert r.status_code == 422  # too long a name, but read and validated
    assert "display_name" in {item["field"] for item in r.get_json()["errors"]}


@pytest.mark.parametrize("path", ["/api/v2/no-such-thing", "/no-such-page", "/api/v2/plans/x"])
def test_unknown_route_is_404_problem(client, path):
    assert_problem(client.get(path), 404)


def test_wrong_method_is_405_with_allow(client):
    r = client.delete(REGISTER)
    body = assert_problem(r, 405)
    assert "POST" in {m.strip() for m in r.headers["Allow"].split(",")}
    assert "DELETE" in body["detail"]


@pytest.mark.parametrize(
    "literal", ["NaN", "Infinity", "-Infinity"], ids=["nan", "inf", "neg-inf"]
)
def test_nan_and_infinity_literals_are_400(client, literal):
    data = f'{{"email": "a@example.com", "password": {literal}, "display_name": "x"}}'
    r = client.post(REGISTER, data=data, content_type="application/json")
    assert_problem(r, 400)


def _assert_too_deep(response) -> None:  # type: ignore[no-untyped-def]
    # Syntactically valid JSON, so (DESIGN: "400 only for a body that is not JSON at all")
    # a 422 on the body; above all never a 500 from the parser's RecursionError.
    body = assert_problem(response, 422)
    assert body["errors"] == [{"field": "body", "message": "The body is nested too deeply."}]


def test_deep_nesting_within_size_limit_is_a_problem_not_500(client):
    depth = 30_000
    r = client.post(REGISTER, data="[" * depth + "]" * depth, content_type="application/json")
    _assert_too_deep(r)


def test_100k_deep_nesting_is_a_problem_not_500(app_factory):
    # The default 64 KiB limit would answer 413 first: raise it to reach the parser.
    client = app_factory(MAX_CONTENT_LENGTH=1024 * 1024).test_client()
    depth = 100_000
    for data in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
        r = client.post(REGISTER, data=data, content_type="application/json")
        _assert_too_deep(r)


def test_unexpected_exception_is_500_problem_logged_with_request_id(app_factory, caplog):
    app = app_factory()

    @app.post("/api/v2/test-boom")
    def boom() -> None:
        db.session.add(User(email="half@example.com", password_hash="x", display_name="Half"))
        db.session.flush()
        raise RuntimeError("secret internal detail")

    client = app.test_client()
    request_id = "boom-" + uuid.uuid4().hex
    with caplog.at_level(logging.ERROR):
        r = client.post("/api/v2/test-boom", json={}, headers={"X-Request-ID": request_id})
    body = assert_problem(r, 500)
    assert body["request_id"] == request_id
    text = r.get_data(as_text=True)
    assert "secret internal detail" not in text and "RuntimeError" not in text
    logged = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert any(request_id in rec.getMessage() for rec in logged), [
        rec.getMessage() for rec in logged
    ]
    assert any(rec.exc_info and rec.exc_info[0] is RuntimeError for rec in logged)
    # Nothing half-written: the flushed row was rolled back with the request.
    assert _user_count(app) == 0
    assert client.get("/healthz").status_code == 200


def test_failed_validation_writes_nothing_and_next_request_works(client, app):
    assert_problem(client.post(REGISTER, json=_user(email="bad")), 422)
    assert _user_count(app) == 0
    assert client.post(REGISTER, json=_user()).status_code == 201
    assert _user_count(app) == 1


def test_duplicate_register_is_problem_and_keeps_one_row(client, app):
    data = _user()
    assert client.post(REGISTER, json=data).status_code == 201
    r = client.post(REGISTER, json=data)
    assert r.status_code in {409, 422}
    assert_problem(r, r.status_code)
    assert _user_count(app) == 1


def test_jwt_errors_are_401_problems(client):
    assert_problem(client.get("/api/v2/auth/me"), 401)
    r = client.get("/api/v2/auth/me", headers={"Authorization": "Bearer not.a.token"})
    assert_problem(r, 401)
