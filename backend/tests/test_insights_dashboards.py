"""Saved dashboards through HTTP: create, list, read, change, delete; admins only."""

from __future__ import annotations

from typing import Any

import pytest

from app.extensions import db
from app.models import User
from app.routes.admin_dashboard import NOT_REPORTS, PAGES
from app.services.insights.dashboards import REPORTS
from tests.problem_helpers import assert_problem

URL = "/api/v2/insights/dashboards"
FUNNEL = {
    "report": "funnels",
    "title": "Onboarding",
    "query": "preset=last_30d&tz=Europe%2FBerlin&steps=app_opened%0Aplan_viewed",
}
TRENDS = {"report": "trends", "query": "event_type=app_opened&breakdown=platform"}


def _admin(app, auth) -> Any:
    user = auth()
    with app.app_context():
        db.session.get(User, user.user["id"]).is_admin = True
        db.session.commit()
    return user


@pytest.fixture
def admin(app, auth) -> Any:
    return _admin(app, auth)


def test_a_saved_dashboard_is_shared_by_every_admin(client, app, auth, admin, query) -> None:
    created = client.post(URL, json={"name": " Morning ", "items": [FUNNEL, TRENDS]},
                          headers=admin.headers)
    assert created.status_code == 201
    body = created.get_json()
    assert body["name"] == "Morning"
    assert body["items"] == [FUNNEL, TRENDS | {"title": ""}]
    assert body["created_by"] == admin.user["id"]
    assert query("SELECT name FROM saved_dashboards") == [("Morning",)]

    other = _admin(app, auth)
    listed = client.get(URL, headers=other.headers)
    assert listed.status_code == 200
    assert [d["name"] for d in listed.get_json()["items"]] == ["Morning"]
    one = client.get(f"{URL}/{body['id']}", headers=other.headers)
    assert one.get_json() == body

    changed = client.patch(f"{URL}/{body['id']}", json={"name": "Daily", "items": [TRENDS]},
                           headers=other.headers)
    assert changed.status_code == 200
    assert changed.get_json()["name"] == "Daily"
    assert [v["report"] for v in changed.get_json()["items"]] == ["trends"]
    assert changed.get_json()["updated_at"] >= body["updated_at"]

    deleted = client.delete(f"{URL}/{body['id']}", headers=admin.headers)
    assert deleted.status_code == 204 and deleted.get_data() == b""
    assert_problem(client.get(f"{URL}/{body['id']}", headers=admin.headers), 404)
    assert client.get(URL, headers=admin.headers).get_json() == {"items": []}


def test_dashboards_are_listed_by_name(client, admin) -> None:
    for name in ("Weekly", "Api", "Morning"):
        client.post(URL, json={"name": name, "items": [TRENDS]}, headers=admin.headers)
    names = [d["name"] for d in client.get(URL, headers=admin.headers).get_json()["items"]]
    assert names == ["Api", "Morning", "Weekly"]


def test_only_admins_see_dashboards(client, auth, admin) -> None:
    plain = auth()
    created = client.post(URL, json={"name": "Ops", "items": [TRENDS]}, headers=admin.headers)
    target = f"{URL}/{created.get_json()['id']}"
    assert_problem(client.get(URL), 401)
    for method, path, body in (("GET", URL, None), ("POST", URL, {"name": "x", "items": [TRENDS]}),
                               ("GET", target, None), ("PATCH", target, {"name": "y"}),
                               ("DELETE", target, None)):
        problem = assert_problem(client.open(path, method=method, json=body,
                                             headers=plain.headers), 403)
        assert "admins only" in problem["detail"]


def test_a_name_is_taken_once(client, admin) -> None:
    client.post(URL, json={"name": "Ops", "items": [TRENDS]}, headers=admin.headers)
    second = client.post(URL, json={"name": "Ops", "items": [FUNNEL]}, headers=admin.headers)
    assert assert_problem(second, 409)["errors"] == [
        {"field": "name", "message": "Taken by another dashboard."}
    ]
    other = client.post(URL, json={"name": "Other", "items": [FUNNEL]}, headers=admin.headers)
    renamed = client.patch(f"{URL}/{other.get_json()['id']}", json={"name": "Ops"},
                           headers=admin.headers)
    assert_problem(renamed, 409)
    assert client.get(f"{URL}/{other.get_json()['id']}",
                      headers=admin.headers).get_json()["name"] == "Other"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": [TRENDS]}, "name"),
        ({"name": "   ", "items": [TRENDS]}, "name"),
        ({"name": "x" * 101, "items": [TRENDS]}, "name"),
        ({"name": "A"}, "items"),
        ({"name": "A", "items": []}, "items"),
        ({"name": "A", "items": [TRENDS] * 25}, "items"),
        ({"name": "A", "items": [{"report": "nope"}]}, "items.0.report"),
        ({"name": "A", "items": [{"query": "a=1"}]}, "items.0.report"),
        ({"name": "A", "items": [TRENDS | {"query": "?a=1"}]}, "items.0.query"),
        ({"name": "A", "items": [TRENDS | {"query": "a" * 2001}]}, "items.0.query"),
        ({"name": "A", "items": [TRENDS | {"title": 5}]}, "items.0.title"),
        ({"name": "A", "items": "trends"}, "items"),
    ],
)
def test_bad_dashboards_are_422_naming_the_field(client, admin, body, field) -> None:
    problem = assert_problem(client.post(URL, json=body, headers=admin.headers), 422)
    assert field in [e["field"] for e in problem["errors"]], problem


def test_unknown_ids_and_empty_changes(client, admin) -> None:
    assert_problem(client.get(f"{URL}/999", headers=admin.headers), 404)
    assert_problem(client.patch(f"{URL}/999", json={"name": "x"}, headers=admin.headers), 404)
    assert_problem(client.delete(f"{URL}/999", headers=admin.headers), 404)
    created = client.post(URL, json={"name": "Ops", "items": [TRENDS]}, headers=admin.headers)
    assert_problem(client.patch(f"{URL}/{created.get_json()['id']}", json={},
                                headers=admin.headers), 400)


def test_a_dashboard_outlives_the_admin_who_saved_it(client, admin, query) -> None:
    created = client.post(URL, json={"name": "Ops", "items": [TRENDS]}, headers=admin.headers)
    erased = client.delete("/api/v2/me", json={"password": admin.user["password"]},
                           headers=admin.headers)
    assert erased.status_code in (200, 204), erased.get_json()
    assert query("SELECT name, created_by FROM saved_dashboards") == [("Ops", None)]
    assert created.status_code == 201


def test_every_dashboard_page_can_be_saved() -> None:
    assert set(REPORTS) == set(PAGES) - NOT_REPORTS
