"""/api/v2: a person's data, exported or erased (their own, or any user's by an admin)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Response, current_app, stream_with_context
from flask_jwt_extended import current_user

from app.errors import Forbidden
from app.extensions import limiter
from app.routes._common import ApiBlueprint, auth_required, problems, write_limit
from app.schemas.privacy import DataExportRead, ErasureCreate, ErasureRead
from app.services.privacy import erasure as erasure_service
from app.services.privacy import export as data_export
from app.web.request_log_hook import log_without_user

blp = ApiBlueprint(
    "privacy_v2", __name__, url_prefix="/api/v2", description="Your data: export and erasure"
)


def _require_admin() -> None:
    if not current_user.is_admin:
        raise Forbidden("Only an admin may do this.")


def _stream(pieces: Iterator[str], *, user_id: int) -> Response:
    response = Response(stream_with_context(pieces), mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="user-{user_id}-data.json"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _export(user_id: int) -> Response:
    pieces = data_export.export_user(
        user_id=user_id, chunk_rows=current_app.config["EXPORT_CHUNK_ROWS"]
    )
    return _stream(pieces, user_id=user_id)


@blp.route("/me/data", methods=["GET"])
@auth_required()
@blp.response(200, DataExportRead)
def export_me() -> Any:
    """Everything stored about the calling user, as one JSON document (streamed)"""
    return _export(current_user.id)


@blp.route("/me", methods=["DELETE"])
@auth_required()
@limiter.limit(write_limit)
@blp.arguments(ErasureCreate)
@blp.response(200, ErasureRead)
def erase_me(data: dict[str, Any]) -> Any:
    """Erase the calling user's account and data (password required); logs stay anonymous"""
    log_without_user()
    audit = erasure_service.erase_user(
        user_id=current_user.id, requested_by="self", password=data["password"]
    )
    return erasure_service.audit_summary(audit)


@blp.route("/admin/users/<int:user_id>/data", methods=["GET"])
@auth_required()
@blp.response(200, DataExportRead)
@problems(403)
def export_user(user_id: int) -> Any:
    """Admin: everything stored about a user, as one JSON document (streamed)"""
    _require_admin()
    return _export(user_id)


@blp.route("/admin/users/<int:user_id>", methods=["DELETE"])
@auth_required()
@limiter.limit(write_limit)
@blp.response(200, ErasureRead)
@problems(403)
def erase_user(user_id: int) -> Any:
    """Admin: erase a user's account and data; recorded in the erasure audit"""
    _require_admin()
    if user_id == current_user.id:
        log_without_user()
    audit = erasure_service.erase_user(
        user_id=user_id, requested_by="admin", admin_user_id=current_user.id
    )
    return erasure_service.audit_summary(audit)
