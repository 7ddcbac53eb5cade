"""Per-request cost of our app against a bare JWT GET: GET /auth/me, /track, request logging.

Run from the repository root: `.venv/bin/python bench/run.py` (or `make bench`).
Needs PostgreSQL (postgres, trust auth) and Redis on 127.0.0.1, and wrk.
It recreates the database `challenge_bench` and uses Redis database 9.

Each round loads four configurations, one at a time, each on a fresh gunicorn with the
same settings (backend/gunicorn.conf.py, --workers (2), --worker-class/--threads) and, for our
app, the rate limiter on Redis (limits too high to trigger):
  bare      GET  /bare/me                bench/bare_app.py: Flask + flask-jwt-extended only
  me        GET  /api/v2/auth/me         request logging on
  track     POST /api/v2/analytics/track request logging on
  nolog     GET  /api/v2/auth/me         request logging off
  floor     POST /bare/track             bench/bare_app.py: the least a durable, rate-limited
                                         event write can do (JWT, one Redis hit, one INSERT)
and reports medians of requests/s and of worker CPU time per request (utime + stime
of the worker processes, from /proc), the ratios against `bare`, and checks the rows the
runs left behind. Batch ingestion against COPY is bench/ingest.py's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

import redis
from harness import (
    APP_SPEC,
    BACKEND,
    BARE_APP_SPEC,
    ROOT,
    VENV_BIN,
    BenchError,
    Gunicorn,
    RowCounts,
    WriterExit,
    backend_pids,
    bench_token,
    check_redis_and_postgres,
    child_pids,
    cpu_delta,
    free_port,
    gunicorn_command,
    require_wrk,
    reset_database,
    row_counts,
    run_wrk,
    total_cpu,
    writer_exits,
    wrk_command,
)
from report import Run, machine_info, print_report

DATABASE = "challenge_bench"
PSYCOPG_DSN = f"postgresql://postgres@127.0.0.1:5432/{DATABASE}"
REDIS_URL = "redis://127.0.0.1:6379/9"
WORKERS = 2
TRACK_LUA = Path(__file__).resolve().parent / "track.lua"


@dataclass(frozen=True)
class Config:
    name: str
    method: str
    path: str
    logging: bool
    script: Path | None = None
    app_spec: str = APP_SPEC


CONFIGS = (
    Config("bare", "GET", "/bare/me", logging=False, app_spec=BARE_APP_SPEC),
    Config("me", "GET", "/api/v2/auth/me", logging=True),
    Config("track", "POST", "/api/v2/analytics/track", logging=True, script=TRACK_LUA),
    Config("nolog", "GET", "/api/v2/auth/me", logging=False),
    Config("floor", "POST", "/bare/track", logging=False, script=TRACK_LUA,
           app_spec=BARE_APP_SPEC),
)


def track_body() -> bytes:
    """The event body track.lua sends, so the setup check posts the same thing."""
    match = re.search(r"wrk\.body = '(.*)'", TRACK_LUA.read_text())
    assert match is not None, "track.lua sets wrk.body in single quotes"
    return match.group(1).encode()


def server_env(
    *, logging: bool, key_prefix: str, threads: int = 1, workers: int = WORKERS
) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        APP_ENV="production",
        DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:5432/{DATABASE}",
        RATELIMIT_STORAGE_URI=REDIS_URL,
        RATELIMIT_KEY_PREFIX=key_prefix,
        WRITE_LIMIT="10000000 per minute",
        EVENT_LIMIT="10000000 per minute",
        AUTH_LIMIT="1000 per minute",
        JWT_SECRET_KEY="bench-only-secret-0123456789abcdef0123456789abcdef",
        JWT_ACCESS_TOKEN_EXPIRES="86400",
        REQUEST_LOG_ENABLED="true" if logging else "false",
        WEB_CONCURRENCY=str(workers),
        # The worker model is also given on gunicorn's command line (--worker-class).
        GUNICORN_THREADS=str(threads),
        GUNICORN_LOG_LEVEL="info",  # worker_exit reports the writers' counters
    )
    return env


def check_services() -> None:
    check_redis_and_postgres(REDIS_URL)


def migrate() -> None:
    env = dict(os.environ, DATABASE_URL=server_env(logging=True, key_prefix="")["DATABASE_URL"])
    env["FLASK_APP"] = "app"
    proc = subprocess.run(
        [str(VENV_BIN / "flask"), "db", "upgrade"],
        cwd=BACKEND,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise BenchError("flask db upgrade failed:\n" + proc.stdout + proc.stderr)


def limiter_counters(key_prefix: str) -> dict[str, int]:
    """Flask-Limiter's counters in Redis for this run's key prefix."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"*{key_prefix}*"))
        return {k.decode(): int(client.get(k) or 0) for k in keys}
    finally:
        client.close()


def gunicorn(
    args: argparse.Namespace, env: dict[str, str], log_path: Path, app_spec: str = APP_SPEC
) -> Gunicorn:
    return Gunicorn(
        env=env,
        port=free_port(),
        workers=args.workers,
        log_path=log_path,
        app_spec=app_spec,
        worker_class=args.worker_class,
        threads=args.threads,
    )


def setup_user(args: argparse.Namespace, env: dict[str, str], log_path: Path) -> str:
    """Create the bench user, and check that the limiter really runs on Redis."""
    server = gunicorn(args, env, log_path)
    server.start()
    try:
        token = bench_token(server.base_url)
        with urllib.request.urlopen(server.base_url + "/readyz", timeout=5) as resp:
            ready = json.loads(resp.read())
        if ready["checks"].get("rate_limit_storage") != "ok":
            raise BenchError(f"the rate limiter is not on Redis: {ready}")
        request = urllib.request.Request(
            server.base_url + "/api/v2/analytics/track",
            method="POST",
            data=track_body(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=5) as resp:
            if resp.status != 201:
                raise BenchError(f"POST /track answered {resp.status}")
        # Success responses carry no X-RateLimit headers by default: read the limiter's
        # counter in Redis instead. One POST so far, so one key counting 1 hit.
        counters = {
            key: hits
            for key, hits in limiter_counters(env["RATELIMIT_KEY_PREFIX"]).items()
            if "analytics_v2.track" in key
        }
        if list(counters.values()) != [1]:
            raise BenchError(f"POST /track is not rate limited on Redis: {counters}")
    finally:
        server.stop()
    return token


def measure(
    config: Config, round_no: int, args: argparse.Namespace, token: str, log_dir: Path
) -> Run:
    env = server_env(
        logging=config.logging, key_prefix=args.key_prefix, threads=args.threads,
        workers=args.workers,
    )
    log_path = log_dir / f"{round_no}-{config.name}.log"
    before = row_counts(PSYCOPG_DSN)
    server = gunicorn(args, env, log_path, config.app_spec)
    server.start()
    problems: list[str] = []
    try:
        url = server.base_url + config.path

        def wrk(seconds: float) -> list[str]:
            return wrk_command(
                url,
                threads=args.wrk_threads,
                connections=args.connections,
                duration=seconds,
                token=token,
                script=config.script,
            )

        warm = run_wrk(wrk(args.warmup))  # pools filled, code paths warm
        pg = backend_pids(DATABASE)
        workers0, pg0 = total_cpu(server.worker_pids), total_cpu(pg)
        result = run_wrk(wrk(args.duration))
        workers1, pg1 = total_cpu(server.worker_pids), total_cpu(pg)
        if child_pids(server.proc.pid) != server.worker_pids:  # type: ignore[union-attr]
            problems.append("a worker was replaced during the run: CPU figures incomplete")
    finally:
        exit_code = server.stop()
    if exit_code != 0:
        problems.append(f"gunicorn exited with {exit_code} (not a clean graceful stop)")
    for label, res in (("warm-up", warm), ("run", result)):
        if res.errors:
            problems.append(f"{label}: {res.non_2xx} non-2xx, socket errors {res.socket_errors}")
    rows = row_counts(PSYCOPG_DSN) - before
    problems += check_rows(config, rows, warm.requests + result.requests, args.connections * 2)
    exits = writer_exits(log_path)
    if config.app_spec == APP_SPEC:
        problems += check_writer_exits(config, rows, exits, args.workers)
    return Run(
        config=config.name,
        round=round_no,
        rps=result.rps,
        requests=result.requests,
        seconds=result.seconds,
        latency_avg_ms=result.latency_avg_ms,
        worker_cpu_ms=1000 * cpu_delta(workers0, workers1) / max(result.requests, 1),
        pg_cpu_ms=1000 * cpu_delta(pg0, pg1) / max(result.requests, 1),
        warmup_requests=warm.requests,
        rows=asdict(rows),
        flushed_at_exit=sum(e.queued for e in exits),
        problems=problems,
    )


def check_rows(config: Config, rows: RowCounts, answered: int, slack: int) -> list[str]:
    """Rows the run left: wrk's answered requests, plus at most those in flight at its end.

    wrk counts only responses it read; requests still in flight when it stopped (at most one
    per connection and wrk invocation) may have been served too. On the server's side the
    match must be exact: one event per 201 it logged.
    """
    problems = []
    if config.logging:
        if not answered <= rows.logs <= answered + slack:
            problems.append(f"request_logs +{rows.logs}, expected {answered}..{answered + slack}")
        if rows.logs_non_2xx:
            problems.append(f"request_logs has {rows.logs_non_2xx} non-2xx rows")
    elif rows.logs:
        problems.append(f"request logging is off, yet request_logs +{rows.logs}")
    if config.script is TRACK_LUA:
        if not answered <= rows.events <= answered + slack:
            problems.append(
                f"analytics_events +{rows.events}: acknowledged {answered}..{answered + slack}"
            )
        if config.logging and rows.events != rows.logs_track_201:
            problems.append(f"{rows.events} events stored, {rows.logs_track_201} 201s logged")
    elif rows.events:
        problems.append(f"analytics_events +{rows.events} during a GET run")
    return problems


def check_writer_exits(
    config: Config, rows: RowCounts, exits: list[WriterExit], workers: int
) -> list[str]:
    """Every worker's worker_exit hook closed its writer, which wrote exactly the rows added."""
    if len(exits) != workers:
        return [f"worker_exit reported {len(exits)} writer closes, expected {workers}"]
    problems = []
    lost = sum(e.dropped + e.failed + e.left for e in exits)
    if lost:
        problems.append(f"request-log writers lost {lost} rows: {exits}")
    written = sum(e.written for e in exits)
    if written != rows.logs:
        problems.append(f"writers report {written} rows written, request_logs +{rows.logs}")
    if not config.logging and written:
        problems.append(f"logging off, yet the writers wrote {written} rows")
    return problems


def commands(args: argparse.Namespace) -> list[str]:
    """The command run, and the server and load commands it ran for each configuration."""
    example = wrk_command(
        "http://127.0.0.1:PORT/api/v2/analytics/track",
        threads=args.wrk_threads,
        connections=args.connections,
        duration=args.duration,
        token="$TOKEN",
        script=TRACK_LUA.relative_to(ROOT),
    )
    return [
        f"cd {ROOT} && .venv/bin/python bench/run.py {shlex.join(sys.argv[1:])}".rstrip(),
        "server: cd backend && "
        + shlex.join(
            gunicorn_command(0, args.workers, worker_class=args.worker_class, threads=args.threads)
        )
        + f"  (fresh per run; bare: PYTHONPATH=bench, {BARE_APP_SPEC})",
        f"load:   {shlex.join(example)}  (GET runs: no -s)",
    ]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--duration", type=float, default=10, help="seconds per run (10)")
    parser.add_argument("--warmup", type=float, default=2, help="warm-up seconds per run (2)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (8)")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (1)")
    parser.add_argument(
        "--workers", type=int, default=WORKERS,
        help=f"gunicorn workers, the same for every configuration ({WORKERS}; production's"
        " backend/gunicorn.conf.py default is 2 x cores + 1)",
    )
    parser.add_argument(
        "--worker-class", default="sync", choices=("sync", "gthread"),
        help="gunicorn worker class, the same for every configuration (sync)",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="gunicorn threads per worker (1; gthread: 3)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 1 round of 3 s, 1 s warm-up"
    )
    parser.add_argument("--json", help="also write every figure to this JSON file")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.duration, args.warmup = 1, 3, 1
    if args.worker_class == "gthread" and args.threads == 1:
        args.threads = 3  # as backend/gunicorn.conf.py runs it
    args.key_prefix = f"bench-{os.getpid()}-{int(time.time())}"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        require_wrk()
        check_services()
        info = machine_info(REDIS_URL)
        reset_database(DATABASE)
        migrate()
        log_dir = Path(tempfile.mkdtemp(prefix="challenge-bench-"))
        print(f"gunicorn output: {log_dir}", flush=True)
        env = server_env(
            logging=True, key_prefix=args.key_prefix, threads=args.threads,
            workers=args.workers,
        )
        token = setup_user(args, env, log_dir / "setup.log")
        runs = []
        for round_no in range(1, args.rounds + 1):
            for config in CONFIGS:
                run = measure(config, round_no, args, token, log_dir)
                print(
                    f"round {round_no}/{args.rounds} {config.name:9} {run.rps:8.0f} req/s"
                    f"  {run.worker_cpu_ms:.3f} ms CPU/req"
                    + (f"  PROBLEM: {run.problems}" if run.problems else ""),
                    flush=True,
                )
                runs.append(run)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    return 0 if print_report(info, args, runs, commands(args)) else 1


if __name__ == "__main__":
    sys.exit(main())
