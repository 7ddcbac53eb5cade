"""Anonymous visitors' events (user_id NULL, from /v1) count as persons' (PostHog's rule): an
anonymous id linked to a user is that user, events before the link and links made after
the rollups folded included; an anonymous id linked to no one is a person of its own; one
linked to an internal user is left out with them. Checked by equivalence: every report
answers exactly as if each event had been stored with its person's user id, through the
rollups (folded before the links, or built after them) and the raw rows alike. On the app
database and on ClickHouse (chDB)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from app.extensions import db
from app.models import AnalyticsEvent, AnonymousIdentity
from app.services.analytics_store import shipper, store
from app.services.insights.rollups import activity as activity_rollup
from app.services.insights.rollups import event_spans
from tests.insights_data import BERLIN, URL, add_user, ts
from tests.store_support import store_rows

RANGE = {"tz": BERLIN, "from": "2026-03-23", "to": "2026-04-01"}
FUNNELS = [
    {"steps": [{"event_type": "app_opened"}, {"event_type": "plan_viewed"}]},
    {"steps": [{"event_type": "screen_viewed"}, {"event_type": "app_opened"},
               {"event_type": "plan_viewed"}]},
]
# (install, event type, occurred_at): install-0 turns out to be u1, install-2 the internal
# u4; install-1 never signs up.
ANONYMOUS = [
    (0, "screen_viewed", "2026-03-26T07:00:00Z"),  # before u1's first app_opened
    (0, "app_opened", "2026-03-29T22:40:00Z"),
    (1, "app_opened", "2026-03-30T10:05:00Z"),
    (1, "plan_viewed", "2026-03-30T10:06:00Z"),
    (1, "screen_viewed", "2026-03-20T10:06:00Z"),
    (2, "app_opened", "2026-03-31T10:06:00Z"),
    (0, "app_opened", "2026-04-01T09:59:00Z"),  # in realtime's last minutes
    (1, "app_opened", "2026-04-01T09:58:00Z"),
]


def _reports(client: Any, data: dict[str, Any]) -> dict[str, Any]:
    admin = data["admin"]
    answers: dict[str, Any] = {}
    kinds = ["app_opened", "plan_viewed", "screen_viewed"]
    for name, path, params in [
        ("trends", "trends", {"event_type": kinds, **RANGE}),
        ("trends-hourly", "trends", {"event_type": "app_opened", "interval": "hour",
                                     "tz": BERLIN, "from": "2026-03-29", "to": "2026-03-30"}),
        ("trends-internal", "trends", {"event_type": kinds, "include_internal": "true", **RANGE}),
        ("active", "active-users", RANGE),
        ("active-internal", "active-users", {"include_internal": "true", **RANGE}),
        ("active-weekly", "active-users", {"interval": "week", **RANGE}),
        ("retention", "retention", {"start_event": "app_opened", "return_event": "app_opened",
                                    "period": "day", "periods": 3, **RANGE}),
        ("retention-screen", "retention", {"start_event": "screen_viewed",
                                           "return_event": "plan_viewed", "period": "week",
                                           "periods": 2, **RANGE}),
        ("recurring", "retention", {"start_event": "app_opened", "return_event": "plan_viewed",
                                    "cohort_type": "recurring", **RANGE}),
        ("progress", "challenge-progress", {"challenge_id": data["challenge_id"], **RANGE}),
        ("realtime", "realtime", {}),
    ]:
        r = client.get(f"{URL}/{path}", query_string=params, headers=admin)
        assert r.status_code == 200, (name, r.get_data(as_text=True))
        answers[name] = r.get_json()
    for n, funnel in enumerate(FUNNELS):
        for attempt in ("first", "best"):
            r = client.post(f"{URL}/funnels", query_string={**RANGE, "attempt": attempt},
                            json=funnel, headers=admin)
            assert r.status_code == 200, (attempt, r.get_data(as_text=True))
            answers[f"funnel-{n}-{attempt}"] = r.get_json()
    return answers


def _add_events(app: Any, data: dict[str, Any], *, anonymous: bool) -> None:
    """ANONYMOUS stored as anonymous events, or each with its person's user id (install-1:
    u5, a user with no events of their own)."""
    with app.app_context():
        owner = {0: data["u1"], 1: data["u5"], 2: data["u4"]}
        for install, kind, at in ANONYMOUS:
            db.session.add(AnalyticsEvent(
                user_id=None if anonymous else owner[install],
                anonymous_id=f"install-{install}" if anonymous else None,
                event_id=uuid.uuid4(),
                event_type=kind,
                event_data={},
                created_at=ts(at),
                occurred_at=ts(at),
            ))
        db.session.commit()


def _link(app: Any, data: dict[str, Any]) -> None:
    with app.app_context():
        for install, user in ((0, "u1"), (2, "u4")):
            db.session.add(AnonymousIdentity(
                anonymous_id=f"install-{install}", user_id=data[user], linked_by="login",
                linked_at=ts("2026-04-01T09:00:00Z"),
            ))
        db.session.commit()


@pytest.fixture
def app(store_app: Any) -> Any:
    return store_app


@pytest.fixture
def with_u5(app: Any, data: dict[str, Any]) -> dict[str, Any]:
    with app.app_context():
        u5 = add_user("u5").id
        db.session.commit()
        return data | {"u5": u5}


@pytest.mark.parametrize("order", ["rollups folded, then events, then links",
                                   "events, links, then the first report"])
def test_anonymous_events_count_as_their_persons(app, client, with_u5, order):
    data = with_u5
    if order.startswith("rollups"):
        _reports(client, data)  # builds and folds every rollup first
        _add_events(app, data, anonymous=True)
        _reports(client, data)
        _link(app, data)  # late links: the history already counted moves to its user
        persons = _reports(client, data)
    else:
        _add_events(app, data, anonymous=True)
        _link(app, data)
        persons = _reports(client, data)
    with app.app_context():
        db.session.execute(db.delete(AnalyticsEvent).where(AnalyticsEvent.user_id.is_(None)))
        # A repair by hand: the rollups are rebuilt (their operators' reset).
        activity_rollup.reset(session=db.session)
        event_spans.reset(session=db.session)
        db.session.commit()
        if store.active():  # the same rows gone from ClickHouse (the test's own DELETE)
            store_rows("DELETE FROM {db}.events WHERE user_id IS NULL")
            shipper.after_delete(db.session)
            db.session.commit()
    _add_events(app, data, anonymous=False)
    as_users = _reports(client, data)
    for name in as_users:
        assert persons[name] == as_users[name], name


def test_the_onboarding_funnel_crosses_sign_up(app, client, with_u5):
    """Two installs open the app; one signs up (linked after its events) and views a plan."""
    data = with_u5
    _add_events(app, data, anonymous=True)
    _link(app, data)
    r = client.post(
        f"{URL}/funnels", query_string={**RANGE, "from": "2026-03-26"}, headers=data["admin"],
        json={"steps": [{"event_type": "screen_viewed"}, {"event_type": "app_opened"},
                        {"event_type": "plan_viewed"}]},
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    # install-0 (u1) viewed a screen on 03-26, opened the app, viewed a plan; install-1's
    # screen_viewed is before the range.
    assert [s["users"] for s in r.get_json()["steps"]] == [1, 1, 1]


def test_the_user_timeline_shows_the_linked_anonymous_events(app, client, with_u5):
    data = with_u5
    _add_events(app, data, anonymous=True)
    _link(app, data)
    r = client.get(f"{URL}/user-timeline", query_string={"user_id": data["u1"], "limit": 100},
                   headers=data["admin"])
    assert r.status_code == 200, r.get_data(as_text=True)
    kinds = [(i["event_type"], i["at"]) for i in r.get_json()["items"] if i["kind"] == "event"]
    assert ("screen_viewed", "2026-03-26T07:00:00+00:00") in kinds
    assert ("app_opened", "2026-04-01T09:59:00+00:00") in kinds
    r = client.get(f"{URL}/user-timeline", query_string={"user_id": data["u5"]},
                   headers=data["admin"])
    assert [i for i in r.get_json()["items"] if i["kind"] == "event"] == []
