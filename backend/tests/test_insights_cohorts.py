"""Challenge progress, funnels and retention: exact numbers on both databases."""

from __future__ import annotations

import pytest

from tests.insights_data import BERLIN, get

URL = "/api/v2/insights"
RANGE = {"tz": BERLIN, "from": "2026-03-23", "to": "2026-04-01"}


@pytest.fixture
def app(store_app):
    """Every test here on the app database and on ClickHouse (chDB)."""
    return store_app


def cells(cohort):
    return [(d["day"], d["eligible"], d["on"], d["on_or_after"]) for d in cohort["days"]]


def test_challenge_progress_cohorts_by_join_week_with_unreachable_cells(client, data):
    body = get(client, data, "challenge-progress", challenge_id=data["challenge_id"], **RANGE)
    first, second = body["cohorts"]
    assert (first["week_start"], first["size"]) == ("2026-03-23", 2)
    assert cells(first) == [(1, 2, 2, 2), (2, 2, 1, 1), (3, 2, 0, 1), (4, 2, 1, 1), (5, 1, 0, 0)]
    assert [(d["on_share"], d["on_or_after_share"]) for d in first["days"]][:3] == [
        (1.0, 1.0),
        (0.5, 0.5),
        (0.0, 0.5),
    ]
    assert (second["week_start"], second["size"]) == ("2026-03-30", 1)
    assert cells(second) == [
        (1, 1, 1, 1),
        (2, 1, 1, 1),
        (3, 1, 0, 0),
        (4, 0, None, None),
        (5, 0, None, None),
    ]
    assert second["days"][3]["on_share"] is None


def test_challenge_progress_sunday_weeks_and_internal_users(client, data):
    body = get(
        client,
        data,
        "challenge-progress",
        challenge_id=data["challenge_id"],
        week_start="sunday",
        include_internal="true",
        **RANGE,
    )
    assert [(c["week_start"], c["size"]) for c in body["cohorts"]] == [
        ("2026-03-22", 1),
        ("2026-03-29", 3),
    ]


def test_challenge_progress_as_csv(client, data):
    r = client.get(
        f"{URL}/challenge-progress",
        headers=data["admin"],
        query_string={"challenge_id": data["challenge_id"], "format": "csv", **RANGE},
    )
    lines = r.get_data(as_text=True).splitlines()
    assert r.mimetype == "text/csv" and len(lines) == 11
    assert lines[0] == (
        "cohort_week,cohort_size,day,eligible,on,on_share,on_or_after,on_or_after_share"
    )
    assert lines[-1] == "2026-03-30,1,5,0,,,,"


def funnel(client, data, **body):
    r = client.post(
        f"{URL}/funnels",
        json=body,
        headers=data["admin"],
        query_string={"tz": BERLIN, "from": "2026-03-27", "to": "2026-04-01"},
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    return [
        (
            s["users"],
            s["conversion_from_first"],
            s["conversion_from_previous"],
            s["drop_off"],
            s["median_seconds_from_previous"],
        )
        for s in r.get_json()["steps"]
    ]


STEPS = [
    {"event_type": "app_opened"},
    {"event_type": "plan_viewed", "where": {"day_of_challenge": 1}},
    {"event_type": "plan_viewed", "where": {"day_of_challenge": 2}},
]


def test_funnel_steps_conversion_and_median_time(client, data):
    assert funnel(client, data, steps=STEPS) == [
        (3, 1.0, 1.0, 0, None),
        (2, 0.6667, 0.6667, 1, 103500.0),
        (1, 0.3333, 0.5, 1, 3600.0),
    ]


def test_funnel_conversion_window_counts_from_step_one(client, data):
    assert funnel(client, data, steps=STEPS, window_days=2) == [
        (3, 1.0, 1.0, 0, None),
        (1, 0.3333, 0.3333, 2, 3600.0),
        (0, 0.0, 0.0, 1, None),
    ]


def test_funnel_rejects_unknown_event_type_and_too_many_steps(client, data):
    from tests.problem_helpers import assert_problem

    r = client.post(
        f"{URL}/funnels",
        headers=data["admin"],
        json={"steps": [{"event_type": "app_opened"}, {"event_type": "nope"}]},
    )
    body = assert_problem(r, 422)
    assert body["errors"][0]["field"] == "steps.1.event_type"
    r = client.post(
        f"{URL}/funnels", headers=data["admin"], json={"steps": [{"event_type": "app_opened"}] * 9}
    )
    assert assert_problem(r, 422)["errors"][0]["field"] == "steps"


def retention_rows(body):
    return [
        (c["start"], c["size"], [(p["on"], p["on_or_after"]) for p in c["periods"]])
        for c in body["cohorts"]
    ]


def test_retention_daily_first_time_cohorts(client, data):
    body = get(
        client,
        data,
        "retention",
        start_event="app_opened",
        return_event="plan_viewed",
        periods=4,
        tz=BERLIN,
        **{"from": "2026-03-27", "to": "2026-04-01"},
    )
    assert retention_rows(body) == [
        ("2026-03-28", 1, [(1, 1), (0, 1), (1, 1), (0, 0), (0, 0)]),
        ("2026-03-29", 1, [(1, 1), (1, 1), (0, 0), (0, 0), (None, None)]),
    ]


def test_retention_weekly(client, data):
    body = get(
        client,
        data,
        "retention",
        start_event="app_opened",
        return_event="app_opened",
        period="week",
        periods=2,
        **RANGE,
    )
    assert retention_rows(body) == [("2026-03-23", 2, [(2, 2), (1, 1), (None, None)])]


def _funnel_body(client, data, *, query=None, **body):
    r = client.post(
        f"{URL}/funnels",
        json=body,
        headers=data["admin"],
        query_string=query or {"tz": BERLIN, "from": "2026-03-27", "to": "2026-04-01"},
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()


def test_funnel_one_event_satisfies_one_step_only(app, client, data):
    """Issue 12: one challenge_joined {"key": "val"} gave [1, 1] for these steps."""
    from tests.insights_data import event

    with app.app_context():
        from app.extensions import db
        from app.models import User

        event(
            db.session.get(User, data["u2"]),
            "challenge_joined",
            "2026-03-30T08:00:00Z",
            {"key": "val"},
        )
        db.session.commit()
    steps = [
        {"event_type": "challenge_joined", "where": {"key": "val"}},
        {"event_type": "challenge_joined"},
    ]
    for attempt in ("first", "best"):
        body = _funnel_body(client, data, steps=steps, attempt=attempt)
        assert [s["users"] for s in body["steps"]] == [1, 0]
        assert body["attempt"] == attempt
    # Reversed, the filtered step needs an event of its own too.
    body = _funnel_body(client, data, steps=steps[::-1])
    assert [s["users"] for s in body["steps"]] == [1, 0]


def test_funnel_step_filters_compare_json_values_by_type(app, client, data):
    """A step's `where` matches a key holding that JSON value: numbers as numbers (7 is
    7.0), never a string or a boolean of the same text; null only an explicit null."""
    from tests.insights_data import event

    with app.app_context():
        from app.extensions import db
        from app.models import User

        u1, u2, u3 = (db.session.get(User, data[name]) for name in ("u1", "u2", "u3"))
        event(u1, "share_clicked", "2026-03-30T08:00:00Z", {"n": 7.0, "flag": True})
        event(u2, "share_clicked", "2026-03-30T08:00:00Z", {"n": 7, "flag": 1, "gone": None})
        event(u3, "share_clicked", "2026-03-30T08:00:00Z", {"n": "7", "flag": "true"})
        db.session.commit()
    expected = (
        ({"n": 7}, 2), ({"n": 7.0}, 2), ({"n": "7"}, 1), ({"n": 7.5}, 0), ({"n": None}, 0),
        ({"flag": True}, 1), ({"flag": 1}, 1), ({"flag": "true"}, 1), ({"flag": False}, 0),
        ({"gone": None}, 1), ({"n": 7, "flag": True}, 1), ({"missing": None}, 0),
    )
    for where, users in expected:
        steps = [{"event_type": "share_clicked", "where": where}, {"event_type": "app_opened"}]
        for attempt in ("first", "best"):
            body = _funnel_body(client, data, steps=steps, attempt=attempt)
            assert body["steps"][0]["users"] == users, (where, attempt)


def test_funnel_best_attempt_keeps_the_path_that_gets_furthest(client, data):
    # u1 opens the app on 03-28 (Berlin, twice) and 03-30 at 00:30, and views day 1 and day
    # 2 on 03-30 at 10:00 and 11:00: with a 1-day window only the last attempt reaches them.
    # u3 views day 1 an hour after opening the app, in either rule.
    first = _funnel_body(client, data, steps=STEPS, window_days=1)
    best = _funnel_body(client, data, steps=STEPS, window_days=1, attempt="best")
    assert [s["users"] for s in first["steps"]] == [3, 1, 0]
    assert [s["users"] for s in best["steps"]] == [3, 2, 1]
    medians = [s["median_seconds_from_previous"] for s in best["steps"]]
    assert medians == [None, (34200 + 3600) / 2, 3600.0]


def test_funnel_rejects_an_unknown_attempt(client, data):
    from tests.problem_helpers import assert_problem

    r = client.post(
        f"{URL}/funnels", headers=data["admin"], json={"steps": STEPS, "attempt": "last"}
    )
    assert assert_problem(r, 422)["errors"][0]["field"] == "attempt"


def test_retention_recurring_cohorts(client, data):
    body = get(
        client,
        data,
        "retention",
        start_event="app_opened",
        return_event="app_opened",
        periods=3,
        cohort_type="recurring",
        tz=BERLIN,
        **{"from": "2026-03-28", "to": "2026-03-31"},
    )
    assert body["cohort_type"] == "recurring"
    # u1: 03-28, 03-28, 03-30; u2: 03-29, 03-29; u3: 03-30 (u4 is internal).
    assert retention_rows(body) == [
        ("2026-03-28", 1, [(1, 1), (0, 1), (1, 1), (0, 0)]),
        ("2026-03-29", 1, [(1, 1), (0, 0), (0, 0), (None, None)]),
        ("2026-03-30", 2, [(2, 2), (0, 0), (None, None), (None, None)]),
    ]


def test_retention_counts_no_return_after_to_or_beyond_periods(client, data):
    # u1's cohort is 03-28 (Berlin); they open the app again on 03-30. With to=03-29 that
    # return is after the range: period 1 is 0 on and on or after, period 2 is null.
    narrow = get(
        client,
        data,
        "retention",
        start_event="app_opened",
        return_event="app_opened",
        periods=3,
        tz=BERLIN,
        **{"from": "2026-03-28", "to": "2026-03-29"},
    )
    assert retention_rows(narrow)[0] == (
        "2026-03-28",
        1,
        [(1, 1), (0, 0), (None, None), (None, None)],
    )
    body = get(
        client,
        data,
        "retention",
        start_event="app_opened",
        return_event="plan_viewed",
        periods=1,
        tz=BERLIN,
        **{"from": "2026-03-28", "to": "2026-03-31"},
    )
    # u1 views plans on 03-30 only: period 2, beyond periods=1.
    assert retention_rows(body)[0] == ("2026-03-28", 1, [(1, 1), (0, 0)])


def test_retention_rejects_an_unknown_cohort_type(client, data):
    from tests.problem_helpers import assert_problem

    r = client.get(
        f"{URL}/retention",
        headers=data["admin"],
        query_string={
            "start_event": "app_opened",
            "return_event": "app_opened",
            "cohort_type": "all",
        },
    )
    assert assert_problem(r, 422)["errors"][0]["field"] == "cohort_type"
