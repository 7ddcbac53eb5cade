"""Schemas of /v1 (Segment's HTTP Tracking API): the envelope only.

Messages are taken as they are (unknown fields included) and judged one by one by the
ingestion (services/ingestion/segment.py), so one bad message in a batch rejects only
itself; these schemas shape the OpenAPI document and refuse a body that is no envelope.
"""

from __future__ import annotations

from typing import Any

from marshmallow import INCLUDE, Schema, fields

from app.schemas.analytics import RawList

_ID = "A string of 1 to 200 characters"
_JSON_TYPES: dict[str, type | tuple[type, ...]] = {"string": str, "object": dict}


class JsonValue(fields.Raw):
    """A value of one JSON type ("string" or "object"), taken as it is; another type is a 400.

    For fields some calls ignore (an identify's properties): what the document promises is
    checked here. Ids and context stay Raw: the ingestion refuses them with a reason code.
    """

    def __init__(self, json_type: str, **kwargs: Any) -> None:
        metadata = {"type": json_type, **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)
        self.json_type = json_type

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, _JSON_TYPES[self.json_type]):
            raise self.make_error("invalid")
        return value

    default_error_messages = {"invalid": "Not a valid JSON value of the documented type."}


class SegmentMessageCreate(Schema):
    """One call: track, identify, alias, page or screen (the path names the type)."""

    # Each message's text is judged by the ingestion (a message is refused with a reason).
    storable_json_only = False

    class Meta:
        unknown = INCLUDE

    # Ids and context: refused by the ingestion with a reason (invalid_id, invalid_context).
    userId = fields.Raw(metadata={"description": _ID + ": a user's id"})
    anonymousId = fields.Raw(metadata={"description": _ID + ": the device's or browser's id"})
    previousId = fields.Raw(metadata={"description": "alias: " + _ID})
    messageId = fields.Raw(
        metadata={"description": _ID + ": the dedupe key (a retry is kept once)"}
    )
    context = fields.Raw(
        metadata={"description": "An object: app, os, device, library, locale, timezone, "
                  "userAgent, sessionId are kept; ip, ids and traits are not"}
    )
    event = JsonValue("string", metadata={"description": "track: a whitelisted type"})
    name = JsonValue("string", metadata={"description": "page and screen: its name"})
    properties = JsonValue("object")
    timestamp = JsonValue("string", metadata={"format": "date-time"})
    sentAt = JsonValue("string", metadata={"format": "date-time"})


class SegmentBatchCreate(Schema):
    storable_json_only = False

    class Meta:
        unknown = INCLUDE

    batch = RawList(
        # No "type": an item that is not a message object is rejected alone (in results).
        fields.Raw(metadata={"description": "A message with its `type`"}),
        required=True,
    )
    # No "type" on sentAt and context: the batch is judged message by message, so a bad
    # envelope value is not a 400 (sentAt: each message is rejected; context: ignored).
    sentAt = fields.Raw(
        metadata={"description": "When the client sent it (ISO-8601 string): corrects every "
                  "message's timestamp; one that is not a time rejects each message alone"}
    )
    context = fields.Raw(
        metadata={"description": "An object: each message's default context (else ignored)"}
    )


class SegmentResultRead(Schema):
    messageId = fields.String(allow_none=True)
    status = fields.String(metadata={"enum": ["accepted", "duplicate", "rejected"]})
    reason = fields.String(metadata={"description": "Rejected only: a documented code"})
    message = fields.String(metadata={"description": "Rejected only: what is wrong"})


class SegmentBatchRead(Schema):
    success = fields.Boolean()
    accepted = fields.Integer()
    duplicate = fields.Integer()
    rejected = fields.Integer()
    results = fields.List(fields.Nested(SegmentResultRead))


class SegmentMessageRead(Schema):
    success = fields.Boolean()
    status = fields.String(metadata={"enum": ["accepted", "duplicate"]})
