"""Persons (issue 15) at a modest scale: each report's answer and time with every event a
user's, then with anonymous devices (some linked, some never), then after late links.

Run from the repository root: `.venv/bin/python bench/persons_paths.py` (1M events, 5,000
users, 60 days), or `--events 200000 --users 1000` for a smoke run. Needs PostgreSQL on
127.0.0.1 (user postgres, trust auth); drops and recreates the database challenge_persons.

Phases, in one process (best of --repeat calls, warm paths called once untimed first):
- users: `flask analytics generate` data as it comes (persons are users);
- persons: a fifth of the users' app_opened events become their device's anonymous events
  (UPDATE, then the rollups rebuilt: a repair by hand), half of those devices linked to
  their user, the other half never;
- late links: the never-linked devices are linked after everything was folded; the next
  refresh merges them, and every answer must equal the users phase's again.
Prints milliseconds per report and path, the answer, and the ratio to the users phase.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from harness import BACKEND, VENV_BIN, BenchError, reset_database

DATABASE = "challenge_persons"
SECRET = "bench-only-secret-0123456789abcdef0123456789abcdef"
DSN = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DATABASE}"
TZ = "Europe/Berlin"


def generate(args: argparse.Namespace) -> None:
    env = dict(os.environ, FLASK_APP="app", JWT_SECRET_KEY=SECRET, DATABASE_URL=DSN)
    env.pop("INSIGHTS_DATABASE_URL", None)
    reset_database(DATABASE)
    flask = str(VENV_BIN / "flask")
    for command in (
        ["db", "upgrade"],
        ["analytics", "generate", "--users", str(args.users), "--events", str(args.events),
         "--days", "60", "--request-logs", "0"],
    ):
        proc = subprocess.run([flask, *command], cwd=BACKEND, env=env, capture_output=True,
                              text=True, check=False)
        if proc.returncode != 0:
            raise BenchError(f"flask {command[0]} failed:\n{proc.stdout}{proc.stderr}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    generate(args)
    os.environ.update(JWT_SECRET_KEY=SECRET)
    sys.path.insert(0, str(BACKEND))
    from sqlalchemy import text

    from app import create_app
    from app.extensions import db
    from app.services.insights.params import build_period
    from app.services.insights.reports import active_users, funnels, retention, trends
    from app.services.insights.rollups import activity, event_spans

    app = create_app({"SQLALCHEMY_DATABASE_URI": DSN})
    with app.app_context():
        last = db.session.execute(text("SELECT max(occurred_at) FROM analytics_events")).scalar()
        period = build_period(tz=TZ, start=last.date().replace(day=1), end=last.date())
        steps = [funnels.Step(t) for t in ("app_opened", "plan_viewed", "plan_completed")]
        reports: dict[str, Callable[[], Any]] = {
            "funnel first": lambda: [
                s.users for s in funnels.run(period=period, steps=steps).steps
            ],
            "funnel best": lambda: [
                s.users for s in funnels.run(period=period, steps=steps, attempt="best").steps
            ],
            "active users raw": lambda: active_users.run(period=period, rollup=False).days[-1].mau,
            "active users rollup": lambda: active_users.run(period=period).days[-1].mau,
            "trends raw": lambda: trends.run(
                period=period, event_types=["app_opened"], rollup=False
            ).series[0].points[-2].users,
            "trends rollup": lambda: trends.run(
                period=period, event_types=["app_opened"]
            ).series[0].points[-2].users,
            "retention raw": lambda: [c.size for c in retention.run(
                period=period, start_event="app_opened", return_event="plan_viewed", rollup=False
            ).cohorts][:3],
            "retention spans": lambda: [c.size for c in retention.run(
                period=period, start_event="app_opened", return_event="plan_viewed"
            ).cohorts][:3],
        }
        baseline: dict[str, float] = {}

        def measure(phase: str) -> None:
            for name, report in reports.items():
                report()  # warm: folds what is new
                db.session.commit()
                times = []
                for _ in range(args.repeat):
                    start = time.perf_counter()
                    answer = report()
                    times.append(time.perf_counter() - start)
                    db.session.commit()
                ms = min(times) * 1000
                ratio = f"{ms / baseline[name]:5.2f}x" if name in baseline else "     "
                baseline.setdefault(name, ms)
                print(f"{phase:10} {name:20} {ms:8.0f} ms {ratio}  {answer}", flush=True)

        def timed(label: str, step: Callable[[], Any]) -> None:
            start = time.perf_counter()
            step()
            db.session.commit()
            print(f"{label}: {time.perf_counter() - start:.2f} s", flush=True)

        def rebuild() -> None:
            activity.reset(session=db.session)
            event_spans.reset(session=db.session)
            db.session.commit()
            while activity.refresh(tz=TZ) is None:
                pass
            while not event_spans.refresh():
                pass

        measure("users")
        with db.engine.begin() as conn:
            moved = conn.execute(text(
                "UPDATE analytics_events SET anonymous_id = 'dev-' || user_id, user_id = NULL "
                "WHERE user_id % 5 = 0 AND event_type = 'app_opened'"
            )).rowcount
            conn.execute(text(
                "INSERT INTO anonymous_identities (anonymous_id, user_id, linked_by, linked_at) "
                "SELECT 'dev-' || id, id, 'login', now() FROM users WHERE id % 10 = 0"
            ))
            conn.execute(text("ANALYZE analytics_events"))
        print(f"anonymous events: {moved}", flush=True)
        timed("rollups rebuilt (activity in one zone, spans)", rebuild)
        measure("persons")
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO anonymous_identities (anonymous_id, user_id, linked_by, linked_at) "
                "SELECT 'dev-' || id, id, 'login', now() FROM users WHERE id % 10 = 5"
            ))
        timed("late links merged (activity)", lambda: activity.refresh(tz=TZ))
        timed("late links merged (spans)", event_spans.refresh)
        measure("late links")


if __name__ == "__main__":
    main()
