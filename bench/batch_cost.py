"""A worker's CPU per batch in one process, without an HTTP server: where it goes.

Run from the repository root: `.venv/bin/python bench/batch_cost.py [--api v1] [--size N]
[--profile] [--database NAME] [--redis URL]`.
It drives the app's WSGI callable with POST /api/v2/analytics/batch bodies like
bench/batch.lua's (unique event_ids, valid events), or with `--api v1` POST /v1/batch bodies
like bench/v1_batch.lua's (a server write key; half the messages for the bench user, half
anonymous, each with an SDK context), on PostgreSQL (database challenge_batchcost by
default, recreated and migrated here), the rate limits on Redis, and prints the
process CPU time per batch (every thread of the process: the request-log writer's work
counts; PostgreSQL's own work does not) and the SQL statements per batch. `--size 1`
shows the fixed cost of a request; `--profile` the top functions by CPU time (cProfile's
overhead inflates small functions; `py-spy record -f raw` on this script distorts less).
"""

from __future__ import annotations

import argparse
import base64
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
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import in_process
from in_process import count_statements, environ

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

SCREENS = ("today", "plan", "video", "profile", "challenges", "settings")
CONTEXTS = (
    '{"app":{"version":"2.4.1","build":"241"},"os":{"name":"iOS","version":"17.4"},'
    '"device":{"model":"iPhone15,2"},"locale":"en-US","timezone":"Europe/Berlin",'
    '"library":{"name":"analytics-ios","version":"4.1.8"}}',
    '{"app":{"version":"2.3.0","build":"230"},"os":{"name":"Android","version":"14"},'
    '"device":{"model":"Pixel 8"},"locale":"de-DE","timezone":"Asia/Kathmandu",'
    '"library":{"name":"analytics-android","version":"4.11.3"}}',
)


def database_url(database: str) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"


def recreate_database(database: str) -> None:
    for sql in (f"DROP DATABASE IF EXISTS {database} WITH (FORCE)", f"CREATE DATABASE {database}"):
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql], check=True)
    env = dict(os.environ, DATABASE_URL=database_url(database), FLASK_APP="app")
    subprocess.run([sys.executable, "-m", "flask", "db", "upgrade"], cwd=ROOT / "backend",
                   env=env, check=True, capture_output=True)


def make_app(database: str, redis_url: str) -> Any:
    from app import create_app

    return create_app({
        "APP_ENV": "production",
        "SQLALCHEMY_DATABASE_URI": database_url(database),
        "RATELIMIT_STORAGE_URI": redis_url,
        "RATELIMIT_KEY_PREFIX": f"batchcost-{os.getpid()}",
        "WRITE_LIMIT": "100000000 per minute",
        "EVENT_LIMIT": "100000000 per minute",
        "WRITE_KEY_LIMIT": "100000000 per minute",
        "JWT_SECRET_KEY": "bench-only-secret-0123456789abcdef0123456789abcdef",
    })


def bench_user(app: Any) -> tuple[int, str]:
    """(the bench user's id, an access token for it)."""
    from app.extensions import db
    from app.services.auth import service as auth_service

    with app.app_context():
        user = auth_service.create(email="batchcost@example.com", password="batchcost-pass-123",
                                   display_name="Batch cost", timezone="UTC")
        db.session.commit()
        return user.id, auth_service.issue_access_token(user=user)["access_token"]


def server_write_key(app: Any) -> str:
    from app.services.write_keys import service as write_keys

    with app.app_context():
        return write_keys.create(source="server", name="batch cost").plaintext


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


def v1_message(rng: random.Random, user_id: int, occurred: str) -> str:
    """One SDK-shaped track message, as bench/v1_batch.lua sends them."""
    event_json = event(rng, occurred)
    head, _, rest = event_json.partition('"event_data":')
    data = rest.rpartition(',"occurred_at"')[0]
    event_type = head.split('"event_type":"')[1].split('"')[0]
    who = (f'"userId":"{user_id}"' if rng.random() < 0.5
           else f'"anonymousId":"bench-anon-{rng.randint(0, 15):04x}"')
    return (f'{{"type":"track","messageId":"{uuid.uuid4()}",{who},"event":"{event_type}",'
            f'"properties":{data},"timestamp":"{occurred}","context":{rng.choice(CONTEXTS)}}}')


def _batch_bodies(
    n: int, size: int, seed: int, *, sent_key: str, list_key: str,
    message: Callable[[random.Random, str], str],
) -> list[bytes]:
    """n batch bodies of `size` messages each, sent now, their events a minute old."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    sent = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    occurred = (now - timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        (f'{{"{sent_key}":"{sent}","{list_key}":['
         + ",".join(message(rng, occurred) for _ in range(size)) + "]}").encode()
        for _ in range(n)
    ]


def v1_bodies(n: int, size: int, seed: int, user_id: int) -> list[bytes]:
    return _batch_bodies(
        n, size, seed, sent_key="sentAt", list_key="batch",
        message=lambda rng, occurred: v1_message(rng, user_id, occurred),
    )


def bodies(n: int, size: int, seed: int) -> list[bytes]:
    return _batch_bodies(n, size, seed, sent_key="sent_at", list_key="events", message=event)


def drive_api(app: Any, token: str, batch_bodies: list[bytes], write_key: str | None) -> None:
    if write_key is None:
        in_process.drive(
            app, (environ("POST", "/api/v2/analytics/batch", token, body) for body in batch_bodies)
        )
        return
    basic = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
    in_process.drive(app, (
        environ("POST", "/v1/batch", token, body) | {"HTTP_AUTHORIZATION": basic}
        for body in batch_bodies
    ))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--api", choices=("v2", "v1"), default="v2",
                        help="v2: POST /api/v2/analytics/batch (JWT); v1: Segment's /v1/batch")
    parser.add_argument("--database", default="challenge_batchcost",
                        help="dropped and recreated")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--batches", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=100, help="batches before measuring")
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=45)
    args = parser.parse_args()
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="batchcost-"))
    recreate_database(args.database)
    from app.services.request_logs.capture import get_writer

    app = make_app(args.database, args.redis)
    user_id, token = bench_user(app)
    write_key = server_write_key(app) if args.api == "v1" else None
    seed = 0

    def next_bodies(n: int) -> list[bytes]:
        nonlocal seed
        seed += 1
        if write_key is not None:
            return v1_bodies(n, args.size, seed, user_id)
        return bodies(n, args.size, seed)

    def drive(app: Any, token: str, batch_bodies: list[bytes]) -> None:
        drive_api(app, token, batch_bodies, write_key)

    drive(app, token, next_bodies(args.warmup))  # warm-up: pools, caches, prepared statements
    statements = count_statements(app)
    per_batch: list[float] = []
    for _ in range(args.rounds):
        work = next_bodies(args.batches)
        started = time.process_time()
        drive(app, token, work)
        get_writer(app).flush()
        per_batch.append((time.process_time() - started) / max(args.batches, 1) * 1000)
    print(f"CPU/batch {statistics.median(per_batch):.3f} ms (rounds: "
          f"{', '.join(f'{v:.3f}' for v in per_batch)}), {args.size} events per batch, "
          f"SQL statements/batch {statements[0] / max(args.batches * args.rounds, 1):.2f}")
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
