"""/admin: the insights dashboard's pages (HTML shells; the data comes from /api/v2/insights).

The pages hold no data and need no session: the browser logs in through the API, keeps
the access token in sessionStorage and calls the insights endpoints with it, so the
API's admin check (403 for others) is the only gate. Every asset is served by the app.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, render_template

from app.config import SERVER_EVENT_TYPES
from app.services.insights.context import BREAKDOWNS
from app.services.insights.reports.trends import CONTEXT_PROPERTIES

bp = Blueprint("admin_dashboard", __name__, url_prefix="/admin")

# slug -> title, in the order of the navigation.
PAGES = {
    "overview": "Overview",
    "trends": "Trends",
    "active-users": "Active users",
    "challenge-progress": "Challenge progress",
    "funnels": "Funnels",
    "retention": "Retention",
    "api-health": "API health",
    "realtime": "Realtime",
    "people": "People",
    "user-timeline": "User timeline",
    "dashboards": "Dashboards",
    "write-keys": "Write keys",
}

# Pages whose report takes no date range (realtime is the last 30 minutes).
NO_RANGE = {"realtime", "people", "user-timeline", "dashboards", "write-keys"}
# Pages that are not a report: no CSV, and not saved into a dashboard.
NOT_REPORTS = {"dashboards", "write-keys"}

# Only our own origin: the dashboard must work offline, so nothing may come from a CDN.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)


@bp.after_request
def set_security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/")
def get_login() -> str:
    """The login page (a tab that is logged in goes on to the overview)."""
    return render_template("admin/login.html", pages=PAGES)


@bp.get("/reset-password")
def get_reset_password() -> str:
    """Ask for a password-reset link, or (opened from the link) set a new password."""
    return render_template("admin/reset-password.html")


@bp.get("/<slug>")
def get_page(slug: str) -> str:
    """One report page."""
    if slug not in PAGES:
        abort(404)
    event_types = sorted(set(current_app.config["ANALYTICS_EVENT_TYPES"]) | set(SERVER_EVENT_TYPES))
    return render_template(
        f"admin/{slug}.html",
        pages=PAGES,
        slug=slug,
        title=PAGES[slug],
        event_types=event_types,
        # What "Break down by" offers: trends take more context columns than the others.
        breakdowns=CONTEXT_PROPERTIES if slug == "trends" else BREAKDOWNS,
        has_range=slug not in NO_RANGE,
        is_report=slug not in NOT_REPORTS,
    )
