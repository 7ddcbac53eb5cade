"""X-Request-ID: generated, kept when valid, replaced when not, echoed in errors."""

from __future__ import annotations

import re

import pytest

from tests.problem_helpers import assert_problem

UUID_HEX = re.compile(r"^[0-9a-f]{32}$")


@pytest.mark.parametrize(
    "path", ["/healthz", "/readyz", "/api/v2/challenges", "/api/openapi.json", "/nowhere"]
)
def test_every_response_carries_a_generated_request_id(client, path):
    r = client.get(path)
    assert UUID_HEX.match(r.headers["X-Request-ID"]), r.headers.get("X-Request-ID")


def test_generated_request_ids_differ(client):
    ids = {client.get("/healthz").headers["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3


@pytest.mark.parametrize("inbound", ["abc-123", "req_1.2:3", "A" * 128])
def test_valid_inbound_request_id_is_kept_and_echoed(client, inbound):
    r = client.get("/healthz", headers={"X-Request-ID": inbound})
    assert r.headers["X-Request-ID"] == inbound


def test_inbound_request_id_appears_in_error_document(client):
    r = client.get("/api/v2/missing", headers={"X-Request-ID": "trace-42"})
    body = assert_problem(r, 404)
    assert body["request_id"] == "trace-42" == r.headers["X-Request-ID"]


@pytest.mark.parametrize(
    "inbound",
    ["A" * 129, "has space", "<script>", "semi;colon", "é-accent", ""],
    ids=["too-long", "space", "angle", "semicolon", "non-ascii", "empty"],
)
def test_invalid_inbound_request_id_is_replaced(client, inbound):
    r = client.get("/api/v2/missing", environ_overrides={"HTTP_X_REQUEST_ID": inbound})
    assert UUID_HEX.match(r.headers["X-Request-ID"])
    assert assert_problem(r, 404)["request_id"] == r.headers["X-Request-ID"]


def test_request_id_with_newline_is_replaced(client):
    # A WSGI server may hand over a folded or smuggled header: the environ is the truth.
    r = client.get("/healthz", environ_overrides={"HTTP_X_REQUEST_ID": "ok\r\nSet-Cookie: x=1"})
    assert UUID_HEX.match(r.headers["X-Request-ID"])
    assert "Set-Cookie" not in r.headers
    r = client.get("/healthz", environ_overrides={"HTTP_X_REQUEST_ID": "trailing\n"})
    assert UUID_HEX.match(r.headers["X-Request-ID"])
