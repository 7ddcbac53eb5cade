"""Segment's HTTP Tracking API messages mapped onto our events and identity links.

Pure (no database, no Flask request): one message either becomes a PreparedMessage, or
raises MessageRefused with a reason code. The same checks as /track and /batch apply
(whitelist, storability, per-type JSON Schemas, client time); the database steps (is the
userId a user, the exactly-once insert, the links) are in segment_store.py.

Mapping:
- track -> an event of type `event` (whitelisted client types only), properties as
  event_data;
- screen -> `screen_viewed` with event_data {screen: name, ...properties};
- page -> `page_viewed` with event_data {name?, category?, ...properties}, URLs without
  their query string and fragment (they carry tokens and e-mail addresses), no `search`;
- identify -> a link of anonymousId to userId (traits are not stored: the user's profile
  is the users table);
- alias -> a link of previousId (an anonymous id) to userId;
- group -> refused (unsupported_type).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from app.errors import ValidationFailed
from app.services.ingestion.checks import (
    EventRefused,
    IngestPolicy,
    check_data_json,
    check_event_type,
    is_canonical_uuid,
    parse_time,
    place_in_time,
)
from app.services.ingestion.segment_context import context_columns

MAX_ID_LENGTH = 200
MESSAGE_TYPES = ("track", "identify", "alias", "page", "screen")
# Reason codes beyond checks.REASONS, as /v1 answers and rejected_events store them.
SEGMENT_REASONS: dict[str, str] = {
    "invalid_message": "the message is not an object, or its type is missing or unknown",
    "unsupported_type": "a Segment call this API does not take (group)",
    "invalid_id": "userId, anonymousId, previousId, messageId or context.sessionId is not a "
    "string of 1 to 200 characters",
    "missing_id": "neither userId nor anonymousId (alias: previousId and userId) was sent",
    "invalid_context": "context is not an object",
    "invalid_user_id": "userId is not the id of a user of this app",
    "user_not_verified": "a public write key sent a userId without that user's access token",
    "anonymous_id_taken": "the anonymous id is already linked to another user",
}
# A messageId that is not a UUID is mapped to one (uuid5 in this namespace), so any client's
# messageId dedupes through the same event_id column.
_MESSAGE_ID_NAMESPACE = uuid.UUID("6f1b7c0e-3a55-4d43-9a3e-2c1e15a0b7d1")
_PAGE_URL_FIELDS = ("url", "referrer")


class MessageRefused(ValidationFailed):
    """One message is refused; `reason` is its code (checks.REASONS or SEGMENT_REASONS)."""

    def __init__(self, reason: str, field_name: str, message: str) -> None:
        super().__init__(message, errors=[{"field": field_name, "message": message}])
        self.reason = reason
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class Sender:
    """Who sends: the write key's source, whether it is secret (trusted for any userId),
    and the user whose access token came with the call (public keys)."""

    source: str
    is_secret: bool
    verified_user_id: int | None = None

    def may_write_for(self, user_id: int) -> bool:
        return self.is_secret or self.verified_user_id == user_id


@dataclass(slots=True)
class PreparedMessage:
    kind: str  # "event" or "link"
    event_id: str  # canonical UUID text
    user_id: int | None
    anonymous_id: str | None
    event_type: str = ""
    event_data: dict[str, Any] = field(default_factory=dict)
    data_json: str = "{}"
    occurred_at: datetime | None = None
    clamped: bool = False
    columns: dict[str, str | None] = field(default_factory=dict)
    linked_by: str = ""  # links: "identify" or "alias"

    @property
    def dedupe_key(self) -> tuple[Any, ...]:
        """What makes two messages the same: their person and their event id."""
        return (self.kind, self.user_id, self.anonymous_id if self.user_id is None else None,
                self.event_id)


def message_event_id(value: Any) -> str:
    """messageId as an event_id: its UUID when it is one, else uuid5 of its text; a fresh
    uuid4 when absent (then a retry cannot be recognised)."""
    if value is None:
        return str(uuid.uuid4())
    if is_canonical_uuid(value):
        return value  # the common case: what _id and uuid.UUID below would make of it
    text = _id(value, "messageId")
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return str(uuid.uuid5(_MESSAGE_ID_NAMESPACE, text))


def _id(value: Any, name: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LENGTH:
        raise MessageRefused(
            "invalid_id", name, f"{name} must be a string of 1 to {MAX_ID_LENGTH} characters."
        )
    if "\x00" in value or not value.isprintable():
        raise MessageRefused("invalid_id", name, f"{name} holds control characters.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise MessageRefused("invalid_id", name, f"{name} holds a lone surrogate.") from None
    return value


def _optional_id(message: dict[str, Any], name: str) -> str | None:
    value = message.get(name)
    return None if value is None else _id(value, name)


def parse_user_id(value: str) -> int:
    """Our users' ids are positive 32-bit integers, sent as their decimal text."""
    if value.isascii() and value.isdigit() and len(value) <= 10 and str(int(value)) == value:
        number = int(value)
        if 0 < number <= 2_147_483_647:
            return number
    raise MessageRefused(
        "invalid_user_id", "userId", "userId must be the id of a user of this app."
    )


def _authorized_user(raw: str | None, sender: Sender) -> int | None:
    if raw is None:
        return None
    user_id = parse_user_id(raw)
    if not sender.may_write_for(user_id):
        raise MessageRefused(
            "user_not_verified",
            "userId",
            "A public write key may send a userId only with that user's access token "
            "(X-User-Token).",
        )
    return user_id


def _strip_url(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _event_data(kind: str, message: dict[str, Any]) -> tuple[str, Any]:
    properties = message.get("properties")
    if properties is None:
        properties = {}
    if kind == "track":
        return message.get("event"), properties
    if not isinstance(properties, dict):
        return "screen_viewed" if kind == "screen" else "page_viewed", properties
    data = dict(properties)
    if kind == "screen":
        if message.get("name") is not None:
            data["screen"] = message["name"]
        return "screen_viewed", data
    data.pop("search", None)
    for name in _PAGE_URL_FIELDS:
        if name in data:
            data[name] = _strip_url(data[name])
    for name in ("name", "category"):
        if message.get(name) is not None:
            data[name] = message[name]
    return "page_viewed", data


def _refused_event(exc: EventRefused) -> MessageRefused:
    field_name = {"event_type": "event", "event_data": "properties",
                  "occurred_at": "timestamp"}.get(exc.field, exc.field)
    return MessageRefused(exc.reason, field_name, exc.message)


def _occurred(message: dict[str, Any], batch_sent_at: Any,
              received_at: datetime) -> tuple[datetime, bool]:
    stamp = message.get("timestamp", message.get("originalTimestamp"))
    sent = message.get("sentAt", batch_sent_at)
    occurred = None if stamp is None else parse_time(stamp, "timestamp", "invalid_occurred_at")
    sent_at = None if sent is None else _sent_at(sent)
    return place_in_time(occurred_at=occurred, sent_at=sent_at, received_at=received_at)


def _sent_at(value: Any) -> datetime:
    """sentAt parsed; a batch's messages share one, so a text is parsed once (cached)."""
    if type(value) is str:
        return _parse_sent_at(value)
    return parse_time(value, "sentAt", "invalid_sent_at")


@lru_cache(maxsize=32)
def _parse_sent_at(value: str) -> datetime:
    return parse_time(value, "sentAt", "invalid_sent_at")  # refusals are not cached


def prepare_message(
    message: Any,
    *,
    kind: str | None,
    sender: Sender,
    policy: IngestPolicy,
    received_at: datetime,
    batch_sent_at: Any = None,
) -> PreparedMessage:
    """Check one message; kind is the endpoint's (/v1/track...) or None in a batch (the
    message's own `type`). MessageRefused names the first fault."""
    if not isinstance(message, dict):
        raise MessageRefused("invalid_message", "message", "Each message must be an object.")
    kind = kind or message.get("type")
    if kind == "group":
        raise MessageRefused("unsupported_type", "type", "group calls are not supported.")
    if kind not in MESSAGE_TYPES:
        raise MessageRefused(
            "invalid_message", "type", "type must be one of " + ", ".join(MESSAGE_TYPES) + "."
        )
    context = message.get("context")
    if context is None:
        context = {}
    if not isinstance(context, dict):
        raise MessageRefused("invalid_context", "context", "context must be an object.")
    event_id = message_event_id(message.get("messageId"))
    raw_user = _optional_id(message, "userId")
    if kind == "alias":
        previous = _optional_id(message, "previousId")
        if previous is None or raw_user is None:
            raise MessageRefused("missing_id", "previousId", "alias needs previousId and userId.")
        user_id = _authorized_user(raw_user, sender)
        return PreparedMessage("link", event_id, user_id, previous, linked_by="alias")
    anonymous_id = _optional_id(message, "anonymousId")
    if raw_user is None and anonymous_id is None:
        raise MessageRefused("missing_id", "userId", "userId or anonymousId is required.")
    if context.get("sessionId") is not None and not isinstance(context["sessionId"], int):
        _id(context["sessionId"], "context.sessionId")
    user_id = _authorized_user(raw_user, sender)
    if kind == "identify":
        return PreparedMessage("link", event_id, user_id, anonymous_id, linked_by="identify")
    try:
        event_type, data = _event_data(kind, message)
        if kind == "track":
            event_type = check_event_type(event_type, policy)
        data, text = check_data_json(event_type, data, policy)
        occurred_at, clamped = _occurred(message, batch_sent_at, received_at)
    except EventRefused as exc:
        raise _refused_event(exc) from None
    return PreparedMessage(
        "event", event_id, user_id, anonymous_id, event_type, data, text, occurred_at, clamped,
        context_columns(context, platform=sender.source),
    )
