"""GET /api/v2/insights/sessions over HTTP: hand-computed numbers in Berlin, anonymous
visitors, SESSION_GAP_MINUTES, CSV, admins only (the definition: test_oracle_sessions)."""

from __future__ import annotations

import csv
import io

from app.extensions import db
from app.models import AnalyticsEvent
from tests.insights_data import BERLIN, URL, get, ts
from tests.problem_helpers import assert_problem

RANGE = {"from": "2026-03-28", "to": "2026-03-31", "tz": BERLIN}


def _add_anonymous_visit(app) -> None:
    with app.app_context():
        for at in ("2026-03-31T07:00:00Z", "2026-03-31T07:10:00Z"):
            db.session.add(
                AnalyticsEvent(
                    user_id=None, anonymous_id="dev-1", event_type="app_opened",
                    event_data={}, occurred_at=ts(at), created_at=ts(at), platform="ios",
                )
            )
        db.session.commit()


def test_sessions_per_local_day(client, data, app):
    _add_anonymous_visit(app)
    body = get(client, data, "sessions", **RANGE)
    assert body["gap_minutes"] == 30
    points = {p["start"]: p for p in body["points"]}
    assert [p["start"] for p in body["points"]] == [
        "2026-03-28", "2026-03-29", "2026-03-30", "2026-03-31"
    ]
    # u1 twice, u2 twice (every gap an hour or more); the internal u4 is left out.
    assert points["2026-03-28"]["sessions"] == 2
    assert points["2026-03-29"]["sessions"] == 2
    day = points["2026-03-30"]
    assert (day["sessions"], day["single_event_sessions"], day["single_event_share"]) == (6, 6, 1)
    assert (day["median_seconds"], day["p90_seconds"], day["mean_events"]) == (0, 0, 1)
    visit = points["2026-03-31"]
    assert (visit["sessions"], visit["anonymous_sessions"]) == (1, 1)
    assert (visit["median_seconds"], visit["mean_events"]) == (600, 2)
    assert visit["single_event_share"] == 0


def test_the_gap_is_a_setting(client, data, app):
    app.config["SESSION_GAP_MINUTES"] = 120
    body = get(client, data, "sessions", **RANGE)
    day = {p["start"]: p for p in body["points"]}["2026-03-30"]
    # u1's 08:00 and 09:00, u3's 10:00 and 11:00 (UTC) are one session each now.
    assert (body["gap_minutes"], day["sessions"], day["single_event_sessions"]) == (120, 4, 2)
    assert day["median_seconds"] == 1800 and day["p90_seconds"] == 3600


def test_sessions_as_csv_and_for_admins_only(client, data):
    assert_problem(client.get(f"{URL}/sessions"), 401)
    assert_problem(client.get(f"{URL}/sessions", headers=data["plain"]), 403)
    r = client.get(f"{URL}/sessions", query_string=RANGE | {"format": "csv"},
                   headers=data["admin"])
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert rows[0][:3] == ["bucket", "partial", "sessions"]
    assert [row[0] for row in rows[1:]] == ["2026-03-28", "2026-03-29", "2026-03-30", "2026-03-31"]
    assert "/api/v2/insights/sessions" in client.get("/api/openapi.json").get_json()["paths"]
