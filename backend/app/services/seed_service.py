"""Demo data: a 30-day challenge with a plan and a video for each day, and a demo user."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.extensions import db
from app.models import Challenge, Plan, User, Video
from app.services import auth_service

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password-123"
DEMO_SLUG = "30-day-fitness"

_FOCUS = ["Mobility", "Core", "Legs", "Upper body", "Cardio", "Stretch", "Rest and walk"]


@dataclass(frozen=True)
class SeedResult:
    challenge: Challenge
    user: User
    created: bool


def create_challenge(
    *, slug: str, title: str, description: str = "", days: int, with_videos: bool = True
) -> Challenge:
    """A challenge with one plan per day (and one video per plan unless with_videos=False)."""
    challenge = Challenge(slug=slug, title=title, description=description, duration_days=days)
    db.session.add(challenge)
    db.session.flush()
    for day in range(1, days + 1):
        focus = _FOCUS[(day - 1) % len(_FOCUS)]
        video = None
        if with_videos:
            video = Video(
                title=f"Day {day}: {focus}",
                description=f"A guided {focus.lower()} session.",
                url=f"https://videos.example.com/{slug}/day-{day:02d}.mp4",
                duration_s=600 + 30 * (day % 10),
            )
            db.session.add(video)
            db.session.flush()
        db.session.add(
            Plan(
                challenge_id=challenge.id,
                day=day,
                title=f"Day {day}: {focus}",
                description=f"Warm up, then {focus.lower()} work, then cool down.",
                tasks=[
                    {"title": "Warm-up", "minutes": 5},
                    {"title": focus, "minutes": 10 + day % 5},
                    {"title": "Cool-down", "minutes": 5},
                ],
                video_id=video.id if video is not None else None,
            )
        )
    db.session.commit()
    return challenge


def seed_demo(*, days: int = 30) -> SeedResult:
    """Create the demo challenge and user unless they exist (idempotent)."""
    challenge = db.session.scalars(select(Challenge).where(Challenge.slug == DEMO_SLUG)).first()
    created = challenge is None
    if challenge is None:
        challenge = create_challenge(
            slug=DEMO_SLUG,
            title="30-Day Fitness Kickstart",
            description="A short workout every day for 30 days.",
            days=days,
        )
    user = auth_service.get_by_email(email=DEMO_EMAIL)
    if user is None:
        user = auth_service.create(
            email=DEMO_EMAIL, password=DEMO_PASSWORD, display_name="Demo User"
        )
    return SeedResult(challenge, user, created)
