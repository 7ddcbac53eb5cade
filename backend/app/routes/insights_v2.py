"""/api/v2/insights: the reports, for admins (JSON, or CSV with format=csv / Accept)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Response, current_app, request
from flask_jwt_extended import current_user

from app.config import SERVER_EVENT_TYPES
from app.errors import Forbidden
from app.routes._common import ApiBlueprint, auth_required, problems
from app.schemas import funnel_people as fp
from app.schemas import insights as s
from app.schemas import insights_home as home
from app.schemas.insights_context import CONTEXT_ARGS
from app.services.insights import breakdown
from app.services.insights.context import ContextFilter, context_filter
from app.services.insights.csv_export import Exportable, to_csv
from app.services.insights.params import Period, build_period, invalid
from app.services.insights.reports import (
    active_users,
    api_health,
    challenge_progress,
    funnel_people,
    funnels,
    overview,
    people,
    realtime,
    retention,
    sessions,
    trends,
    user_timeline,
)

F = TypeVar("F", bound=Callable[..., Any])

blp = ApiBlueprint(
    "insights_v2",
    __name__,
    url_prefix="/api/v2/insights",
    description="Insights reports (admins only). Every report is also CSV: format=csv.",
)


CSV_SCHEMA = {"type": "string", "description": "RFC 4180 CSV with a header row"}


def admin_required(func: F) -> F:
    """401 without a valid token, 403 problem+json for a user who is not an admin.

    Documents both, and the report's CSV form of its 200 (format=csv or Accept: text/csv).
    """

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_admin:
            raise Forbidden("Insights are for admins only.")
        return func(*args, **kwargs)

    with_csv = blp.alt_response(
        200, schema=CSV_SCHEMA, content_type="text/csv", description="The report (JSON or CSV)"
    )
    return auth_required()(problems(403)(with_csv(wrapper)))  # type: ignore[return-value]


def _period(args: dict[str, Any]) -> Period:
    return build_period(
        tz=args["tz"],
        start=args.get("from_"),
        end=args.get("to"),
        preset=args.get("preset"),
        interval=args["interval"],
        week_start=args["week_start"],
        include_internal=args["include_internal"],
    )


def _context(args: dict[str, Any]) -> ContextFilter:
    return context_filter(**{k: args[k] for k in CONTEXT_ARGS if k in args})


def _sliced(
    report: Callable[[ContextFilter], Any], args: dict[str, Any], period: Period, **window: Any
) -> breakdown.Sliced[Any]:
    """The report with the request's context filters, and per value of its breakdown."""
    return breakdown.run(
        report,
        context=_context(args),
        breakdown_property=args.get("breakdown_property"),
        period=period,
        **window,
    )


def _check_types(field: str, names: list[str]) -> None:
    known = set(current_app.config["ANALYTICS_EVENT_TYPES"]) | set(SERVER_EVENT_TYPES)
    for name in names:
        if name not in known:
            raise invalid(field, f"Unknown event type {name!r}.")


def _respond(result: Exportable, args: dict[str, Any]) -> Any:
    wants = args.get("format")
    if wants is None:
        best = request.accept_mimetypes.best_match(["application/json", "text/csv"])
        wants = "csv" if best == "text/csv" else "json"
    if wants == "csv":
        return Response(to_csv(result), mimetype="text/csv")
    return result


def _funnel_steps(body: dict[str, Any]) -> list[funnels.Step]:
    """A funnel body's steps, each a known event type (422 naming the step otherwise)."""
    steps = [funnels.Step(st["event_type"], st["where"]) for st in body["steps"]]
    funnels.validate_steps(steps, current_app.config["ANALYTICS_EVENT_TYPES"])
    return steps


@blp.route("/overview")
@admin_required
@blp.arguments(s.RangeQuery, location="query")
@blp.response(200, home.OverviewRead)
def get_overview(args: dict[str, Any]) -> Any:
    """DAU, WAU, MAU, new users, joins, day-7 completion, API errors and p95, top events:
    each against the previous period, with daily points"""
    known = sorted(set(current_app.config["ANALYTICS_EVENT_TYPES"]) | set(SERVER_EVENT_TYPES))
    return _respond(overview.run(period=_period(args), event_types=known), args)


@blp.route("/users")
@admin_required
@blp.arguments(home.PeopleQuery, location="query")
@blp.response(200, home.PeopleRead)
def get_users(args: dict[str, Any]) -> Any:
    """Find users by part of their email or display name, or by id; newest first, with
    when each was last seen"""
    result = people.run(q=args.get("q"), limit=args["limit"], cursor=args.get("cursor"))
    return _respond(result, args)


@blp.route("/trends")
@admin_required
@blp.arguments(s.TrendsQuery, location="query")
@blp.response(200, s.TrendsRead)
def get_trends(args: dict[str, Any]) -> Any:
    """Events and unique users per bucket, per event type"""
    _check_types("event_type", args["event_type"])
    result = trends.run(
        period=_period(args),
        event_types=list(dict.fromkeys(args["event_type"])),
        breakdown=args.get("breakdown"),
        breakdown_property=args.get("breakdown_property"),
        context=_context(args),
        compare_previous=args.get("compare") == "previous",
    )
    return _respond(result, args)


@blp.route("/active-users")
@admin_required
@blp.arguments(s.ReportQuery, location="query")
@blp.response(200, s.ActiveUsersRead)
def get_active_users(args: dict[str, Any]) -> Any:
    """DAU, rolling WAU and MAU, and stickiness per local day, week or month"""
    period = _period(args)
    result = _sliced(lambda c: active_users.run(period=period, context=c), args, period)
    return _respond(result, args)


@blp.route("/sessions")
@admin_required
@blp.arguments(s.ReportQuery, location="query")
@blp.response(200, s.SessionsRead)
def get_sessions(args: dict[str, Any]) -> Any:
    """Sessions per bucket of their start: count, median and p90 length, events per session"""
    period = _period(args)
    result = _sliced(lambda c: sessions.run(period=period, context=c), args, period)
    return _respond(result, args)


@blp.route("/challenge-progress")
@admin_required
@blp.arguments(s.ChallengeProgressQuery, location="query")
@blp.response(200, s.ChallengeProgressRead)
@problems(404)
def get_challenge_progress(args: dict[str, Any]) -> Any:
    """Join-week cohorts of a challenge and the share on (or past) each day"""
    result = challenge_progress.run(period=_period(args), challenge_id=args["challenge_id"])
    return _respond(result, args)


@blp.route("/funnels", methods=["POST"])
@admin_required
@blp.arguments(s.ReportQuery, location="query")
@blp.arguments(s.FunnelCreate)
@blp.response(200, s.FunnelRead)
def create_funnel(args: dict[str, Any], body: dict[str, Any]) -> Any:
    """Users through 2 to 8 ordered steps within a window from step 1"""
    steps = _funnel_steps(body)
    period = _period(args)

    def report(context: ContextFilter) -> funnels.FunnelResult:
        return funnels.run(
            period=period,
            steps=steps,
            window_days=body["window_days"],
            attempt=body["attempt"],
            context=context,
        )

    return _respond(_sliced(report, args, period), args)


@blp.route("/funnels/people", methods=["POST"])
@admin_required
@blp.arguments(s.FunnelPeopleQuery, location="query")
@blp.arguments(fp.FunnelPeopleCreate)
@blp.response(200, fp.FunnelPeopleRead)
def create_funnel_people(args: dict[str, Any], body: dict[str, Any]) -> Any:
    """The people who reached the step before `step` and not `step` (its drop-off), on the
    funnel's first-attempt paths"""
    steps = _funnel_steps(body)
    result = funnel_people.dropped(
        period=_period(args), steps=steps, window_days=body["window_days"],
        step=body["step"], limit=body["limit"], context=_context(args),
    )
    return _respond(result, args)


@blp.route("/retention")
@admin_required
@blp.arguments(s.RetentionQuery, location="query")
@blp.response(200, s.RetentionRead)
def get_retention(args: dict[str, Any]) -> Any:
    """Cohorts of a start event (first-time or recurring) and who returned per day or week"""
    _check_types("start_event", [args["start_event"]])
    _check_types("return_event", [args["return_event"]])
    period = _period(args)

    def report(context: ContextFilter) -> retention.RetentionResult:
        return retention.run(
            period=period,
            start_event=args["start_event"],
            return_event=args["return_event"],
            unit=args["period"],
            periods=args["periods"],
            cohort_type=args["cohort_type"],
            context=context,
        )

    return _respond(_sliced(report, args, period), args)


@blp.route("/api-health")
@admin_required
@blp.arguments(s.ApiHealthQuery, location="query")
@blp.response(200, s.ApiHealthRead)
def get_api_health(args: dict[str, Any]) -> Any:
    """Requests, error rates and latency percentiles per route (and over time for one)"""
    result = api_health.run(
        period=_period(args),
        endpoint=args.get("endpoint"),
        method=args.get("method"),
        exact=args["exact"],
    )
    return _respond(result, args)


@blp.route("/user-timeline")
@admin_required
@blp.arguments(s.TimelineQuery, location="query")
@blp.response(200, s.TimelineRead)
@problems(404)
def get_user_timeline(args: dict[str, Any]) -> Any:
    """One user's events and requests, newest first"""
    result = user_timeline.run(
        user_id=args["user_id"], limit=args["limit"], cursor=args.get("cursor")
    )
    return _respond(result, args)


@blp.route("/realtime")
@admin_required
@blp.arguments(s.RealtimeQuery, location="query")
@blp.response(200, s.RealtimeRead)
def get_realtime(args: dict[str, Any]) -> Any:
    """Active users in the last 5 minutes and events per minute over the last 30"""
    result = realtime.sliced(
        include_internal=args["include_internal"],
        context=_context(args),
        breakdown_property=args.get("breakdown_property"),
    )
    return _respond(result, args)
