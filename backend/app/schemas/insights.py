"""Insights: the common query parameters and each report's document."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.schemas.fields import MAX_DATE, MIN_DATE, Id, JsonScalar, ReportDate
from app.schemas.insights_context import ContextFilterQuery, ContextQuery, GroupRead, SlicedRead
from app.services.insights.params import INTERVALS, PRESETS, WEEK_STARTS
from app.services.insights.reports.trends import CONTEXT_PROPERTIES

_DAYS = f"{MIN_DATE} to {MAX_DATE}"
KEY = validate.Regexp(r"^[A-Za-z0-9_]{1,64}$", error="Letters, digits and _ only (max 64).")
FORMAT = fields.String(
    validate=validate.OneOf(["json", "csv"]),
    metadata={"description": "csv for text/csv (or send Accept: text/csv)"},
)


class FormatQuery(Schema):
    format = FORMAT


class RangeQuery(FormatQuery):
    from_ = ReportDate(
        data_key="from", metadata={"description": f"First local day (inclusive), {_DAYS}"}
    )
    to = ReportDate(metadata={"description": f"Last local day (inclusive), {_DAYS}"})
    preset = fields.String(
        validate=validate.OneOf(list(PRESETS)), metadata={"description": "Ends today in tz"}
    )
    tz = fields.String(load_default="UTC", metadata={"description": "IANA time zone"})
    interval = fields.String(load_default="day", validate=validate.OneOf(INTERVALS))
    week_start = fields.String(load_default="monday", validate=validate.OneOf(WEEK_STARTS))
    include_internal = fields.Boolean(load_default=False)


class TrendsQuery(RangeQuery, ContextFilterQuery):
    event_type = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        required=True,
        validate=validate.Length(min=1, max=20),
        metadata={"description": "Repeat for several types"},
    )
    breakdown = fields.String(validate=KEY, metadata={"description": "An event_data key"})
    breakdown_property = fields.String(
        validate=validate.OneOf(CONTEXT_PROPERTIES),
        metadata={
            "description": "A context column, or identified (identified or anonymous "
            "persons), to break down by (instead of breakdown)"
        },
    )
    compare = fields.String(validate=validate.OneOf(["previous"]))


class ReportQuery(RangeQuery, ContextQuery):
    """A range and the context filters and breakdown (active users, sessions, funnels)."""


class FunnelPeopleQuery(RangeQuery, ContextFilterQuery):
    """A range and the context filters (the funnel's)."""


class ChallengeProgressQuery(RangeQuery):
    challenge_id = Id(required=True)


class RetentionQuery(RangeQuery, ContextQuery):
    start_event = fields.String(required=True, validate=validate.Length(min=1, max=64))
    return_event = fields.String(required=True, validate=validate.Length(min=1, max=64))
    period = fields.String(load_default="day", validate=validate.OneOf(["day", "week"]))
    periods = fields.Integer(load_default=7, validate=validate.Range(min=1, max=90))
    cohort_type = fields.String(
        load_default="first_time",
        validate=validate.OneOf(["first_time", "recurring"]),
        metadata={
            "description": (
                "first_time (default): a user's cohort is the day (week) of their first-ever "
                "start event, if it is in the range. recurring (PostHog's default): a user "
                "is in the cohort of every day (week) of the range in which they did the "
                "start event."
            )
        },
    )


class ApiHealthQuery(RangeQuery):
    endpoint = fields.String(
        validate=validate.Length(max=255), metadata={"description": "A route template"}
    )
    method = fields.String(validate=validate.Length(max=10))
    exact = fields.Boolean(
        load_default=False,
        metadata={
            "description": (
                "true: latency percentiles computed exactly (percentile_cont) over the raw "
                "request logs, however many the period holds (seconds over millions). "
                "false (default): exact when the period holds at most 100,000 requests "
                "(setting API_HEALTH_EXACT_MAX_REQUESTS); above that they are read from a "
                "latency histogram, kept up to date as requests arrive, and are within 2% "
                "(1.99%) of the exact values. Request counts and 4xx/5xx rates are exact "
                "either way; the response's `percentiles` field says which method answered."
            )
        },
    )


class TimelineQuery(FormatQuery):
    user_id = Id(required=True)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(validate=validate.Length(max=200))


class RealtimeQuery(FormatQuery, ContextQuery):
    include_internal = fields.Boolean(load_default=False)


class FunnelStepCreate(Schema):
    event_type = fields.String(required=True, validate=validate.Length(min=1, max=64))
    where = fields.Dict(
        keys=fields.String(validate=KEY),
        values=JsonScalar(),
        load_default=dict,
        validate=validate.Length(max=8),
    )


class FunnelCreate(Schema):
    steps = fields.List(
        fields.Nested(FunnelStepCreate), required=True, validate=validate.Length(min=2, max=8)
    )
    window_days = fields.Integer(load_default=14, validate=validate.Range(min=1, max=365))
    attempt = fields.String(
        load_default="first",
        validate=validate.OneOf(["first", "best"]),
        metadata={
            "description": (
                "Which step-1 event starts a user's path. first (default): their first "
                "step-1 event in the range. best (PostHog's rule): every step-1 event in the "
                "range is tried and the path that gets furthest counts (of several, the one "
                "that gets there first, then the one that started last); costs more."
            )
        },
    )


class PeriodRead(Schema):
    from_ = fields.Date(data_key="from", attribute="start_date")
    to = fields.Date(attribute="end_date")
    tz = fields.String()
    interval = fields.String()
    week_start = fields.String()
    include_internal = fields.Boolean()


class TrendPointRead(Schema):
    start = fields.String()
    partial = fields.Boolean()
    events = fields.Integer()
    users = fields.Integer()


class TrendSeriesRead(Schema):
    event_type = fields.String()
    value = fields.String(allow_none=True)
    other = fields.Boolean()
    total_events = fields.Integer()
    points = fields.List(fields.Nested(TrendPointRead))


class TrendsRead(Schema):
    period = fields.Nested(PeriodRead)
    event_types = fields.List(fields.String())
    breakdown = fields.String(allow_none=True)
    breakdown_property = fields.String(allow_none=True)
    filters = fields.Dict(keys=fields.String(), values=fields.Raw())
    series = fields.List(fields.Nested(TrendSeriesRead))
    previous = fields.List(fields.Nested(TrendSeriesRead), allow_none=True)


class ActiveUsersDayRead(Schema):
    day = fields.String(
        metadata={"description": "The local day, or the first day of the week or month"}
    )
    partial = fields.Boolean(metadata={"description": "The point holds now or a later time"})
    dau = fields.Integer(
        metadata={
            "description": "Users active that day; for a week or month, on any of its "
            "days within the range"
        }
    )
    wau = fields.Integer(
        metadata={"description": "Users active in the 7 days ending on the point's last day"}
    )
    mau = fields.Integer(
        metadata={"description": "Users active in the 30 days ending on the point's last day"}
    )
    stickiness = fields.Float(
        allow_none=True,
        metadata={
            "description": "Mean DAU of the point's days over its MAU (DAU/MAU for a day); "
            "null when MAU is 0"
        },
    )
    wau_complete = fields.Boolean(
        metadata={"description": "false while the WAU window reaches before data_start"}
    )
    mau_complete = fields.Boolean(
        metadata={
            "description": "false while the MAU window reaches before data_start "
            "(MAU, and so stickiness, still filling)"
        }
    )


class ActiveUsersGroupRead(GroupRead):
    data_start = fields.String(
        allow_none=True,
        metadata={
            "description": "The local day of the earliest stored event, filtered or not "
            "(null: none)"
        },
    )
    days = fields.List(fields.Nested(ActiveUsersDayRead))


class ActiveUsersRead(ActiveUsersGroupRead, SlicedRead):
    class Meta:
        exclude = ("value",)

    period = fields.Nested(PeriodRead)
    groups = fields.List(fields.Nested(ActiveUsersGroupRead), allow_none=True)


class ProgressCellRead(Schema):
    day = fields.Integer()
    eligible = fields.Integer()
    on = fields.Integer(allow_none=True)
    on_or_after = fields.Integer(allow_none=True)
    on_share = fields.Float(allow_none=True)
    on_or_after_share = fields.Float(allow_none=True)


class ProgressCohortRead(Schema):
    week_start = fields.String()
    size = fields.Integer()
    days = fields.List(fields.Nested(ProgressCellRead))


class SessionPointRead(Schema):
    start = fields.String(metadata={"description": "The bucket of the sessions' starts"})
    partial = fields.Boolean()
    sessions = fields.Integer()
    anonymous_sessions = fields.Integer(
        metadata={"description": "Sessions of an anonymous id linked to no user"}
    )
    median_seconds = fields.Float(
        allow_none=True, metadata={"description": "percentile_cont(0.5) of session lengths"}
    )
    p90_seconds = fields.Float(
        allow_none=True, metadata={"description": "percentile_cont(0.9) of session lengths"}
    )
    mean_events = fields.Float(allow_none=True, metadata={"description": "Events per session"})
    single_event_sessions = fields.Integer()
    single_event_share = fields.Float(allow_none=True)


class SessionsGroupRead(GroupRead):
    points = fields.List(fields.Nested(SessionPointRead))


class SessionsRead(SessionsGroupRead, SlicedRead):
    class Meta:
        exclude = ("value",)

    period = fields.Nested(PeriodRead)
    gap_minutes = fields.Integer(
        metadata={"description": "A gap this long between a person's events starts a session"}
    )
    groups = fields.List(fields.Nested(SessionsGroupRead), allow_none=True)


class ChallengeProgressRead(Schema):
    period = fields.Nested(PeriodRead)
    challenge_id = fields.Integer()
    duration_days = fields.Integer()
    cohorts = fields.List(fields.Nested(ProgressCohortRead))


class FunnelStepRead(Schema):
    index = fields.Integer()
    event_type = fields.String()
    where = fields.Dict()
    users = fields.Integer()
    conversion_from_first = fields.Float(allow_none=True)
    conversion_from_previous = fields.Float(allow_none=True)
    drop_off = fields.Integer()
    median_seconds_from_previous = fields.Float(allow_none=True)


class FunnelGroupRead(GroupRead):
    steps = fields.List(fields.Nested(FunnelStepRead))


class FunnelRead(FunnelGroupRead, SlicedRead):
    class Meta:
        exclude = ("value",)

    period = fields.Nested(PeriodRead)
    window_days = fields.Integer()
    attempt = fields.String()
    groups = fields.List(fields.Nested(FunnelGroupRead), allow_none=True)


class RetentionCellRead(Schema):
    period = fields.Integer()
    on = fields.Integer(allow_none=True)
    on_or_after = fields.Integer(allow_none=True)


class RetentionCohortRead(Schema):
    start = fields.String()
    size = fields.Integer()
    periods = fields.List(fields.Nested(RetentionCellRead))


class RetentionGroupRead(GroupRead):
    cohorts = fields.List(fields.Nested(RetentionCohortRead))


class RetentionRead(RetentionGroupRead, SlicedRead):
    class Meta:
        exclude = ("value",)

    period = fields.Nested(PeriodRead)
    start_event = fields.String()
    return_event = fields.String()
    unit = fields.String()
    periods = fields.Integer()
    cohort_type = fields.String()
    groups = fields.List(fields.Nested(RetentionGroupRead), allow_none=True)


class HealthStatsRead(Schema):
    requests = fields.Integer()
    rate_4xx = fields.Float()
    rate_5xx = fields.Float()
    p50_ms = fields.Float(allow_none=True)
    p95_ms = fields.Float(allow_none=True)
    p99_ms = fields.Float(allow_none=True)


class RouteHealthRead(HealthStatsRead):
    endpoint = fields.String()
    method = fields.String()


class HealthPointRead(HealthStatsRead):
    start = fields.String()
    partial = fields.Boolean()


class ApiHealthRead(Schema):
    period = fields.Nested(PeriodRead)
    routes = fields.List(fields.Nested(RouteHealthRead))
    slowest = fields.List(fields.Nested(RouteHealthRead))
    endpoint = fields.String(allow_none=True)
    method = fields.String(allow_none=True)
    series = fields.List(fields.Nested(HealthPointRead), allow_none=True)
    percentiles = fields.String(
        validate=validate.OneOf(["exact", "histogram"]),
        metadata={
            "description": (
                "How p50/p95/p99 were computed: exact (percentile_cont over the raw rows) or "
                "histogram (the latency rollup: log-spaced bins growing by 4%, read at their "
                "geometric middle)"
            )
        },
    )
    percentile_error = fields.Float(
        metadata={
            "description": (
                "The largest relative error of any percentile in this document: 0 when "
                "exact, 0.0199 from the histogram (counts and rates are always exact)"
            )
        }
    )


class TimelineItemRead(Schema):
    kind = fields.String()
    id = fields.Integer()
    at = fields.DateTime()
    event_type = fields.String(allow_none=True)
    event_data = fields.Dict(allow_none=True)
    endpoint = fields.String(allow_none=True)
    method = fields.String(allow_none=True)
    status = fields.Integer(allow_none=True)
    latency_ms = fields.Float(allow_none=True)


class TimelineRead(Schema):
    user_id = fields.Integer()
    items = fields.List(fields.Nested(TimelineItemRead))
    next_cursor = fields.String(allow_none=True)


class MinuteRead(Schema):
    start = fields.DateTime()
    partial = fields.Boolean()
    events = fields.Integer()


class RealtimeGroupRead(GroupRead):
    active_users_5m = fields.Integer()
    minutes = fields.List(fields.Nested(MinuteRead))


class RealtimeRead(RealtimeGroupRead, SlicedRead):
    class Meta:
        exclude = ("value",)

    now = fields.DateTime()
    groups = fields.List(fields.Nested(RealtimeGroupRead), allow_none=True)
