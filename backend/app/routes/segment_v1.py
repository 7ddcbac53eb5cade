"""/v1: Segment's HTTP Tracking API (track, identify, alias, page, screen, batch).

Auth: HTTP Basic with the write key as the username and an empty password, as Segment's
SDKs send it; a missing, malformed, unknown or revoked key is one and the same 401. A public
(ios, android, web) key's call may carry the user's access token in X-User-Token to send
that user's userId. Limits: 500 KB a batch, 32 KB a call and a message in a batch, with
Segment's answer (400); gzip bodies (Content-Encoding: gzip, RudderStack's default) are
accepted within the same limits, decompressed.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from copy import deepcopy
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, current_app, g, request
from flask.blueprints import BlueprintSetupState
from flask_smorest import Api

from app.errors import DomainError, Unauthorized
from app.extensions import limiter
from app.routes._common import ApiBlueprint
from app.schemas.segment import (
    SegmentBatchCreate,
    SegmentBatchRead,
    SegmentMessageCreate,
    SegmentMessageRead,
)
from app.services.ingestion import segment_store
from app.services.ingestion.checks import IngestPolicy
from app.services.ingestion.event_schemas import load_event_schemas
from app.services.ingestion.segment import Sender
from app.services.write_keys import service as write_keys
from app.web import json_codec
from app.web.json_body import JsonParser
from app.web.user_token import HEADER as USER_TOKEN_HEADER
from app.web.user_token import verified_user_id

F = TypeVar("F", bound=Callable[..., Any])

BATCH_MAX_BYTES = 500 * 1024  # Segment: 500 KB a batch
CALL_MAX_BYTES = 32 * 1024  # Segment: 32 KB a call, and a message within a batch
_POLICY = "segment_ingest_policy"
WRITE_KEY_SCHEME = "writeKey"
_SECURITY = [{WRITE_KEY_SCHEME: []}]


class SegmentParser(JsonParser):
    # Segment answers 400 to a body it cannot read; so do we (not webargs' 422).
    DEFAULT_VALIDATION_STATUS = 400


class SegmentBlueprint(ApiBlueprint):
    ARGUMENTS_PARSER = SegmentParser()


blp = SegmentBlueprint(
    "segment_v1", __name__, url_prefix="/v1",
    description="Segment-compatible ingestion (HTTP Tracking API) for analytics SDKs",
)


def document_security(api: Api) -> None:
    """The write key's scheme in the OpenAPI document (HTTP Basic, key as username)."""
    api.spec.components.security_scheme(
        WRITE_KEY_SCHEME,
        {"type": "http", "scheme": "basic",
         "description": "The write key as the username, an empty password"},
    )


@blp.record_once
def _build_policy(state: BlueprintSetupState) -> None:
    app: Flask = state.app
    app.extensions[_POLICY] = IngestPolicy(
        allowed_types=tuple(app.config["ANALYTICS_EVENT_TYPES"]),
        schemas=load_event_schemas(app.config.get("EVENT_SCHEMAS_DIR")),
    )


def _too_large(what: str, limit: int) -> DomainError:
    return DomainError(
        f"The {what} is over {limit // 1024} KB, the limit of Segment's API.",
        extra={"reason": "too_large"},
    )


@blp.before_request
def _body_limits() -> None:
    limit = BATCH_MAX_BYTES if request.endpoint == "segment_v1.batch" else CALL_MAX_BYTES
    what = "batch" if limit == BATCH_MAX_BYTES else "call"
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(what, limit)
    if request.headers.get("Content-Encoding", "").lower() == "gzip":
        # Decompressed within the same limit (a small bomb cannot grow past it).
        inflater = zlib.decompressobj(wbits=31)
        try:
            body = inflater.decompress(request.get_data(cache=False), limit + 1)
        except zlib.error:
            raise DomainError("The body is not valid gzip.") from None
        if len(body) > limit or inflater.unconsumed_tail:
            raise _too_large(what, limit)
        request._cached_data = body  # what get_data() and the JSON parser read from now on


def write_key_limit() -> str:
    return current_app.config["WRITE_KEY_LIMIT"]


def _write_key_rate_key() -> str:
    return f"write-key:{g.write_key.key_id}"


def write_key_required(func: F) -> F:
    """A valid write key (HTTP Basic username) or 401; the caller's sender in g."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        auth = request.authorization
        key = auth.username if auth is not None and auth.type == "basic" else None
        caller = write_keys.authenticate(key)
        if caller is None:
            raise Unauthorized(
                "A valid write key is required: HTTP Basic, the key as the username.",
                headers={"WWW-Authenticate": 'Basic realm="v1"'},
            )
        g.write_key = caller
        return current_app.ensure_sync(func)(*args, **kwargs)

    apidoc = deepcopy(getattr(wrapper, "_apidoc", {}))
    apidoc.setdefault("manual_doc", {})["security"] = _SECURITY
    wrapper._apidoc = apidoc  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def _sender() -> Sender:
    caller = g.write_key
    user_id = None
    if not caller.is_secret:
        user_id = verified_user_id(request.headers.get(USER_TOKEN_HEADER))
    return Sender(source=caller.source, is_secret=caller.is_secret, verified_user_id=user_id)


def _oversized(messages: list[Any]) -> int | None:
    """The index of the first message over 32 KB as compact JSON, if any."""
    for index, message in enumerate(messages):
        if json_codec.compact_size(message) > CALL_MAX_BYTES:
            return index
    return None


def _ingest(messages: list[Any], kind: str | None, sent_at: Any = None,
            context: Any = None) -> segment_store.IngestResult:
    return segment_store.ingest_messages(
        messages=messages, kind=kind, sender=_sender(), policy=current_app.extensions[_POLICY],
        received_at=g.received_at, batch_sent_at=sent_at, batch_context=context,
    )


def _single(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    result = _ingest([data], kind).results[0]
    if result.status == "rejected":
        raise DomainError(
            result.message or "The message was refused.",
            errors=[{"field": result.field or "message", "message": result.message or ""}],
            extra={"reason": result.reason},
        )
    return {"success": True, "status": result.status}


def _limited(func: F) -> F:
    """WRITE_KEY_LIMIT requests per write key, counted over every /v1 route together."""
    return limiter.shared_limit(
        write_key_limit, scope="write-key", key_func=_write_key_rate_key
    )(func)


@blp.route("/track", methods=["POST"])
@write_key_required
@_limited
@blp.arguments(SegmentMessageCreate)
@blp.response(200, SegmentMessageRead)
def track(data: dict[str, Any]) -> dict[str, Any]:
    """Segment's track call: one event of a whitelisted type, stored once by its messageId"""
    return _single("track", data)


@blp.route("/identify", methods=["POST"])
@write_key_required
@_limited
@blp.arguments(SegmentMessageCreate)
@blp.response(200, SegmentMessageRead)
def identify(data: dict[str, Any]) -> dict[str, Any]:
    """Segment's identify call: links anonymousId to userId (traits are not stored)"""
    return _single("identify", data)


@blp.route("/alias", methods=["POST"])
@write_key_required
@_limited
@blp.arguments(SegmentMessageCreate)
@blp.response(200, SegmentMessageRead)
def alias(data: dict[str, Any]) -> dict[str, Any]:
    """Segment's alias call: links previousId (an anonymous id) to userId"""
    return _single("alias", data)


@blp.route("/page", methods=["POST"])
@write_key_required
@_limited
@blp.arguments(SegmentMessageCreate)
@blp.response(200, SegmentMessageRead)
def page(data: dict[str, Any]) -> dict[str, Any]:
    """Segment's page call: a page_viewed event"""
    return _single("page", data)


@blp.route("/screen", methods=["POST"])
@write_key_required
@_limited
@blp.arguments(SegmentMessageCreate)
@blp.response(200, SegmentMessageRead)
def screen(data: dict[str, Any]) -> dict[str, Any]:
    """Segment's screen call: a screen_viewed event"""
    return _single("screen", data)


@blp.route("/batch", methods=["POST"])
@write_key_required
@_limited
@blp.arguments(SegmentBatchCreate)
@blp.response(200, SegmentBatchRead)
def batch(data: dict[str, Any]) -> Any:
    """Segment's batch call: each message accepted, a duplicate, or rejected with a reason"""
    messages = data["batch"]
    index = _oversized(messages)
    if index is not None:
        raise DomainError(
            "A message is over 32 KB, the limit of Segment's API: nothing was stored.",
            errors=[{"field": f"batch.{index}", "message": "Over 32 KB as compact JSON."}],
            extra={"reason": "too_large"},
        )
    result = _ingest(messages, None, data.get("sentAt"), data.get("context"))
    body = {
        "success": True,
        "accepted": result.counts["accepted"],
        "duplicate": result.counts["duplicate"],
        "rejected": result.counts["rejected"],
        "results": [
            {"messageId": r.message_id, "status": r.status}
            | ({"reason": r.reason, "message": r.message} if r.reason else {})
            for r in result.results
        ],
    }
    # Already SegmentBatchRead's shape (strings, ints, a boolean): written by orjson as
    # is, which spares a schema dump of a hundred results, as /api/v2's batch does.
    return current_app.response_class(
        json_codec.response_body(body), status=200, mimetype="application/json"
    )
