"""GET /insights/overview (the dashboard's first page) and GET /insights/users (find a
person), on the hand-computed data of tests/insights_data.py."""

from __future__ import annotations

import pytest

from app.extensions import db
from tests.insights_data import BERLIN, URL, add_user, event, get

RANGE = {"from": "2026-03-28", "to": "2026-03-31", "tz": BERLIN}


def _figures(body: dict) -> dict[str, dict]:
    return {f["key"]: f for f in body["figures"]}


def test_overview_figures_match_the_reports_and_the_data(client, data):
    body = get(client, data, "overview", **RANGE)
    assert body["previous_period"]["from"] == "2026-03-24"
    figures = _figures(body)
    assert list(figures) == [
        "dau", "wau", "mau", "new_users", "joins", "day7_completion", "api_error_rate",
        "api_p95_ms",
    ]  # fmt: skip
    active = get(client, data, "active-users", **RANGE)["days"]
    assert [p["value"] for p in figures["dau"]["points"]] == [d["dau"] for d in active]
    assert [p["value"] for p in figures["dau"]["points"]] == [1, 1, 3, 0]
    assert figures["dau"]["value"] == pytest.approx(1.2, abs=0.06)
    assert figures["mau"]["value"] == active[-1]["mau"] == 3
    # u1's and u2's app_opened of 03-28 and 03-29 are in the previous week for WAU too.
    assert figures["wau"]["points"][-1]["value"] == active[-1]["wau"]
    # Logs in the range without internal u4: 6 requests, one 5xx; p95 of
    # [5, 10, 20, 30, 40, 100] by linear interpolation is 85.
    assert figures["api_error_rate"]["value"] == pytest.approx(1 / 6, abs=1e-4)
    assert figures["api_p95_ms"]["value"] == pytest.approx(85.0)
    assert figures["api_error_rate"]["previous"] is None
    assert figures["api_error_rate"]["change"] is None
    assert len(figures["api_p95_ms"]["points"]) == 4
    # The only challenge lasts 5 days: no one can reach day 7.
    assert figures["day7_completion"]["value"] is None
    assert figures["joins"]["value"] == 0
    top = body["top_events"]
    assert [t["key"] for t in top] == ["app_opened", "plan_viewed"]
    assert top[0]["value"] == 6 and top[0]["previous"] == 0 and top[0]["change"] is None


def test_overview_change_is_relative_to_the_previous_period(client, data):
    later = {"from": "2026-03-30", "to": "2026-03-31", "tz": BERLIN}
    figures = _figures(get(client, data, "overview", **later))
    # DAU: 03-30 3 and 03-31 0 (mean 1.5) against 03-28 1 and 03-29 1 (mean 1).
    assert figures["dau"]["value"] == 1.5 and figures["dau"]["previous"] == 1.0
    assert figures["dau"]["change"] == 0.5


def test_overview_as_csv_and_for_admins_only(client, data):
    r = client.get(f"{URL}/overview", query_string=RANGE | {"format": "csv"}, headers=data["admin"])
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.get_data(as_text=True).splitlines()[0] == (
        "section,key,label,unit,value,previous,change"
    )
    assert client.get(f"{URL}/overview", headers=data["plain"]).status_code == 403
    assert client.get(f"{URL}/overview").status_code == 401


def test_users_search_by_email_name_and_id(app, client, data):
    body = get(client, data, "users", q="U1@EXAMPLE")
    assert [p["id"] for p in body["items"]] == [data["u1"]]
    assert body["items"][0]["email"] == "u1@example.com"
    # u1's last event is 2026-03-30T09:00Z, their last request 09:00Z too.
    assert body["items"][0]["last_seen"].startswith("2026-03-30T09:00:00")
    # A number finds that id (and any email or name holding its digits).
    assert data["u3"] in [p["id"] for p in get(client, data, "users", q=str(data["u3"]))["items"]]
    with app.app_context():
        add_user("Zoë Display")
        db.session.commit()
    names = [p["display_name"] for p in get(client, data, "users", q="zoë disp")["items"]]
    assert names == ["Zoë Display"]


def test_users_search_takes_like_wildcards_literally(app, client, data):
    with app.app_context():
        for name in ("a_b", "axb", "100%", "1000", "back\\slash"):
            add_user(name)
        db.session.commit()

    def found(q: str) -> list[str]:
        return [p["display_name"] for p in get(client, data, "users", q=q)["items"]]

    assert found("a_b") == ["a_b"]
    assert found("100%") == ["100%"]
    assert found("k\\s") == ["back\\slash"]
    assert found("%") == ["100%"]
    assert found("_") == ["a_b"]


def test_users_are_paginated_newest_first_with_last_seen(app, client, data):
    with app.app_context():
        person = add_user("pager")
        event(person, "app_opened", "2026-03-31T07:00:00Z")
        db.session.commit()
    everyone = get(client, data, "users", limit=200)["items"]
    ids = [p["id"] for p in everyone]
    assert ids == sorted(ids, reverse=True) and len(ids) >= 7
    assert everyone[0]["display_name"] == "pager"
    assert everyone[0]["last_seen"].startswith("2026-03-31T07:00:00")
    pages, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        body = get(client, data, "users", **params)
        pages += [p["id"] for p in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == ids


def test_users_refuses_a_bad_cursor_and_non_admins(client, data):
    r = client.get(f"{URL}/users", query_string={"cursor": "x1"}, headers=data["admin"])
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "cursor"
    assert client.get(f"{URL}/users", headers=data["plain"]).status_code == 403
