"""Where one GET /auth/me and one POST /track spend their time, in microseconds per part.

Run from the repository root after bench/run.py has created `challenge_bench`:

    .venv/bin/python bench/request_profile.py [--requests 3000]

It builds the app as production runs it (PostgreSQL, limiter on Redis, request logging on,
metrics in multi-process mode), drives its WSGI callable in this process (no HTTP server,
so no socket time), and prints for each request kind the CPU time per request (every
thread), then the inclusive CPU time (this thread) and wall time of each part, from
timers wrapped around the functions named in PARTS (about 1 us of their own per call).
The bare app (bench/bare_app.py) is driven the same way for the floor: its GET (`bare`)
and its least possible durable, rate-limited event write (`floor`: POST /bare/track).

CPU time shares the machine with whatever else runs. For counts that ignore other load,
run one kind under callgrind twice (N requests and 0) and subtract: instructions, not
seconds, the same whatever else runs:

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        .venv/bin/python bench/request_profile.py --only track --requests 1000   (and 0)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from in_process import count_statements, environ

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/challenge_bench"
REDIS_URL = "redis://127.0.0.1:6379/9"
SECRET = "bench-only-secret-0123456789abcdef0123456789abcdef"
TRACK_BODY = (
    b'{"event_type": "screen_viewed", "event_data": {"screen": "today", "source": "bench"}}'
)

# (label, owner, attribute): each is wrapped by a timer (thread CPU time and wall time,
# inclusive of what it calls). Owners are named as strings so that this module imports
# the app only after PROMETHEUS_MULTIPROC_DIR is set.
PARTS = (
    ("whole request (Flask wsgi_app)", "flask:Flask", "wsgi_app"),
    ("before_request hooks", "flask:Flask", "preprocess_request"),
    ("JWT check (verify_jwt_in_request)", "app.routes._common", "verify_jwt_in_request"),
    ("  token decode (cached verify)", "app.web.verified_tokens:CachingJWTManager",
     "_decode_jwt_from_config"),
    ("  revocation + token version + user", "app.extensions:jwt",
     "_token_in_blocklist_callback"),
    ("Flask-Limiter checks", "flask_limiter:Limiter", "_check_request_limit"),
    ("  limits storage calls (Redis)", "limits.storage:RedisStorage", "incr"),
    ("body parse + schema load (webargs)", "app.web.json_body:JsonParser", "parse"),
    ("service: track_client_event", "app.services.analytics_service:AnalyticsService",
     "track_client_event"),
    ("  insert + commit", "app.services.analytics_service", "_store_and_commit"),
    ("response schema dump (marshmallow)", "marshmallow:Schema", "dump"),
    ("after_request hooks", "flask:Flask", "process_response"),
    ("  request log hook", "app.web.request_log_hook", "_record"),
    ("teardown_request hooks", "flask:Flask", "do_teardown_request"),
    ("app context teardown (session remove)", "flask:Flask", "do_teardown_appcontext"),
    ("SQLAlchemy Session.execute (all)", "sqlalchemy.orm:Session", "execute"),
    ("SQLAlchemy Session.commit", "sqlalchemy.orm:Session", "commit"),
    ("pool checkout (+ pre-ping)", "sqlalchemy.pool.base:_ConnectionFairy", "_checkout"),
    ("pool checkin (+ reset/rollback)", "sqlalchemy.pool.base", "_finalize_fairy"),
    ("response out (werkzeug Response.__call__)", "werkzeug.wrappers:Response", "__call__"),
)


class Timer:
    """Inclusive CPU (this thread) and wall time of a wrapped function; re-entry counted once."""

    def __init__(self) -> None:
        self.cpu = 0
        self.wall = 0
        self.depth = 0

    def wrap(self, func: Any) -> Any:
        import functools

        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if self.depth:
                return func(*args, **kwargs)
            self.depth += 1
            cpu, wall = time.thread_time_ns(), time.perf_counter_ns()
            try:
                return func(*args, **kwargs)
            finally:
                self.cpu += time.thread_time_ns() - cpu
                self.wall += time.perf_counter_ns() - wall
                self.depth -= 1

        return timed


def install_timers() -> dict[str, Timer]:
    import importlib

    timers: dict[str, Timer] = {}
    for label, owner, attr in PARTS:
        module_name, _, obj_name = owner.partition(":")
        target: Any = importlib.import_module(module_name)
        if obj_name:
            target = getattr(target, obj_name)
        timer = timers[label] = Timer()
        raw = (target.__dict__ if isinstance(target, type) else vars(target)).get(attr)
        if isinstance(raw, classmethod):
            setattr(target, attr, classmethod(timer.wrap(raw.__func__)))
        elif isinstance(raw, staticmethod):
            setattr(target, attr, staticmethod(timer.wrap(raw.__func__)))
        else:
            setattr(target, attr, timer.wrap(getattr(target, attr)))
    return timers


def make_app() -> Any:
    from app import create_app

    return create_app({
        "APP_ENV": "production",
        "SQLALCHEMY_DATABASE_URI": DATABASE_URL,
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "RATELIMIT_KEY_PREFIX": f"profile-{os.getpid()}",
        "WRITE_LIMIT": "10000000 per minute",
        "EVENT_LIMIT": "10000000 per minute",
        "JWT_SECRET_KEY": SECRET,
    })


def make_bare() -> Any:
    os.environ.setdefault("JWT_SECRET_KEY", SECRET)
    os.environ.setdefault("DATABASE_URL", DATABASE_URL)  # POST /bare/track's
    os.environ.setdefault("RATELIMIT_STORAGE_URI", REDIS_URL)
    import bare_app

    return bare_app.app


def token_for(app: Any) -> str:
    from app.extensions import db
    from app.services.auth import service as auth_service
    from app.services.auth import tokens

    with app.app_context():
        user = auth_service.get_by_email(email="profile@example.com")
        if user is None:
            user = auth_service.create(
                email="profile@example.com", password="profile-password-123",
                display_name="Profile", timezone="UTC",
            )
            db.session.commit()
        return tokens.issue_access_token(user=user)["access_token"]


def requests(kind: str, token: str, n: int) -> list[dict[str, Any]]:
    if kind == "track":
        return [environ("POST", "/api/v2/analytics/track", token, TRACK_BODY) for _ in range(n)]
    if kind == "floor":
        return [environ("POST", "/bare/track", token, TRACK_BODY) for _ in range(n)]
    path = "/bare/me" if kind == "bare" else "/api/v2/auth/me"
    return [environ("GET", path, token) for _ in range(n)]


def drive(app: Any, envs: list[dict[str, Any]]) -> None:
    statuses: list[str] = []

    def start_response(status: str, _headers: Any, _exc: Any = None) -> None:
        statuses.append(status)

    for env in envs:
        out = app(env, start_response)
        for _chunk in out:
            pass
        if hasattr(out, "close"):
            out.close()
    if not all(s[:3] in {"200", "201"} for s in statuses):
        raise SystemExit(f"unexpected statuses: {set(statuses)}")


def cpu_per_request(app: Any, kind: str, token: str, n: int) -> float:
    envs = requests(kind, token, n)
    started = time.process_time()
    drive(app, envs)
    return (time.process_time() - started) / n * 1e6


def profile(app: Any, kind: str, token: str, n: int,
            timers: dict[str, Timer]) -> dict[str, tuple[float, float]]:
    envs = requests(kind, token, n)
    for timer in timers.values():
        timer.cpu = timer.wall = 0
    drive(app, envs)
    return {label: (t.cpu / n / 1000, t.wall / n / 1000) for label, t in timers.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument(
        "--only", choices=("bare", "floor", "me", "track"),
        help="warm up, then drive --requests of this kind and nothing else (for callgrind)",
    )
    args = parser.parse_args()
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="profile-"))
    app, bare = make_app(), make_bare()
    token = token_for(app)
    apps = {"bare": bare, "floor": bare, "me": app, "track": app}
    if args.only:
        drive(apps[args.only], requests(args.only, token, 300))
        drive(apps[args.only], requests(args.only, token, args.requests))
        return
    counter = count_statements(app)
    for kind, target in apps.items():
        drive(target, requests(kind, token, 300))  # warm-up
    print(f"{'kind':6} {'CPU us/request':>15} {'SQL/request':>12}")
    real: dict[str, float] = {}
    for kind, target in apps.items():
        before = counter[0]
        real[kind] = min(cpu_per_request(target, kind, token, args.requests) for _ in range(3))
        sql = (counter[0] - before) / (3 * args.requests)
        print(f"{kind:6} {real[kind]:15.1f} {sql:12.2f}")
    print(
        f"CPU per request: track/bare {real['track'] / real['bare']:.2f}x, "
        f"floor/bare {real['floor'] / real['bare']:.2f}x, "
        f"track/floor {real['track'] / real['floor']:.2f}x"
    )
    timers = install_timers()
    for kind in ("me", "track"):
        drive(app, requests(kind, token, 200))
        parts = profile(app, kind, token, args.requests, timers)
        print(f"\n{kind}: us per request, inclusive  {'CPU':>8} {'wall':>8}")
        for label, (cpu, wall) in parts.items():
            if wall:
                print(f"  {label:42} {cpu:8.1f} {wall:8.1f}")


if __name__ == "__main__":
    main()
