"""The OpenAPI document and its docs page, served without any CDN."""

from __future__ import annotations

import re
from typing import Any

import pytest
from openapi_spec_validator import validate

# DESIGN.md's endpoint table, /api/v2 rows (path parameters written as {}).
DESIGN_OPERATIONS = [
    ("post", "/api/v2/auth/register"),
    ("post", "/api/v2/auth/login"),
    ("post", "/api/v2/auth/refresh"),
    ("post", "/api/v2/auth/logout"),
    ("get", "/api/v2/auth/me"),
    ("patch", "/api/v2/auth/me"),
    ("post", "/api/v2/auth/password"),
    ("get", "/api/v2/challenges"),
    ("get", "/api/v2/challenges/{}"),
    ("post", "/api/v2/challenges/{}/join"),
    ("post", "/api/v2/challenges/{}/leave"),
    ("get", "/api/v2/me/enrollments"),
    ("get", "/api/v2/plans/today"),
    ("get", "/api/v2/plans/{}"),
    ("post", "/api/v2/plans/{}/complete"),
    ("get", "/api/v2/videos"),
    ("get", "/api/v2/videos/{}"),
    ("post", "/api/v2/videos/{}/like"),
    ("delete", "/api/v2/videos/{}/like"),
    ("get", "/api/v2/videos/liked"),
    ("post", "/api/v2/analytics/track"),
]
PUBLIC = {("post", "/api/v2/auth/register"), ("post", "/api/v2/auth/login")}


@pytest.fixture
def spec(client) -> dict[str, Any]:
    r = client.get("/api/openapi.json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    return r.get_json()


def _operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for path, item in spec["paths"].items():
        shape = re.sub(r"\{[^}]+\}", "{}", path)
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                out[(method, shape)] = operation
    return out


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    node: Any = spec
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_document_is_a_valid_openapi_3(spec):
    assert spec["openapi"].startswith("3.")
    validate(spec)


def test_every_design_endpoint_is_documented(spec):
    documented = _operations(spec)
    missing = [op for op in DESIGN_OPERATIONS if op not in documented]
    assert not missing


def test_bearer_scheme_is_declared_and_used_by_protected_operations(spec):
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    documented = _operations(spec)
    for op in DESIGN_OPERATIONS:
        security = documented[op].get("security")
        if op in PUBLIC:
            assert not security, op
        else:
            assert security == [{"bearerAuth": []}], op


def _request_schema(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    operation = _operations(spec)[(method, path)]
    content = operation["requestBody"]["content"]["application/json"]
    return _resolve(spec, content["schema"])


def test_register_request_body_comes_from_the_marshmallow_schema(spec):
    schema = _request_schema(spec, "post", "/api/v2/auth/register")
    assert {"email", "password", "display_name", "timezone"} <= set(schema["properties"])
    assert {"email", "password", "display_name"} <= set(schema["required"])
    assert schema["properties"]["email"].get("format") == "email"


@pytest.mark.parametrize(
    ("method", "path", "fields"),
    [
        ("post", "/api/v2/auth/login", {"email", "password"}),
        ("post", "/api/v2/auth/password", {"current_password", "new_password"}),
        ("patch", "/api/v2/auth/me", {"display_name", "timezone"}),
        ("post", "/api/v2/analytics/track", {"event_type", "event_data"}),
    ],
)
def test_request_bodies_list_their_fields(spec, method, path, fields):
    assert fields <= set(_request_schema(spec, method, path)["properties"])


def test_operations_have_summaries(spec):
    documented = _operations(spec)
    assert [op for op in DESIGN_OPERATIONS if not documented[op].get("summary")] == []


def test_docs_page_uses_only_local_assets(client):
    r = client.get("/api/docs")
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert not re.search(r"https?://", html), re.findall(r"https?://[^\s\"']+", html)
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        assert asset.startswith("/api/docs/assets/"), asset
        a = client.get(asset)
        assert a.status_code == 200, asset
        kind = "text/css" if asset.endswith(".css") else "javascript"
        assert kind in a.headers["Content-Type"], (asset, a.headers["Content-Type"])
        assert len(a.get_data()) > 200  # swagger-init.js, the page's set-up, is small
    assert "/api/openapi.json" in html


def test_missing_docs_asset_is_404_problem(client):
    r = client.get("/api/docs/assets/no-such-file.js")
    assert r.status_code == 404 and r.mimetype == "application/problem+json"
    r = client.get("/api/docs/assets/%2e%2e/%2e%2e/__init__.py")
    assert r.status_code == 404
