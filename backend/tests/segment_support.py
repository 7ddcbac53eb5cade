"""Helpers for the /v1 (Segment-compatible ingestion) tests: write keys, messages, rows."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from flask import Flask

from app.services.write_keys import service as write_keys

NOW = "2026-03-01T09:00:00Z"
CONTEXT_COLUMNS = (
    "platform", "os_name", "os_version", "app_version", "app_build", "device_model", "locale",
    "timezone", "library_name", "library_version", "browser_name", "browser_version",
    "session_id",
)


def create_key(app: Flask, source: str = "ios", name: str = "test key") -> str:
    with app.app_context():
        return write_keys.create(source=source, name=name).plaintext


def basic(key: str, **extra: str) -> dict[str, str]:
    token = base64.b64encode(f"{key}:".encode()).decode()
    return {"Authorization": f"Basic {token}", **extra}


def message(kind: str = "track", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": kind, "messageId": str(uuid.uuid4()), "timestamp": NOW}
    if kind == "track":
        body["event"] = "app_opened"
    if "userId" not in fields and kind != "alias":
        body["anonymousId"] = "anon-" + uuid.uuid4().hex[:12]
    return body | fields


def post_batch(client, key: str, messages: list[Any], **headers: str):
    return client.post(
        "/v1/batch", json={"batch": messages, "sentAt": NOW}, headers=basic(key, **headers)
    )


def statuses(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [r["status"] for r in response.get_json()["results"]]


def events(query, where: str = "1=1", params: dict[str, Any] | None = None) -> list[Any]:
    columns = "user_id, anonymous_id, event_id, event_type, event_data, occurred_at, " + ", ".join(
        CONTEXT_COLUMNS
    )
    return query(f"SELECT {columns} FROM analytics_events WHERE {where} ORDER BY id", params)
