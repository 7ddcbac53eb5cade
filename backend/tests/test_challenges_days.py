"""day_of_challenge: (today in the user's zone - start date) + 1, kept within 1..N."""

from __future__ import annotations

from datetime import date

import pytest


@pytest.fixture
def journey(client, seeded, auth, at):
    """Join the demo challenge at an instant; then read the day the user is on."""

    class Journey:
        def __init__(self, joined_at: str, zone: str = "UTC") -> None:
            at(joined_at)
            self.user = auth(timezone=zone)
            r = client.post(
                f"/api/v2/challenges/{seeded['challenge_id']}/join", headers=self.user.headers
            )
            assert r.status_code == 201, r.get_json()
            self.enrollment = r.get_json()

        def day_at(self, iso: str) -> int:
            at(iso)
            r = client.get("/api/v2/me/enrollments", headers=self.user.headers)
            assert r.status_code == 200
            from_list = r.get_json()["items"][0]["day_of_challenge"]
            r = client.get("/api/v2/plans/today", headers=self.user.headers)
            assert r.status_code == 200, r.get_json()
            assert r.get_json()["day"] == from_list
            return from_list

    return Journey


def test_day_one_on_the_day_of_joining(journey):
    j = journey("2026-03-01T00:05:00Z")
    assert j.day_at("2026-03-01T00:05:00Z") == 1
    assert j.day_at("2026-03-01T23:59:59Z") == 1


def test_day_three_after_two_days(journey):
    j = journey("2026-03-01T18:00:00Z")
    assert j.day_at("2026-03-02T00:00:00Z") == 2
    assert j.day_at("2026-03-03T00:00:01Z") == 3


def test_day_follows_the_users_local_midnight_not_utc(journey):
    # 23:30 UTC is already the next morning in Tokyo.
    j = journey("2026-03-01T10:00:00Z", zone="Asia/Tokyo")
    assert j.enrollment["start_date"] == "2026-03-01"
    assert j.day_at("2026-03-01T14:59:00Z") == 1  # 23:59 in Tokyo
    assert j.day_at("2026-03-01T15:00:00Z") == 2  # midnight in Tokyo


def test_day_counts_local_dates_across_the_spring_dst_change(journey):
    # Europe/Berlin moves from CET (+1) to CEST (+2) on Sunday 2026-03-29.
    j = journey("2026-03-28T22:30:00Z", zone="Europe/Berlin")  # 23:30 on Saturday 28th
    assert j.enrollment["start_date"] == "2026-03-28"
    assert j.day_at("2026-03-28T23:00:00Z") == 2  # 00:00 CET on Sunday 29th
    assert j.day_at("2026-03-29T21:59:00Z") == 2  # 23:59 CEST on Sunday: a 23-hour day
    # Only 24 elapsed hours after joining, but already the third local date.
    assert j.day_at("2026-03-29T22:30:00Z") == 3  # 00:30 CEST on Monday 30th


def test_day_counts_local_dates_across_the_autumn_dst_change(journey):
    # Back from CEST to CET on Sunday 2026-10-25: that local day lasts 25 hours.
    j = journey("2026-10-24T21:30:00Z", zone="Europe/Berlin")  # 23:30 CEST on Saturday
    assert j.enrollment["start_date"] == "2026-10-24"
    assert j.day_at("2026-10-25T22:30:00Z") == 2  # 23:30 CET on Sunday, 25 hours later
    assert j.day_at("2026-10-25T23:00:00Z") == 3  # midnight on Monday


def test_day_follows_a_time_zone_change_of_the_user(client, journey):
    j = journey("2026-03-01T12:00:00Z", zone="UTC")
    assert j.day_at("2026-03-02T20:00:00Z") == 2
    r = client.patch(
        "/api/v2/auth/me", json={"timezone": "Asia/Tokyo"}, headers=j.user.headers
    )
    assert r.status_code == 200 and r.get_json()["timezone"] == "Asia/Tokyo"
    # 20:00 UTC on the 2nd is 05:00 on the 3rd in Tokyo.
    assert j.day_at("2026-03-02T20:00:00Z") == 3
    client.patch(
        "/api/v2/auth/me", json={"timezone": "America/Los_Angeles"}, headers=j.user.headers
    )
    # 12:00 on the 2nd in Los Angeles.
    assert j.day_at("2026-03-02T20:00:00Z") == 2


def test_day_never_goes_below_one(client, journey):
    # Joined in Tokyo (start = 2nd), then moved west where it is still the 1st.
    j = journey("2026-03-01T23:30:00Z", zone="Asia/Tokyo")
    assert j.enrollment["start_date"] == "2026-03-02"
    client.patch(
        "/api/v2/auth/me", json={"timezone": "America/Los_Angeles"}, headers=j.user.headers
    )
    assert j.day_at("2026-03-01T23:45:00Z") == 1


def test_day_stays_at_the_last_day_after_the_end(journey, client):
    j = journey("2026-03-01T12:00:00Z")
    assert j.day_at("2026-03-30T12:00:00Z") == 30
    assert j.day_at("2026-03-31T12:00:00Z") == 30
    assert j.day_at("2027-01-01T12:00:00Z") == 30
    r = client.get("/api/v2/plans/30", headers=j.user.headers)
    assert r.status_code == 200 and r.get_json()["day"] == 30


def test_day_of_challenge_service_clamps_to_the_duration(app, seeded):
    from app.extensions import db
    from app.models import Enrollment
    from app.services.challenges import service as challenge_service

    with app.app_context():
        challenge = challenge_service.get(challenge_id=seeded["challenge_id"])
        enrollment = Enrollment(challenge=challenge, start_date=date(2026, 3, 10))
        for today, expected in [
            (date(2026, 3, 1), 1),
            (date(2026, 3, 10), 1),
            (date(2026, 3, 12), 3),
            (date(2026, 4, 8), 30),
            (date(2026, 4, 9), 30),
        ]:
            got = challenge_service.day_of_challenge(enrollment=enrollment, today=today)
            assert got == expected, today
        db.session.rollback()
