"""A worker's CPU per batch in one process, without an HTTP server: where it goes.

Run from the repository root: `.venv/bin/python bench/batch_cost.py [--size N] [--profile]`.
It drives the app's WSGI callable with POST /api/v2/analytics/batch bodies like
bench/batch.lua's (unique event_ids, valid events) on PostgreSQL (database
challenge_batchcost, recreated and migrated here), the rate limits on Redis, and prints the
process CPU time per batch (every thread of the process: the request-log writer's work
counts; PostgreSQL's own work does not) and the SQL statements per batch. `--size 1`
shows the fixed cost of a request; `--profile` the top functions by CPU time (cProfile's
overhead inflates small functions; `py-spy record -f raw` on this script distorts less).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import in_process
from in_process import count_statements, environ

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

DATABASE = "challenge_batchcost"
DATABASE_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DATABASE}"
REDIS_URL = "redis://127.0.0.1:6379/9"
SCREENS = ("today", "plan", "video", "profile", "challenges", "settings")


def recreate_database() -> None:
    for sql in (f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)", f"CREATE DATABASE {DATABASE}"):
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql], check=True)
    env = dict(os.environ, DATABASE_URL=DATABASE_URL, FLASK_APP="app")
    subprocess.run([sys.executable, "-m", "flask", "db", "upgrade"], cwd=ROOT / "backend",
                   env=env, check=True, capture_output=True)


def make_app() -> Any:
    from app import create_app

    return create_app({
        "APP_ENV": "production",
        "SQLALCHEMY_DATABASE_URI": DATABASE_URL,
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "RATELIMIT_KEY_PREFIX": f"batchcost-{os.getpid()}",
        "WRITE_LIMIT": "100000000 per minute",
        "EVENT_LIMIT": "100000000 per minute",
        "JWT_SECRET_KEY": "bench-only-secret-0123456789abcdef0123456789abcdef",
    })


def token_for(app: Any) -> str:
    from app.extensions import db
    from app.services.auth import service as auth_service

    with app.app_context():
        user = auth_service.create(email="batchcost@example.com", password="batchcost-pass-123",
                                   display_name="Batch cost", timezone="UTC")
        db.session.commit()
        return auth_service.issue_access_token(user=user)["access_token"]


def event(rng: random.Random, occurred: str) -> str:
    kind, video = rng.random(), rng.randint(1, 30)
    if kind < 0.35:
        t, d = "screen_viewed", f'{{"screen":"{rng.choice(SCREENS)}","source":"tab"}}'
    elif kind < 0.65:
        t, d = "video_progress", (f'{{"video_id":{video},"position_s":{rng.random() * 600:.1f},'
                                  '"duration_s":600}')
    elif kind < 0.80:
        autoplay = "true" if kind < 0.7 else "false"
        t, d = "video_started", f'{{"video_id":{video},"autoplay":{autoplay}}}'
    elif kind < 0.90:
        t, d = "video_completed", f'{{"video_id":{video},"watched_s":600}}'
    else:
        t, d = "app_opened", '{"cold_start":false,"build":"2.4.1"}'
    return (f'{{"event_id":"{uuid.uuid4()}","event_type":"{t}","event_data":{d},'
            f'"occurred_at":"{occurred}"}}')


def bodies(n: int, size: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    sent = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    occurred = (now - timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        (f'{{"sent_at":"{sent}","events":['
         + ",".join(event(rng, occurred) for _ in range(size)) + "]}").encode()
        for _ in range(n)
    ]


def drive(app: Any, token: str, batch_bodies: list[bytes]) -> None:
    in_process.drive(
        app, (environ("POST", "/api/v2/analytics/batch", token, body) for body in batch_bodies)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=45)
    args = parser.parse_args()
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="batchcost-"))
    recreate_database()
    from app.services.request_logs.capture import get_writer

    app = make_app()
    token = token_for(app)
    seed = 0
    def next_bodies(n: int) -> list[bytes]:
        nonlocal seed
        seed += 1
        return bodies(n, args.size, seed)
    drive(app, token, next_bodies(100))  # warm-up: pools, caches, prepared statements
    statements = count_statements(app)
    per_batch: list[float] = []
    for _ in range(args.rounds):
        work = next_bodies(args.batches)
        started = time.process_time()
        drive(app, token, work)
        get_writer(app).flush()
        per_batch.append((time.process_time() - started) / args.batches * 1000)
    print(f"CPU/batch {statistics.median(per_batch):.3f} ms (rounds: "
          f"{', '.join(f'{v:.3f}' for v in per_batch)}), {args.size} events per batch, "
          f"SQL statements/batch {statements[0] / (args.batches * args.rounds):.2f}")
    if args.profile:
        work = next_bodies(args.batches)
        # CPU time, not wall: waits on PostgreSQL and Redis are not the worker's work.
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        drive(app, token, work)
        get_writer(app).flush()
        profiler.disable()
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
