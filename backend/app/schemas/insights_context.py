"""The context parameters every report takes (filters and a breakdown) and what a report
answers with them: insights/context.py and insights/breakdown.py."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.services.insights.breakdown import BREAKDOWN_LIMIT
from app.services.insights.context import BREAKDOWNS, MAX_LENGTH, PLATFORMS

_TEXT = validate.Length(min=1, max=MAX_LENGTH)


class ContextFilterQuery(Schema):
    """Filters on the events' context and persons."""

    platform = fields.String(
        validate=validate.OneOf(PLATFORMS),
        metadata={"description": "Only events sent from this platform"},
    )
    os_name = fields.String(
        validate=_TEXT, metadata={"description": "Only events sent from this OS (os_name)"}
    )
    app_version = fields.String(
        validate=_TEXT, metadata={"description": "Only events sent by this app version"}
    )
    locale = fields.String(
        validate=_TEXT, metadata={"description": "Only events sent with this locale"}
    )
    identified = fields.Boolean(
        metadata={
            "description": (
                "true: only persons with a user (an anonymous id linked to a user counts "
                "with it); false: only anonymous ids linked to no user"
            )
        }
    )


class ContextQuery(ContextFilterQuery):
    """The filters and a breakdown."""

    breakdown_property = fields.String(
        validate=validate.OneOf(BREAKDOWNS),
        metadata={
            "description": (
                "The report again per value of this context column, or per identified/"
                f"anonymous person (`groups`): the {BREAKDOWN_LIMIT} most frequent values "
                "in the range, each as the filters plus that value"
            )
        },
    )


CONTEXT_ARGS = ("platform", "os_name", "app_version", "locale", "identified")


class SlicedRead(Schema):
    """What every report with context parameters adds to its document."""

    filters = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(),
        metadata={"description": "The context filters applied (as given)"},
    )
    breakdown_property = fields.String(allow_none=True)


class GroupRead(Schema):
    value = fields.String(
        allow_none=True,
        metadata={
            "description": (
                "The breakdown value; null for the events sent without it; identified or "
                "anonymous for breakdown_property=identified"
            )
        },
    )
