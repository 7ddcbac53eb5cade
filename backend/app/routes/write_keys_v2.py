"""/api/v2/admin/write-keys: the write keys of /v1, for admins (the dashboard's page)."""

from __future__ import annotations

from typing import Any

from flask import make_response

from app.routes._admin import admins_only
from app.routes._common import ApiBlueprint
from app.schemas.write_keys import (
    WriteKeyCreate,
    WriteKeyCreatedRead,
    WriteKeyListRead,
    WriteKeyRead,
)
from app.services.write_keys import service as write_keys

blp = ApiBlueprint(
    "write_keys_v2", __name__, url_prefix="/api/v2/admin/write-keys",
    description="Write keys of the Segment-compatible /v1 ingestion (admins only)",
)
ADMINS = admins_only("Write keys")


@blp.route("", methods=["GET"])
@ADMINS
@blp.response(200, WriteKeyListRead)
def list_write_keys() -> Any:
    """Every write key, revoked ones too (never the keys themselves: only their prefixes)"""
    return {"items": write_keys.list_keys()}


@blp.route("", methods=["POST"])
@ADMINS
@blp.arguments(WriteKeyCreate)
@blp.response(201, WriteKeyCreatedRead, headers={
    "Cache-Control": {"description": "no-store", "schema": {"type": "string"}}})
def create_write_key(data: dict[str, Any]) -> Any:
    """Create a key; the answer holds the key itself, this once (only its SHA-256 is kept)"""
    created = write_keys.create(source=data["source"], name=data["name"])
    body = WriteKeyCreatedRead().dump(created.key) | {"key": created.plaintext}
    response = make_response(body, 201)
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.route("/<int:key_id>", methods=["DELETE"])
@ADMINS
@blp.response(200, WriteKeyRead)
def revoke_write_key(key_id: int) -> Any:
    """Revoke a key (idempotent): every later /v1 request with it is a 401"""
    return write_keys.revoke(key_id=key_id)
