"""POST /insights/funnels/people: who dropped before a step, on the hand-computed data set
(test_insights_cohorts.py's funnel); the plain-Python reference is in test_oracle_funnels."""

from __future__ import annotations

from tests.insights_data import BERLIN, URL
from tests.problem_helpers import assert_problem
from tests.test_insights_cohorts import STEPS

RANGE = {"tz": BERLIN, "from": "2026-03-27", "to": "2026-04-01"}


def people(client, data, **body):
    return client.post(f"{URL}/funnels/people", json={"steps": STEPS} | body,
                       headers=data["admin"], query_string=RANGE)


def test_the_people_of_each_drop_off(client, data):
    # Step users 3, 2, 1 (drop-offs 1 and 1); with a 2-day window 3, 1, 0.
    for body, dropped in (({"step": 2}, 1), ({"step": 3}, 1),
                          ({"step": 2, "window_days": 2}, 2)):
        r = people(client, data, **body)
        assert r.status_code == 200, r.get_json()
        answer = r.get_json()
        assert answer["dropped"] == dropped and answer["anonymous"] == 0
        assert len(answer["items"]) == dropped
        assert all(set(u) == {"id", "email", "display_name"} for u in answer["items"])
    two = {u["id"] for u in people(client, data, step=2).get_json()["items"]}
    three = {u["id"] for u in people(client, data, step=3).get_json()["items"]}
    assert not two & three  # a person drops once
    csv = client.post(f"{URL}/funnels/people", json={"steps": STEPS, "step": 2},
                      headers=data["admin"], query_string=RANGE | {"format": "csv"})
    assert csv.mimetype == "text/csv"
    assert csv.get_data(as_text=True).splitlines()[0] == "id,email,display_name"


def test_the_step_must_be_one_they_could_miss(client, data):
    for step in (1, 4, 9):
        problem = assert_problem(people(client, data, step=step), 422)
        assert problem["errors"][0]["field"] == "step"
    assert_problem(people(client, data), 422)  # no step
    plain = client.post(f"{URL}/funnels/people", json={"steps": STEPS, "step": 2},
                        headers=data["plain"])
    assert_problem(plain, 403)
