"""The floor: a bare Flask + flask-jwt-extended app, one @jwt_required GET, and the
floor of a durable, rate-limited event write.

bench/run.py serves it with the same gunicorn command and settings as the real app
(`gunicorn -c gunicorn.conf.py ... 'bare_app:app'`, run from backend/ with bench/ on
PYTHONPATH), so the ratios it prints are against what Flask and a JWT check cost alone.

POST /bare/track is the least a durable, rate-limited /track can do, written as plainly as
possible: the JWT check, one JSON parse, the body's two fields checked, one hit of a
fixed-window limit in Redis (the `limits` library, as Flask-Limiter uses it: one EVALSHA),
and the same constant INSERT ... ON CONFLICT ... RETURNING in autocommit on one psycopg
connection per worker (committed, so flushed to the WAL, before the 201). No request log,
metrics, schemas, event-type schemas, clock correction or opt-out check. Its ratio to the
GET is the most any /track can reach on this machine with PostgreSQL and Redis beside it.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
from flask import Flask, Response, request
from flask_jwt_extended import JWTManager, get_jwt_identity, jwt_required
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

app = Flask(__name__)
app.config["JWT_SECRET_KEY"] = os.environ["JWT_SECRET_KEY"]
JWTManager(app)

_TYPES = frozenset({"app_opened", "screen_viewed", "video_started"})
_LIMIT = parse(os.environ.get("WRITE_LIMIT", "10000000 per minute"))
_INSERT = (
    "INSERT INTO analytics_events"
    " (user_id, event_type, event_data, created_at, event_id, occurred_at)"
    " VALUES (%s, %s, %s::jsonb, %s, %s, %s)"
    " ON CONFLICT (user_id, event_id) DO NOTHING RETURNING id"
)
_state: dict[str, Any] = {}  # per worker (created after gunicorn's fork)


def _connections() -> tuple[FixedWindowRateLimiter, psycopg.Connection]:
    if _state.get("pid") != os.getpid():
        storage = storage_from_string(os.environ.get("RATELIMIT_STORAGE_URI", "memory://"))
        dsn = os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
        _state.update(
            pid=os.getpid(),
            limiter=FixedWindowRateLimiter(storage),
            conn=psycopg.connect(dsn, autocommit=True),
        )
    return _state["limiter"], _state["conn"]


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/bare/me")
@jwt_required()
def me() -> dict[str, str]:
    return {"id": get_jwt_identity()}


@app.post("/bare/track")
@jwt_required()
def track() -> Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or body.get("event_type") not in _TYPES:
        return Response(b'{"error": "bad event"}', status=422, mimetype="application/json")
    data = body.get("event_data", {})
    if not isinstance(data, dict):
        return Response(b'{"error": "bad event_data"}', status=422, mimetype="application/json")
    user_id = int(get_jwt_identity())
    limiter, conn = _connections()
    if not limiter.hit(_LIMIT, "bare-track", str(user_id)):
        return Response(b'{"error": "limited"}', status=429, mimetype="application/json")
    now = datetime.now(UTC)
    event_id = uuid.uuid4()
    row = conn.execute(
        _INSERT,
        (user_id, body["event_type"], orjson.dumps(data).decode(), now, event_id, now),
        prepare=True,
    ).fetchone()
    out = {"id": row[0] if row else None, "event_id": str(event_id), "created_at": now}
    return Response(orjson.dumps(out), status=201, mimetype="application/json")
