"""Schemas of /api/v2/analytics."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from app.schemas.fields import JsonBoolean
from app.services.ingestion.checks import EventRefused, parse_time

MAX_BATCH_EVENTS = 100


class ClientTime(fields.DateTime):
    """An ISO-8601 instant with a UTC offset, parsed exactly as a batch event's times are."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        try:
            return parse_time(value, attr or "time", "invalid")
        except EventRefused as exc:
            raise ValidationError(exc.message) from None


class RawList(fields.List):
    """A list whose items are taken as they are (the inner field is Raw, for the docs).

    List(Raw) would run each item through the Raw field, which returns it unchanged: for a
    100-event batch that is 5% of the request's CPU for nothing.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, list):
            raise self.make_error("invalid")
        return value


class EventCreate(Schema):
    # Ingestion judges event text itself: what PostgreSQL cannot store is a 422 (DESIGN.md).
    storable_json_only = False

    event_type = fields.String(required=True, validate=validate.Length(min=1, max=64))
    event_data = fields.Dict(
        keys=fields.String(),
        load_default=dict,
        metadata={"description": "A JSON object: at most 8 KiB as compact JSON, depth <= 8"},
    )
    event_id = fields.UUID(
        load_default=None,
        metadata={"description": "Idempotency key: the same id again returns the stored event"},
    )
    occurred_at = ClientTime(
        load_default=None, metadata={"description": "When it happened (client clock)"}
    )
    sent_at = ClientTime(
        load_default=None,
        metadata={"description": "When the client sent it (client clock): corrects occurred_at"},
    )


class EventRead(Schema):
    id = fields.Integer(allow_none=True)
    user_id = fields.Integer()
    event_id = fields.UUID(allow_none=True)
    event_type = fields.String()
    event_data = fields.Dict()
    occurred_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    duplicate = fields.Boolean(
        metadata={"description": "True (status 200) when event_id was already stored"}
    )
    clamped = fields.Boolean(
        metadata={"description": "True when occurred_at was over 23 h ahead and was clamped"}
    )


class BatchCreate(Schema):
    # Each event is judged on its own (a bad one is rejected alone), as in EventCreate.
    storable_json_only = False

    sent_at = ClientTime(required=True, metadata={"description": "When the client sent it"})
    events = RawList(
        # Raw: each event is checked on its own, so one bad event rejects only itself.
        fields.Raw(
            allow_none=True,
            metadata={
                # No "type": an item that is not such an object is rejected alone, in the
                # results of a 200, like any other bad event.
                "description": "{event_id (UUID), event_type, event_data, occurred_at "
                "(ISO-8601 with offset)}; anything else is rejected alone (in results)",
            }
        ),
        required=True,
        validate=validate.Length(max=MAX_BATCH_EVENTS),
    )
    backfill = JsonBoolean(
        load_default=False,
        metadata={"description": "Admins only: accept events older than 7 days"},
    )


class EventResultRead(Schema):
    event_id = fields.String(allow_none=True)
    status = fields.String(metadata={"enum": ["accepted", "duplicate", "rejected"]})
    reason = fields.String(metadata={"description": "Rejected only: a documented code"})
    message = fields.String(metadata={"description": "Rejected only: what is wrong"})
    clamped = fields.Boolean(metadata={"description": "Present (true) when clamped"})


class BatchRead(Schema):
    accepted = fields.Integer()
    duplicate = fields.Integer()
    rejected = fields.Integer()
    results = fields.List(fields.Nested(EventResultRead))
