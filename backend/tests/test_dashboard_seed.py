"""`flask seed-demo` loads demo activity once, deterministically, relative to the clock, so
that every dashboard report has data on first start."""

from __future__ import annotations

from datetime import timedelta

from app.extensions import db
from app.models import Base
from app.services.demo import seed as seed_service
from tests import services as svc

NOW = "2026-03-20T12:00:00Z"
URL = "/api/v2/insights"


def _activity(query) -> dict[str, int]:  # type: ignore[no-untyped-def]
    counts = {
        "members": "SELECT count(*) FROM users WHERE email LIKE 'demo-member-%'",
        "enrollments": "SELECT count(*) FROM enrollments",
        "completions": "SELECT count(*) FROM completions",
        "likes": "SELECT count(*) FROM user_liked_videos",
        "request_logs": "SELECT count(*) FROM request_logs",
    }
    result = {name: query(sql)[0][0] for name, sql in counts.items()}
    for kind, n in query("SELECT event_type, count(*) FROM analytics_events GROUP BY event_type"):
        result[kind] = n
    return result


def test_seed_demo_loads_activity_and_an_admin_once(app, query, at):
    at(NOW)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "Demo activity created: 40 members" in first.output
    loaded = _activity(query)
    assert loaded["members"] == loaded["enrollments"] == 40
    for kind in ("challenge_joined", "app_opened", "plan_viewed", "plan_completed",
                 "video_started", "video_completed", "video_liked"):
        assert loaded[kind] > 0, kind
    assert loaded["plan_completed"] == loaded["completions"] < loaded["plan_viewed"]
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0 and "Demo activity already present." in second.output
    assert _activity(query) == loaded
    admins = query("SELECT is_admin, is_internal FROM users WHERE email = 'admin@example.com'")
    assert [tuple(row) for row in admins] == [(True, True)]


def test_seed_demo_without_activity_keeps_the_old_behaviour(app, query):
    result = app.test_cli_runner().invoke(args=["seed-demo", "--no-activity"])
    assert result.exit_code == 0, result.output
    assert query("SELECT count(*) FROM users")[0][0] == 1
    assert query("SELECT count(*) FROM analytics_events")[0][0] == 0


def test_activity_is_deterministic_and_within_five_weeks_before_now(app, query, at):
    now = at(NOW)
    runs = []
    for _ in range(2):
        with app.app_context():
            seed_service.seed_activity(challenge=seed_service.seed_demo().challenge)
        runs.append(_activity(query))
        first, last = query("SELECT min(occurred_at), max(occurred_at) FROM analytics_events")[0]
        times = query("SELECT min(created_at), max(created_at) FROM request_logs")[0]
        with app.app_context():
            svc.empty_all_tables(db.engine, Base.metadata)
    assert runs[0] == runs[1]
    # Compared as "YYYY-MM-DD HH:MM:SS" text: SQLite returns strings, PostgreSQL datetimes.
    assert str(first)[:19] >= str(now - timedelta(days=35))[:19]
    assert str(last)[:19] <= str(now)[:19] and str(times[1])[:19] <= str(now)[:19]


def test_every_report_has_data_after_seeding(app, client, login, at):
    at(NOW)
    assert app.test_cli_runner().invoke(args=["seed-demo"]).exit_code == 0
    token = login(seed_service.ADMIN_EMAIL, seed_service.ADMIN_PASSWORD)["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    def get(path: str, **params: object) -> dict:
        response = client.get(f"{URL}/{path}", query_string=params, headers=headers)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    trends = get("trends", event_type="plan_viewed", preset="last_30d")
    assert sum(p["events"] for p in trends["series"][0]["points"]) > 100
    assert max(d["dau"] for d in get("active-users")["days"]) > 5
    assert len(get("challenge-progress", challenge_id=1)["cohorts"]) >= 4
    retention = get("retention", start_event="challenge_joined", return_event="app_opened")
    assert len(retention["cohorts"]) > 10
    assert len(get("api-health")["routes"]) >= 5
    assert get("realtime")["active_users_5m"] > 0
    assert get("user-timeline", user_id=3)["items"]
    funnel = client.post(
        f"{URL}/funnels",
        json={"steps": [{"event_type": "challenge_joined"}, {"event_type": "plan_completed"}]},
        headers=headers,
    ).get_json()
    assert funnel["steps"][0]["users"] > funnel["steps"][1]["users"] > 0
