"""Schemas of /v1 (Segment's HTTP Tracking API): the envelope only.

Messages are taken as they are (unknown fields included) and judged one by one by the
ingestion (services/ingestion/segment.py), so one bad message in a batch rejects only
itself; these schemas shape the OpenAPI document and refuse a body that is no envelope.
"""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields

from app.schemas.analytics import RawList

_ID = "A string of 1 to 200 characters"


class SegmentMessageCreate(Schema):
    """One call: track, identify, alias, page or screen (the path names the type)."""

    # Each message's text is judged by the ingestion (a message is refused with a reason).
    storable_json_only = False

    class Meta:
        unknown = INCLUDE

    userId = fields.Raw(metadata={"type": "string", "description": _ID + ": a user's id"})
    anonymousId = fields.Raw(
        metadata={"type": "string", "description": _ID + ": the device's or browser's id"}
    )
    previousId = fields.Raw(metadata={"type": "string", "description": "alias: " + _ID})
    messageId = fields.Raw(
        metadata={"type": "string", "description": _ID + ": the dedupe key (a retry is kept once)"}
    )
    event = fields.Raw(metadata={"type": "string", "description": "track: a whitelisted type"})
    name = fields.Raw(metadata={"type": "string", "description": "page and screen: its name"})
    properties = fields.Raw(metadata={"type": "object"})
    context = fields.Raw(
        metadata={"type": "object", "description": "app, os, device, library, locale, "
                  "timezone, userAgent, sessionId are kept; ip, ids and traits are not"}
    )
    timestamp = fields.Raw(metadata={"type": "string", "format": "date-time"})
    sentAt = fields.Raw(metadata={"type": "string", "format": "date-time"})


class SegmentBatchCreate(Schema):
    storable_json_only = False

    class Meta:
        unknown = INCLUDE

    batch = RawList(
        fields.Raw(metadata={"type": "object", "description": "A message with its `type`"}),
        required=True,
    )
    sentAt = fields.Raw(
        metadata={"type": "string", "format": "date-time",
                  "description": "When the client sent it: corrects every message's timestamp"}
    )
    context = fields.Raw(metadata={"type": "object"})


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
