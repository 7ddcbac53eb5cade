"""Hostile input is a 4xx naming the field, never a 500 (issue 13, "Server errors from input").

JSON values no column can hold (NUL, lone surrogates, numbers beyond a double) are refused
with 400 by the one body and query-string check (web/json_body.py) on every operation the
OpenAPI document lists; dates, ids and other integers are bounded by the schemas (422, as
every other bad parameter). Bodies are sent as raw bytes so that escapes such as \\u0000
and \\ud800 reach the server exactly as written.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask_jwt_extended import create_access_token

from app.extensions import db
from app.models import User
from tests.problem_helpers import assert_problem
from tests.segment_support import basic, create_key

# Raw JSON texts: the server must never store, compare or echo these as they are.
HOSTILE = {
    "nul": '"a\\u0000b"',
    "lone_surrogate": '"a\\ud800b"',
    "beyond_double": "1e400",
    "beyond_double_negative": "-1e999",
    "integer_beyond_double": "1" + "0" * 400,
}
# The analytics ingestion judges event text itself: 422 by contract (DESIGN.md).
OPTED_OUT = {"/api/v2/analytics/track", "/api/v2/analytics/batch"}
PATH_VALUES = {
    "day": "1", "challenge_id": "1", "video_id": "1", "user_id": "1", "dashboard_id": "1",
    "key_id": "1",
}
INSIGHTS = "/api/v2/insights"


@pytest.fixture
def admin(app, auth) -> Any:
    user = auth()
    with app.app_context():
        db.session.get(User, user.user["id"]).is_admin = True
        db.session.commit()
    return user


def _operations(client) -> list[tuple[str, str, dict[str, Any]]]:
    doc = client.get("/api/openapi.json").get_json()
    out = []
    for template, item in doc["paths"].items():
        path = re.sub(r"{(\w+)}", lambda m: PATH_VALUES[m.group(1)], template)
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                out.append((method.upper(), path, operation))
    return out


def _send(client, method: str, path: str, body: str | None, headers: dict[str, str]) -> Any:
    return client.open(
        path,
        method=method,
        data=body.encode("utf-8") if body is not None else None,
        content_type="application/json" if body is not None else None,
        headers=headers,
    )


def _properties(doc: dict[str, Any], operation: dict[str, Any]) -> list[str]:
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    name = schema["$ref"].rsplit("/", 1)[-1]
    return list(doc["components"]["schemas"][name]["properties"])


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_every_json_operation_refuses_unstorable_values_with_400(app, client, admin, kind):
    doc = client.get("/api/openapi.json").get_json()
    raw = HOSTILE[kind]
    write_key = basic(create_key(app, "server"))  # /v1 (Segment's API) takes a write key
    checked = []
    for method, path, operation in _operations(client):
        if "requestBody" not in operation or path in OPTED_OUT:
            continue
        fields = _properties(doc, operation)
        body = "{" + ",".join(f'"{name}":{raw}' for name in fields) + "}"
        headers = write_key if path.startswith("/v1/") else admin.headers
        body_doc = assert_problem(_send(client, method, path, body, headers), 400)
        checked.append(path)
        if path.startswith("/v1/"):
            continue  # Segment's single calls answer one reason for the message, no field list
        named = {e["field"] for e in body_doc["errors"]}
        assert named == set(fields), (method, path, body_doc)
    assert {
        "/api/v2/auth/register", "/api/v2/auth/login", "/api/v2/auth/me",
        "/api/v2/auth/password", "/api/v2/me", f"{INSIGHTS}/funnels", "/v1/track",
    } <= set(checked)


@pytest.mark.parametrize("kind", ["nul", "lone_surrogate"])
def test_unstorable_text_in_a_key_is_refused_with_400(client, admin, kind):
    key = HOSTILE[kind]
    for path, method in [("/api/v2/auth/me", "PATCH"), ("/api/v2/auth/register", "POST")]:
        body = assert_problem(_send(client, method, path, f'{{{key}:1}}', admin.headers), 400)
        assert body["errors"][0]["field"] in {"a\\u0000b", "a\\ud800b"}, body
        assert body["errors"][0]["message"].startswith("Key:")


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_funnel_where_value_is_refused_naming_its_path(client, admin, kind):
    body = (
        '{"steps":[{"event_type":"app_opened","where":{"plan":' + HOSTILE[kind] + '}},'
        '{"event_type":"app_opened"}]}'
    )
    r = _send(client, "POST", f"{INSIGHTS}/funnels", body, admin.headers)
    problem = assert_problem(r, 400)
    assert [e["field"] for e in problem["errors"]] == ["steps.0.where.plan"]


@pytest.mark.parametrize(
    "value", ['{"a": 1}', "[1, 2]", "9223372036854775808", "-9223372036854775809"]
)
def test_funnel_where_value_must_be_a_scalar_both_databases_compare(client, admin, value):
    body = (
        '{"steps":[{"event_type":"app_opened","where":{"plan":' + value + '}},'
        '{"event_type":"app_opened"}]}'
    )
    problem = assert_problem(_send(client, "POST", f"{INSIGHTS}/funnels", body, admin.headers), 422)
    assert problem["errors"][0]["field"].startswith("steps.0.where.plan"), problem


def test_funnel_where_scalars_still_match(client, admin):
    for value in ['"x"', "7", "9223372036854775807", "1.5", "true", "null"]:
        body = (
            '{"steps":[{"event_type":"app_opened","where":{"plan":' + value + '}},'
            '{"event_type":"app_opened"}]}'
        )
        r = _send(client, "POST", f"{INSIGHTS}/funnels", body, admin.headers)
        assert r.status_code == 200, (value, r.get_data(as_text=True))


def test_patch_me_with_nul_changes_nothing_and_keeps_the_user_in_its_log(
    client, auth, flush_logs, query
):
    user = auth(display_name="Before")
    r = _send(client, "PATCH", "/api/v2/auth/me", '{"display_name":"a\\u0000b"}', user.headers)
    assert assert_problem(r, 400)["errors"] == [
        {"field": "display_name", "message": "NUL characters (\\u0000) are not allowed."}
    ]
    assert client.get("/api/v2/auth/me", headers=user.headers).get_json()["display_name"] == (
        "Before"
    )
    flush_logs()
    rows = query(
        "SELECT status, user_id FROM request_logs WHERE method = 'PATCH' AND endpoint = :e",
        {"e": "/api/v2/auth/me"},
    )
    assert [tuple(row) for row in rows] == [(400, user.user["id"])]


def test_erasure_with_unstorable_password_erases_nothing(client, auth):
    user = auth()
    r = _send(client, "DELETE", "/api/v2/me", '{"password":"\\ud800"}', user.headers)
    assert assert_problem(r, 400)["errors"][0]["field"] == "password"
    assert client.get("/api/v2/auth/me", headers=user.headers).status_code == 200


@pytest.mark.parametrize("kind", ["nul", "lone_surrogate", "beyond_double"])
def test_analytics_keeps_its_422_for_unstorable_event_data(client, auth, kind):
    headers = auth().headers
    body = '{"event_type":"feedback_given","event_data":{"k":' + HOSTILE[kind] + "}}"
    r = _send(client, "POST", "/api/v2/analytics/track", body, headers)
    assert assert_problem(r, 422)["errors"][0]["field"] == "event_data"
    batch = (
        '{"sent_at":"2026-03-01T00:00:00Z","events":[{"event_id":'
        '"6f1c1d7e-0000-4000-8000-000000000001","event_type":"feedback_given",'
        '"occurred_at":"2026-03-01T00:00:00Z","event_data":{"k":' + HOSTILE[kind] + "}}]}"
    )
    r = _send(client, "POST", "/api/v2/analytics/batch", batch, headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json()["results"][0]["status"] == "rejected"


@pytest.mark.parametrize("raw", ["%00", "a%00b"])
def test_every_query_parameter_refuses_nul_with_400_naming_it(client, admin, raw):
    checked = 0
    for method, path, operation in _operations(client):
        for parameter in operation.get("parameters", []):
            if parameter["in"] != "query":
                continue
            r = client.open(
                f"{path}?{parameter['name']}={raw}", method=method, headers=admin.headers
            )
            body = assert_problem(r, 400)
            assert [e["field"] for e in body["errors"]] == [parameter["name"]], (path, body)
            checked += 1
    assert checked >= 40


@pytest.mark.parametrize("raw", ["%ED%A0%80", "%FF", "%C0%80", "%00=1"])
def test_query_bytes_that_are_not_text_are_never_a_server_error(client, admin, raw):
    for path in [
        f"{INSIGHTS}/trends?event_type={raw}",
        f"{INSIGHTS}/api-health?endpoint={raw}&method={raw}",
        f"{INSIGHTS}/active-users?tz={raw}",
        f"{INSIGHTS}/user-timeline?user_id=1&cursor={raw}",
        f"/api/v2/videos?cursor={raw}",
        f"/api/v2/plans/today?{raw}",
    ]:
        r = client.get(path, headers=admin.headers)
        assert r.status_code < 500, (path, r.get_data(as_text=True))
        if r.status_code >= 400:
            assert_problem(r, r.status_code)


def test_patch_me_with_nothing_to_update_is_400(client, auth):
    user = auth(display_name="Same")
    for body in ["{}", None]:
        r = _send(client, "PATCH", "/api/v2/auth/me", body, user.headers)
        assert "Nothing to update" in assert_problem(r, 400)["detail"]
    r = _send(client, "PATCH", "/api/v2/auth/me", '{"display_name":"New"}', user.headers)
    assert r.status_code == 200 and r.get_json()["display_name"] == "New"


def test_token_for_a_user_id_beyond_the_column_is_401(app, client):
    for sub in ["2147483648", "9223372036854775807", "99999999999999999999"]:
        with app.app_context():
            token = create_access_token(identity=sub, additional_claims={"ver": 0})
        r = client.get("/api/v2/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert_problem(r, 401)


@pytest.mark.parametrize(
    "path",
    [
        f"{INSIGHTS}/user-timeline?user_id=2147483648",
        f"{INSIGHTS}/user-timeline?user_id=1&limit=2147483648",
        f"{INSIGHTS}/challenge-progress?challenge_id=2147483648",
        f"{INSIGHTS}/retention?start_event=app_opened&return_event=app_opened&periods=99999999999",
        "/api/v2/plans/today?challenge_id=9223372036854775808",
        "/api/v2/videos?limit=2147483648",
    ],
)
def test_integer_parameters_beyond_their_type_are_422_naming_them(client, admin, path):
    name = re.findall(r"[?&](\w+)=\d{10,}", path)[0]
    problem = assert_problem(client.get(path, headers=admin.headers), 422)
    assert name in [e["field"] for e in problem["errors"]], problem


def test_ids_in_paths_beyond_the_column_are_404(client, admin):
    for method, path in [
        ("GET", "/api/v2/videos/2147483648"),
        ("POST", "/api/v2/challenges/2147483648/join"),
        ("GET", "/api/v2/plans/2147483648"),
        ("GET", "/api/v2/admin/users/2147483648/data"),
    ]:
        assert_problem(client.open(path, method=method, headers=admin.headers), 404)


def test_every_integer_and_date_parameter_is_bounded_in_the_document(client):
    """A guard for new parameters: each integer within a 32-bit id, each date within years
    1970..2100 (the schemas' Id and ReportDate fields)."""
    doc = client.get("/api/openapi.json").get_json()
    schemas: list[tuple[str, dict[str, Any]]] = []
    for path, item in doc["paths"].items():
        for parameter in item.get("parameters", []):
            schemas.append((f"{path} {parameter['name']}", parameter["schema"]))
        for method, operation in item.items():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                schemas.append((f"{method} {path} {parameter['name']}", parameter["schema"]))
            if "requestBody" in operation:
                for name in _properties(doc, operation):
                    ref = operation["requestBody"]["content"]["application/json"]["schema"]
                    component = doc["components"]["schemas"][ref["$ref"].rsplit("/", 1)[-1]]
                    schemas.append((f"{method} {path} {name}", component["properties"][name]))
    integers = [(n, s) for n, s in schemas if s.get("type") == "integer"]
    dates = [(n, s) for n, s in schemas if s.get("format") == "date"]
    assert len(integers) >= 10 and len(dates) >= 10
    for name, schema in integers:
        assert 0 <= schema.get("minimum", -1) and schema.get("maximum", 2**31) <= 2**31 - 1, name
    for name, schema in dates:
        assert schema.get("x-minimum", "0001") >= "1970-01-01", name
        assert schema.get("x-maximum", "9999") <= "2100-12-31", name


REPORTS = [
    ("GET", "trends?event_type=app_opened"),
    ("GET", "active-users?"),
    ("GET", "challenge-progress?challenge_id=1"),
    ("GET", "retention?start_event=app_opened&return_event=app_opened&period=week"),
    ("GET", "api-health?"),
    ("POST", "funnels?"),
]
INTERVALS = [("day", "monday"), ("week", "sunday"), ("month", "monday")]
FUNNEL = {"steps": [{"event_type": "app_opened"}, {"event_type": "app_opened"}]}


def _report(client, admin, method: str, report: str, **params: str) -> Any:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    url = f"{INSIGHTS}/{report}{'&' if not report.endswith('?') else ''}{query}"
    body = FUNNEL if method == "POST" else None
    return client.open(url, method=method, json=body, headers=admin.headers)


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("0001-01-01", "0001-01-31", "from"),
        ("9999-12-01", "9999-12-31", "from"),
        ("1969-12-31", "1970-01-10", "from"),
        ("2100-12-01", "2101-01-01", "to"),
        ("2100-12-31", "9999-12-31", "to"),
    ],
)
def test_dates_outside_1970_to_2100_are_422_naming_the_parameter(client, admin, start, end, field):
    for method, report in REPORTS:
        for tz in ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"]:
            r = _report(client, admin, method, report, tz=tz, week_start="sunday", to=end,
                        **{"from": start})
            problem = assert_problem(r, 422)
            assert field in [e["field"] for e in problem["errors"]], (report, tz, problem)


@pytest.mark.parametrize(
    ("start", "end"), [("1970-01-01", "1970-02-28"), ("2100-11-01", "2100-12-31")]
)
def test_dates_at_the_bounds_answer_in_every_zone_and_week_start(
    client, admin, seeded, start, end
):
    challenge = f"challenge_id={seeded['challenge_id']}"
    for method, report in REPORTS:
        report = report.replace("challenge_id=1", challenge)
        for tz in ["Pacific/Kiritimati", "Pacific/Pago_Pago"]:
            for interval, week_start in INTERVALS:
                r = _report(client, admin, method, report, tz=tz, interval=interval,
                            week_start=week_start, to=end, **{"from": start})
                assert r.status_code == 200, (report, tz, interval, r.get_data(as_text=True))


@pytest.mark.parametrize(
    "moment",
    ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1969-12-31T23:59:59Z",
     "2101-01-01T00:00:00Z"],
)
def test_client_times_at_the_calendar_edges_are_never_a_server_error(client, auth, moment):
    headers = auth().headers
    for field in ["occurred_at", "sent_at"]:
        body = {"event_type": "app_opened", "event_data": {}, field: moment}
        r = client.post("/api/v2/analytics/track", json=body, headers=headers)
        assert r.status_code < 500, (field, r.get_data(as_text=True))
    event = {"event_id": "6f1c1d7e-0000-4000-8000-000000000002", "event_type": "app_opened",
             "event_data": {}, "occurred_at": moment}
    for sent_at in [moment, "2026-03-01T00:00:00Z"]:
        r = client.post("/api/v2/analytics/batch", json={"sent_at": sent_at, "events": [event]},
                        headers=headers)
        assert r.status_code < 500, (sent_at, r.get_data(as_text=True))
    assert json.dumps(r.get_json())  # a document, not an HTML page


def test_register_with_nul_in_the_zone_is_400_and_stores_nothing(client, query):
    """Was a 422 (unknown zone): NUL is refused before any field is read, as everywhere."""
    body = {"email": "z@example.com", "password": "long enough 1", "display_name": "Z",
            "timezone": "UTC\x00"}
    r = client.post("/api/v2/auth/register", json=body)
    assert [e["field"] for e in assert_problem(r, 400)["errors"]] == ["timezone"]
    assert query("SELECT count(*) FROM users") == [(0,)]


@pytest.mark.parametrize("value", ['"0"', '"true"', "1", "0", "null"])
def test_json_booleans_are_true_or_false_only(client, auth, value):
    """marshmallow's Boolean takes "0", "true" and 1: a JSON body's flag takes true or false."""
    user = auth()
    patch = _send(client, "PATCH", "/api/v2/auth/me", f'{{"analytics_opt_out":{value}}}',
                  user.headers)
    assert assert_problem(patch, 422)["errors"][0]["field"] == "analytics_opt_out"
    assert client.get("/api/v2/auth/me", headers=user.headers).get_json()[
        "analytics_opt_out"] is False
    batch = _send(client, "POST", "/api/v2/analytics/batch",
                  f'{{"events":[],"backfill":{value}}}', user.headers)
    assert "backfill" in [e["field"] for e in assert_problem(batch, 422)["errors"]]
