"""Assertions on problem+json documents, shared by the platform tests."""

from __future__ import annotations

from typing import Any

PROBLEM = "application/problem+json"


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 document of this status; returns its body."""
    body_text = response.get_data(as_text=True)
    assert response.status_code == status, body_text
    assert response.mimetype == PROBLEM, response.headers.get("Content-Type")
    body = response.get_json(force=True)
    assert isinstance(body, dict), body_text
    assert body["status"] == status
    for key in ("type", "title", "detail"):
        assert isinstance(body[key], str) and body[key], (key, body)
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert "Traceback" not in body_text and "<html" not in body_text.lower()
    if "errors" in body:
        assert body["errors"], "errors is present only with at least one field"
        for item in body["errors"]:
            assert set(item) == {"field", "message"}, item
    return body
