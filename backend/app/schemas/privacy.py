"""Schemas of the privacy endpoints: data export and erasure."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class ErasureCreate(Schema):
    password = fields.String(
        required=True,
        validate=validate.Length(min=1, max=256),
        load_only=True,
        metadata={"description": "The account's password, asked again"},
    )


class ErasureRead(Schema):
    erased_at = fields.DateTime()
    requested_by = fields.String(metadata={"description": '"self" or "admin"'})
    row_counts = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "Rows deleted per table; request_logs_anonymized: rows kept "
                  "without the user id"},
    )


class DataExportRead(Schema):
    """The export document (streamed). Each section is an array of that table's rows."""

    format = fields.String()
    exported_at = fields.DateTime()
    user = fields.Dict(metadata={"description": "The profile (no password hash)"})
    enrollments = fields.List(fields.Dict())
    completions = fields.List(fields.Dict())
    liked_videos = fields.List(fields.Dict())
    analytics_events = fields.List(fields.Dict())
    rejected_events = fields.List(fields.Dict())
    request_logs = fields.List(fields.Dict())
    revoked_tokens = fields.List(fields.Dict())
    anonymous_ids = fields.List(
        fields.Dict(), metadata={"description": "Anonymous ids linked to the user"}
    )
    anonymous_events = fields.List(
        fields.Dict(), metadata={"description": "Events of those anonymous ids, before the link"}
    )
