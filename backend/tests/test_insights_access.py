"""Insights access and parameter validation: 401, 403, 422 naming the parameter."""

from __future__ import annotations

import pytest

from tests.problem_helpers import assert_problem

URL = "/api/v2/insights"
REPORTS = [
    "trends?event_type=app_opened",
    "active-users",
    "challenge-progress?challenge_id=1",
    "retention?start_event=app_opened&return_event=app_opened",
    "api-health",
    "user-timeline?user_id=1",
    "realtime",
]


def test_every_report_needs_a_token_and_an_admin(client, data):
    for report in REPORTS:
        assert_problem(client.get(f"{URL}/{report}"), 401)
        body = assert_problem(client.get(f"{URL}/{report}", headers=data["plain"]), 403)
        assert "admin" in body["detail"]
    assert_problem(client.post(f"{URL}/funnels", json={}, headers=data["plain"]), 403)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"tz": "Mars/Olympus"}, "tz"),
        ({"from": "2026-03-10", "to": "2026-03-01"}, "from"),
        ({"from": "2026-01-01", "to": "2026-12-31", "interval": "hour"}, "interval"),
        ({"interval": "fortnight"}, "interval"),
        ({"from": "2026-03-01"}, "to"),
        ({"event_type": "nope"}, "event_type"),
    ],
)
def test_bad_parameters_are_422_naming_the_parameter(client, data, params, field):
    query = {"event_type": "app_opened"} | params
    body = assert_problem(
        client.get(f"{URL}/trends", query_string=query, headers=data["admin"]), 422
    )
    assert field in [e["field"] for e in body["errors"]], body


def test_reports_are_in_the_openapi_document(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    for name in (
        "trends",
        "active-users",
        "challenge-progress",
        "funnels",
        "retention",
        "api-health",
        "user-timeline",
        "realtime",
    ):
        assert f"{URL}/{name}" in paths
