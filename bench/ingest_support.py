"""Parts of the ingestion benchmark (bench/ingest.py): server, users, events, references."""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import redis
from harness import BACKEND, VENV_BIN, BenchError, check_redis_and_postgres

DATABASE = "challenge_ibench"
PSYCOPG_DSN = f"postgresql://postgres@127.0.0.1:5432/{DATABASE}"
SQLALCHEMY_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DATABASE}"
REDIS_URL = "redis://127.0.0.1:6379/7"
HIGH_LIMIT = "100000000 per minute"  # checked on every request, never reached
PASSWORD = "bench-password-123"

# Realistic client events: every whitelisted type the mix uses, data valid for its schema.
SCREENS = ("today", "plan", "video", "profile", "challenges", "settings")


def client_event(rng: random.Random, occurred_at: str, event_id: str | None = None) -> dict:
    kind = rng.random()
    video = rng.randint(1, 30)
    if kind < 0.35:
        event_type, data = "screen_viewed", {"screen": rng.choice(SCREENS), "source": "tab"}
    elif kind < 0.65:
        event_type = "video_progress"
        data = {"video_id": video, "position_s": round(rng.uniform(0, 600), 1), "duration_s": 600}
    elif kind < 0.80:
        event_type, data = "video_started", {"video_id": video, "autoplay": rng.random() < 0.5}
    elif kind < 0.90:
        event_type, data = "video_completed", {"video_id": video, "watched_s": 600}
    else:
        event_type, data = "app_opened", {"cold_start": rng.random() < 0.3, "build": "2.4.1"}
    return {
        "event_id": event_id or random_uuid(rng),
        "event_type": event_type,
        "event_data": data,
        "occurred_at": occurred_at,
    }


def random_uuid(rng: random.Random) -> str:
    """A version-4 UUID's text from rng: unique for every practical purpose, and several
    times cheaper than uuid.uuid4() (which reads os.urandom), so the generators of the
    soak leave more of the shared cores to the server."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def batch_body(rng: random.Random, size: int = 100) -> dict[str, Any]:
    now = datetime.now(UTC)
    occurred = iso(now - timedelta(seconds=rng.uniform(1, 120)))
    return {"sent_at": iso(now), "events": [client_event(rng, occurred) for _ in range(size)]}


# -- setup ------------------------------------------------------------------------------


def server_env(*, key_prefix: str, workers: int, threads: int = 1) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        APP_ENV="production",
        DATABASE_URL=SQLALCHEMY_URL,
        RATELIMIT_STORAGE_URI=REDIS_URL,
        RATELIMIT_KEY_PREFIX=key_prefix,
        WRITE_LIMIT=HIGH_LIMIT,
        EVENT_LIMIT=HIGH_LIMIT,
        AUTH_LIMIT="100000 per minute",
        AUTH_EMAIL_LIMIT="100000 per minute",
        JWT_SECRET_KEY="bench-only-secret-0123456789abcdef0123456789abcdef",
        JWT_ACCESS_TOKEN_EXPIRES="86400",
        WEB_CONCURRENCY=str(workers),
        GUNICORN_THREADS=str(threads),
        GUNICORN_LOG_LEVEL="info",
    )
    return env


def check_services() -> None:
    check_redis_and_postgres(REDIS_URL)


def flask(*args: str) -> str:
    env = dict(os.environ, DATABASE_URL=SQLALCHEMY_URL, FLASK_APP="app")
    proc = subprocess.run(
        [str(VENV_BIN / "flask"), *args], cwd=BACKEND, env=env, capture_output=True,
        text=True, check=False,
    )
    if proc.returncode != 0:
        raise BenchError(f"flask {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def api(base_url: str, method: str, path: str, body: Any = None, token: str | None = None,
        expect: tuple[int, ...] = (200, 201)) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base_url + path, method=method, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    if status not in expect:
        raise BenchError(f"{method} {path} -> {status}: {raw[:500]!r}")
    return json.loads(raw) if raw else None


def make_user(base_url: str, email: str, *, join: int | None = None) -> str:
    """Register and log in through the API (and join a challenge); the access token."""
    api(base_url, "POST", "/api/v2/auth/register",
        {"email": email, "password": PASSWORD, "display_name": "Bench", "timezone": "UTC"})
    token = api(base_url, "POST", "/api/v2/auth/login",
                {"email": email, "password": PASSWORD})["access_token"]
    if join is not None:
        api(base_url, "POST", f"/api/v2/challenges/{join}/join", {}, token)
    return token


def demo_challenge_id(base_url: str, token: str) -> int:
    items = api(base_url, "GET", "/api/v2/challenges", token=token)["items"]
    if not items:
        raise BenchError("no challenge: flask seed-demo did not run?")
    return int(items[0]["id"])


def limiter_counters(key_prefix: str) -> dict[str, int]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return {k.decode(): int(client.get(k) or 0)
                for k in client.scan_iter(match=f"*{key_prefix}*")}
    finally:
        client.close()


def check_limits_on_redis(base_url: str, token: str, key_prefix: str) -> dict[str, int]:
    """One batch of 100: the event counter in Redis must say 100 (limits really checked)."""
    before = limiter_counters(key_prefix)
    answer = api(base_url, "POST", "/api/v2/analytics/batch", batch_body(random.Random()), token)
    if answer["accepted"] != 100:
        raise BenchError(f"the setup batch was not accepted whole: {answer['accepted']}")
    after = limiter_counters(key_prefix)
    grown = {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}
    if sorted(grown.values()) != [1, 100]:
        raise BenchError(f"WRITE_LIMIT/EVENT_LIMIT not counted in Redis as expected: {grown}")
    return grown


# -- database ---------------------------------------------------------------------------


def count_events(*, since_id: int = 0) -> tuple[int, int]:
    """(rows with id > since_id, max id)."""
    with psycopg.connect(PSYCOPG_DSN) as conn:
        row = conn.execute(
            "SELECT count(*), coalesce(max(id), 0) FROM analytics_events WHERE id > %s",
            (since_id,),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


_COLUMNS = "user_id, event_id, event_type, event_data, occurred_at, created_at"


@dataclass
class Reference:
    copy_rows: int
    copy_seconds: float
    insert_rows: int
    insert_seconds: float

    @property
    def copy_rate(self) -> float:
        return self.copy_rows / self.copy_seconds

    @property
    def insert_rate(self) -> float:
        return self.insert_rows / self.insert_seconds


def reference_rates(*, since_id: int, limit: int, insert_seconds: float) -> Reference:
    """PostgreSQL's own COPY of the rows the HTTP run stored, and a naive INSERT loop.

    Both write into scratch tables with analytics_events' columns, indexes (including
    the unique (user_id, event_id)) and foreign key, so each row costs what it costs there.
    """
    with psycopg.connect(PSYCOPG_DSN, autocommit=True) as conn:
        for name in ("ibench_copy", "ibench_insert"):
            conn.execute(f"DROP TABLE IF EXISTS {name}")
            conn.execute(f"CREATE TABLE {name} (LIKE analytics_events INCLUDING ALL)")
            conn.execute(f"ALTER TABLE {name} ADD FOREIGN KEY (user_id) REFERENCES users(id)")
        # Every column but the id (context columns too: /v1's rows carry them).
        columns = ", ".join(name for (name,) in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name ="
            " 'analytics_events' AND column_name <> 'id' ORDER BY ordinal_position"
        ))
        buffer = io.BytesIO()
        query = (f"COPY (SELECT {columns} FROM analytics_events WHERE id > {since_id} "
                 f"ORDER BY id LIMIT {limit}) TO STDOUT")
        with conn.cursor().copy(query) as copy:
            for chunk in copy:
                buffer.write(chunk)
        data = buffer.getvalue()
        rows = data.count(b"\n")
        conn.execute("CHECKPOINT")  # neither reference pays for the other's dirty pages
        with conn.transaction():
            start = time.perf_counter()
            with conn.cursor().copy(f"COPY ibench_copy ({columns}) FROM STDIN") as copy:
                view = memoryview(data)
                for offset in range(0, len(data), 1 << 20):
                    copy.write(view[offset:offset + (1 << 20)])
        copy_seconds = time.perf_counter() - start  # the COMMIT included
        sample = conn.execute(
            f"SELECT {_COLUMNS} FROM analytics_events WHERE id > %s ORDER BY id LIMIT 1",
            (since_id,),
        ).fetchone()
        assert sample is not None
        user_id, _, event_type, event_data, occurred_at, created_at = sample
        insert = (f"INSERT INTO ibench_insert ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s)"
                  " ON CONFLICT (user_id, event_id) DO NOTHING")
        payload = psycopg.types.json.Jsonb(event_data)
        done = 0
        start = time.perf_counter()
        deadline = start + insert_seconds
        while time.perf_counter() < deadline:  # autocommit: one INSERT + COMMIT per event
            conn.execute(insert, (user_id, uuid.uuid4(), event_type, payload, occurred_at,
                                  created_at), prepare=True)
            done += 1
        insert_elapsed = time.perf_counter() - start
        for name in ("ibench_copy", "ibench_insert"):
            conn.execute(f"DROP TABLE {name}")
    return Reference(rows, copy_seconds, done, insert_elapsed)


# -- /proc --------------------------------------------------------------------------------


def vm_rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def machine_busy() -> tuple[float, float]:
    """(busy jiffies, total jiffies) of the whole machine, from /proc/stat."""
    values = [float(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)
