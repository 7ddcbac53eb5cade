"""`flask seed-demo`'s anonymous installs: device context per install, app versions rolled
out over time, a share registering (linked at register), and one version whose onboarding
step stops most installs; the sessions and trends reports see them."""

from __future__ import annotations

import json
from collections import defaultdict

from app.services.demo import installs
from app.services.demo import seed as seed_service

NOW = "2026-03-20T12:00:00Z"
URL = "/api/v2/insights"


def _passed(query, version: str, screen: str) -> set[str]:
    rows = query(
        "SELECT DISTINCT anonymous_id, event_data FROM analytics_events "
        "WHERE event_type = 'screen_viewed' AND app_version = :v",
        {"v": version},
    )
    return {
        a for a, data in rows
        if (data if isinstance(data, dict) else json.loads(data))["screen"]
        == f"onboarding_{screen}"
    }


def test_seed_demo_has_anonymous_installs_a_share_registering(app, query, at, client, login):
    at(NOW)
    assert app.test_cli_runner().invoke(args=["seed-demo"]).exit_code == 0
    links = query("SELECT linked_by, count(*) FROM anonymous_identities GROUP BY linked_by")
    assert [tuple(r) for r in links] == [("register", 40)]
    anonymous = query(
        "SELECT count(DISTINCT anonymous_id) FROM analytics_events WHERE user_id IS NULL"
    )[0][0]
    assert anonymous == 40 * (1 + seed_service.STRANGERS_PER_MEMBER)
    platforms = {r[0] for r in query("SELECT DISTINCT platform FROM analytics_events")}
    assert {"ios", "android", "web"} <= platforms
    # Versions roll out: each first appears later than the one before.
    first_seen = dict(
        query("SELECT app_version, min(occurred_at) FROM analytics_events "
              "WHERE app_version IS NOT NULL GROUP BY app_version")
    )
    versions = [v for _, v, _ in installs.ROLLOUT]
    assert list(first_seen) and sorted(first_seen, key=lambda v: str(first_seen[v])) == [
        v for v in versions if v in first_seen
    ]
    # The broken version's onboarding: most installs that see "goals" never see the next.
    rate: dict[str, float] = defaultdict(float)
    for version in ("2.1.0", "2.2.0", installs.BROKEN_VERSION):
        goals = _passed(query, version, "goals")
        rate[version] = len(_passed(query, version, installs.BROKEN_STEP) & goals) / len(goals)
    assert rate[installs.BROKEN_VERSION] < 0.6 < min(rate["2.1.0"], rate["2.2.0"])
    # Members' own client events carry their device's context.
    assert query(
        "SELECT count(*) FROM analytics_events WHERE user_id IS NOT NULL "
        "AND event_type = 'app_opened' AND platform IS NULL"
    )[0][0] == 0

    token = login(seed_service.ADMIN_EMAIL, seed_service.ADMIN_PASSWORD)["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    body = client.get(f"{URL}/sessions", query_string={"preset": "last_30d"},
                      headers=headers).get_json()
    assert sum(p["anonymous_sessions"] for p in body["points"]) > 0
    trend = client.get(
        f"{URL}/trends",
        query_string={"event_type": "app_opened", "breakdown_property": "app_version",
                      "preset": "last_30d"},
        headers=headers,
    ).get_json()
    assert {s["value"] for s in trend["series"]} >= {"2.1.0", "2.2.0"}


def test_the_demo_onboarding_funnel_runs_from_anonymous_installs_to_plans(app, at, client, login):
    """Persons: an install's anonymous onboarding and its user's joins and plans are one
    path, so the demo's funnel from first open to a viewed plan converts."""
    at(NOW)
    assert app.test_cli_runner().invoke(args=["seed-demo"]).exit_code == 0
    token = login(seed_service.ADMIN_EMAIL, seed_service.ADMIN_PASSWORD)["access_token"]
    steps = [
        {"event_type": "app_opened"},
        {"event_type": "screen_viewed", "where": {"screen": "onboarding_create_account"}},
        {"event_type": "challenge_joined"},
        {"event_type": "plan_viewed"},
    ]
    r = client.post(f"{URL}/funnels", query_string={"preset": "last_90d"},
                    json={"steps": steps, "window_days": 30},
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.get_data(as_text=True)
    users = [s["users"] for s in r.get_json()["steps"]]
    # More installs open the app than finish onboarding; registered ones join and view plans.
    assert users[0] > users[1] > 0 and users[2] > 0 and users[3] > 0, users
