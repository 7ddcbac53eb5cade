"""What request logging adds to one request, in one process, without an HTTP server.

Run from the repository root: `.venv/bin/python bench/log_cost.py`. It drives the app's
WSGI callable directly with GET /api/v2/auth/me (a JWT-protected GET, the throughput
benchmark's baseline) on PostgreSQL (database challenge_bench, migrated by bench/run.py)
with the rate limiter on Redis, with request logging on and off, in alternating rounds,
and prints the process CPU time per request (every thread: the writer's work counts) and
the SQL statements per request. `--profile` prints where the logged requests spend it.

CPU time here is steadier than requests/s under wrk, but still shares the machine; for a
count that ignores other load, run one mode under callgrind (instructions, not seconds):
  valgrind --tool=callgrind --callgrind-out-file=/dev/null .venv/bin/python bench/log_cost.py \\
      --mode log --rounds 1 --requests N    (and N=0, and --mode nolog; subtract)
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import in_process
from in_process import count_statements, environ

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/challenge_bench"
REDIS_URL = "redis://127.0.0.1:6379/9"


def make_app(*, logging: bool, flush_interval: float | None = None) -> Any:
    from app import create_app

    return create_app(
        {
            "APP_ENV": "production",
            "SQLALCHEMY_DATABASE_URI": DATABASE_URL,
            "RATELIMIT_STORAGE_URI": REDIS_URL,
            "RATELIMIT_KEY_PREFIX": f"logcost-{os.getpid()}-{logging}",
            "WRITE_LIMIT": "10000000 per minute",
            "JWT_SECRET_KEY": "bench-only-secret-0123456789abcdef0123456789abcdef",
            "REQUEST_LOG_ENABLED": logging,
        }
        | ({"REQUEST_LOG_FLUSH_INTERVAL": flush_interval} if flush_interval else {})
    )


def token_for(app: Any) -> str:
    from app.extensions import db
    from app.services.auth import service as auth_service

    with app.app_context():
        user = auth_service.get_by_email(email="logcost@example.com")
        if user is None:
            user = auth_service.create(
                email="logcost@example.com", password="logcost-password-123",
                display_name="Log cost", timezone="UTC",
            )
            db.session.commit()
        return auth_service.issue_access_token(user=user)["access_token"]


def drive(app: Any, token: str, n: int) -> None:
    in_process.drive(app, (environ("GET", "/api/v2/auth/me", token) for _ in range(n)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--mode", choices=["both", "log", "nolog"], default="both")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--flush-interval", type=float, default=None,
        help="writer linger in seconds (default: the app's, 0.5). Under callgrind, which runs "
        "~50x slower, raise it (e.g. 3600) so batches are as large as under real load",
    )
    args = parser.parse_args()
    # As under gunicorn (gunicorn.conf.py): metrics in multi-process mode, set before the
    # app (and prometheus_client) is imported.
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="logcost-"))
    from app.services.request_logs.capture import get_writer

    modes = ["log", "nolog"] if args.mode == "both" else [args.mode]
    apps = {m: make_app(logging=m == "log", flush_interval=args.flush_interval) for m in modes}
    token = token_for(apps[modes[0]])
    counters = {m: count_statements(app) for m, app in apps.items()}
    for app in apps.values():
        drive(app, token, 200)  # warm-up: pools, caches, prepared statements
        get_writer(app).flush()
    per_request: dict[str, list[float]] = {m: [] for m in modes}
    statements: dict[str, float] = {}
    for _ in range(args.rounds):
        for mode, app in apps.items():
            before_sql = counters[mode][0]
            started = time.process_time()
            drive(app, token, args.requests)
            get_writer(app).flush()
            if args.requests:
                per_request[mode].append((time.process_time() - started) / args.requests * 1000)
            statements[mode] = (counters[mode][0] - before_sql) / max(1, args.requests)
    for mode in modes:
        ms = statistics.median(per_request[mode]) if per_request[mode] else float("nan")
        print(f"{mode:6s} CPU/request {ms:.4f} ms  (rounds: "
              f"{', '.join(f'{v:.4f}' for v in per_request[mode])})  "
              f"SQL statements/request {statements.get(mode, 0):.3f}")
    if len(modes) == 2 and all(per_request.values()):
        log, nolog = (statistics.median(per_request[m]) for m in modes)
        print(f"logging adds {log - nolog:.4f} ms = {(log / nolog - 1) * 100:+.1f}% CPU/request")
    if args.profile:
        app = apps[modes[0]]
        profiler = cProfile.Profile()
        profiler.enable()
        drive(app, token, args.requests)
        get_writer(app).flush()
        profiler.disable()
        stats = pstats.Stats(profiler)
        ours = r"request_log_hook|metrics|request_logs|ip_masking|opt_out|prometheus"
        stats.sort_stats("cumulative").print_stats(ours, 60)


if __name__ == "__main__":
    main()
