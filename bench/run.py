"""Throughput and CPU cost of /track and of request logging, against a bare JWT GET.

Run from the repository root: `.venv/bin/python bench/run.py` (or `make bench`).
Needs PostgreSQL (postgres, trust auth) and Redis on 127.0.0.1, and wrk.
It recreates the database `challenge_bench` and uses Redis database 9.

Each round loads three configurations, one at a time, each on a fresh gunicorn
(2 sync workers) with the rate limiter on Redis (limits too high to trigger):
  baseline  GET  /api/v2/auth/me         request logging on
  track     POST /api/v2/analytics/track request logging on
  nolog     GET  /api/v2/auth/me         request logging off
and reports medians of requests/s and of worker CPU time per request (utime + stime
of the worker processes, from /proc), then checks the rows the runs left behind.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis
from harness import (
    BACKEND,
    ROOT,
    VENV_BIN,
    BenchError,
    Gunicorn,
    RowCounts,
    backend_pids,
    bench_token,
    child_pids,
    cpu_delta,
    free_port,
    gunicorn_command,
    pg_settings,
    require_wrk,
    reset_database,
    row_counts,
    run_wrk,
    total_cpu,
    wrk_command,
)

DATABASE = "challenge_bench"
PSYCOPG_DSN = f"postgresql://postgres@127.0.0.1:5432/{DATABASE}"
REDIS_URL = "redis://127.0.0.1:6379/9"
WORKERS = 2
TRACK_LUA = Path(__file__).resolve().parent / "track.lua"
TARGET_TRACK_RATIO = 0.40
TARGET_LOGGING_COST = 0.05


@dataclass(frozen=True)
class Config:
    name: str
    method: str
    path: str
    logging: bool
    script: Path | None = None


CONFIGS = (
    Config("baseline", "GET", "/api/v2/auth/me", logging=True),
    Config("track", "POST", "/api/v2/analytics/track", logging=True, script=TRACK_LUA),
    Config("nolog", "GET", "/api/v2/auth/me", logging=False),
)


@dataclass
class Run:
    config: str
    round: int
    rps: float
    requests: int
    seconds: float
    latency_avg_ms: float
    worker_cpu_ms: float  # per request
    pg_cpu_ms: float  # per request, PostgreSQL backends serving our pool
    warmup_requests: int
    rows: dict[str, int]
    problems: list[str] = field(default_factory=list)


def track_body() -> bytes:
    """The event body track.lua sends, so the setup check posts the same thing."""
    match = re.search(r"wrk\.body = '(.*)'", TRACK_LUA.read_text())
    assert match is not None, "track.lua sets wrk.body in single quotes"
    return match.group(1).encode()


def server_env(*, logging: bool, key_prefix: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        APP_ENV="production",
        DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:5432/{DATABASE}",
        RATELIMIT_STORAGE_URI=REDIS_URL,
        RATELIMIT_KEY_PREFIX=key_prefix,
        WRITE_LIMIT="10000000 per minute",
        AUTH_LIMIT="1000 per minute",
        JWT_SECRET_KEY="bench-only-secret-0123456789abcdef0123456789abcdef",
        JWT_ACCESS_TOKEN_EXPIRES="86400",
        REQUEST_LOG_ENABLED="true" if logging else "false",
        WEB_CONCURRENCY=str(WORKERS),
        GUNICORN_LOG_LEVEL="warning",
    )
    return env


def check_services() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as exc:
        raise BenchError(f"Redis at {REDIS_URL} is not reachable: {exc}") from None
    try:
        pg_settings()
    except Exception as exc:  # noqa: BLE001 - any failure here means "not usable"
        raise BenchError(f"PostgreSQL on 127.0.0.1:5432 is not reachable: {exc}") from None


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


def setup_user(env: dict[str, str], log_path: Path) -> str:
    """Create the bench user, and check that the limiter really runs on Redis."""
    server = Gunicorn(env=env, port=free_port(), workers=WORKERS, log_path=log_path)
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
            if resp.status != 201 or resp.headers.get("X-RateLimit-Limit") != "10000000":
                raise BenchError("POST /track is not rate limited as configured")
    finally:
        server.stop()
    return token


def measure(
    config: Config, round_no: int, args: argparse.Namespace, token: str, log_path: Path
) -> Run:
    env = server_env(logging=config.logging, key_prefix=args.key_prefix)
    before = row_counts(PSYCOPG_DSN)
    server = Gunicorn(env=env, port=free_port(), workers=WORKERS, log_path=log_path)
    server.start()
    problems: list[str] = []
    try:
        url = server.base_url + config.path

        def wrk(seconds: float) -> list[str]:
            return wrk_command(
                url,
                threads=args.threads,
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
        if rows.events != rows.logs_track_201:
            problems.append(f"{rows.events} events stored, {rows.logs_track_201} 201s logged")
    elif rows.events:
        problems.append(f"analytics_events +{rows.events} during a GET run")
    return problems


# -- report -------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in cpuinfo.splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    pg = pg_settings()
    redis_version = redis.Redis.from_url(REDIS_URL).info("server")["redis_version"]
    gunicorn_version = subprocess.run(
        [str(VENV_BIN / "gunicorn"), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": model,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": pg["server_version"],
        "pg_fsync": pg["fsync"],
        "pg_synchronous_commit": pg["synchronous_commit"],
        "redis": redis_version,
        "gunicorn": gunicorn_version,
        "wrk": (wrk_version.stdout or wrk_version.stderr).splitlines()[0],
        "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
    }


def summarize(runs: list[Run]) -> dict[str, dict[str, float]]:
    summary = {}
    for config in CONFIGS:
        mine = [r for r in runs if r.config == config.name]
        summary[config.name] = {
            "rps": statistics.median(r.rps for r in mine),
            "rps_min": min(r.rps for r in mine),
            "rps_max": max(r.rps for r in mine),
            "worker_cpu_ms": statistics.median(r.worker_cpu_ms for r in mine),
            "pg_cpu_ms": statistics.median(r.pg_cpu_ms for r in mine),
            "latency_ms": statistics.median(r.latency_avg_ms for r in mine),
            "requests": sum(r.requests for r in mine),
        }
    return summary


def paired(runs: list[Run], top: str, bottom: str, attr: str) -> float:
    """Median over rounds of the ratio within each round (drift cancels out)."""
    rounds = sorted({r.round for r in runs})
    by = {(r.config, r.round): getattr(r, attr) for r in runs}
    return statistics.median(by[(top, n)] / by[(bottom, n)] for n in rounds)


def ratios(runs: list[Run], s: dict[str, dict[str, float]]) -> dict[str, float]:
    return {
        "track_vs_baseline_rps": s["track"]["rps"] / s["baseline"]["rps"],
        "track_vs_baseline_rps_paired": paired(runs, "track", "baseline", "rps"),
        "track_vs_baseline_cpu": s["track"]["worker_cpu_ms"] / s["baseline"]["worker_cpu_ms"],
        "logging_cost_rps": 1 - s["baseline"]["rps"] / s["nolog"]["rps"],
        "logging_cost_rps_paired": 1 - paired(runs, "baseline", "nolog", "rps"),
        "logging_cost_cpu": s["baseline"]["worker_cpu_ms"] / s["nolog"]["worker_cpu_ms"] - 1,
        "logging_cost_cpu_paired": paired(runs, "baseline", "nolog", "worker_cpu_ms") - 1,
    }


def print_report(info: dict[str, Any], args: argparse.Namespace, runs: list[Run]) -> bool:
    s = summarize(runs)
    r = ratios(runs, s)
    print("\n== machine")
    for key, value in info.items():
        print(f"  {key:22} {value}")
    print("\n== command")
    print(f"  cd {ROOT} && .venv/bin/python bench/run.py {shlex.join(sys.argv[1:])}")
    print(f"  server: cd backend && {shlex.join(gunicorn_command(0, WORKERS))}  (per run)")
    example = wrk_command(
        "http://127.0.0.1:PORT/api/v2/analytics/track",
        threads=args.threads,
        connections=args.connections,
        duration=args.duration,
        token="$TOKEN",
        script=TRACK_LUA.relative_to(ROOT),
    )
    print(f"  load:   {shlex.join(example)}")
    print(f"\n== per run ({args.duration:g}s each after {args.warmup:g}s warm-up)")
    for run in runs:
        flag = "  PROBLEM: " + "; ".join(run.problems) if run.problems else ""
        print(
            f"  round {run.round} {run.config:9} {run.rps:8.0f} req/s"
            f"  {run.worker_cpu_ms:6.3f} ms CPU/req  pg {run.pg_cpu_ms:6.3f}{flag}"
        )
    print(f"\n== medians of {args.rounds} interleaved rounds")
    print(
        f"  {'config':10} {'req/s':>8} {'(min..max)':>15} {'worker CPU ms/req':>18}"
        f" {'pg CPU ms/req':>14} {'latency ms':>11}"
    )
    for name, v in s.items():
        span = f"{v['rps_min']:.0f}..{v['rps_max']:.0f}"
        print(
            f"  {name:10} {v['rps']:8.0f} {span:>15} {v['worker_cpu_ms']:18.3f}"
            f" {v['pg_cpu_ms']:14.3f} {v['latency_ms']:11.2f}"
        )
    track_ok = r["track_vs_baseline_rps"] >= TARGET_TRACK_RATIO
    log_ok = r["logging_cost_rps"] <= TARGET_LOGGING_COST
    print("\n== ratios")
    print(
        f"  /track vs baseline, req/s:       {r['track_vs_baseline_rps']:.2f}x "
        f"(paired {r['track_vs_baseline_rps_paired']:.2f}x)  target >= {TARGET_TRACK_RATIO}x"
        f"  {'PASS' if track_ok else 'FAIL'}"
    )
    print(f"  /track vs baseline, CPU/req:     {r['track_vs_baseline_cpu']:.2f}x")
    print(
        f"  request logging cost, req/s:     {r['logging_cost_rps']:+.1%} "
        f"(paired {r['logging_cost_rps_paired']:+.1%})  target <= {TARGET_LOGGING_COST:.0%}"
        f"  {'PASS' if log_ok else 'FAIL'}"
    )
    print(
        f"  request logging cost, CPU/req:   {r['logging_cost_cpu']:+.1%} "
        f"(paired {r['logging_cost_cpu_paired']:+.1%})"
    )
    problems = [p for run in runs for p in run.problems]
    print("\n== checks")
    if problems:
        print(f"  {len(problems)} PROBLEM(S): see the per-run lines above")
    else:
        print("  every response 2xx; events stored == 201s (server side, exact) and within the")
        print("  requests wrk saw answered (+ at most one in flight per connection); one")
        print("  request_logs row per request with logging on (written by the worker_exit")
        print("  flush at the graceful stop), none with it off")
    print(f"  loadavg at end: {Path('/proc/loadavg').read_text().split()[:3]}")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "machine": info,
                    "argv": sys.argv[1:],
                    "summary": s,
                    "ratios": r,
                    "runs": [asdict(run) for run in runs],
                },
                indent=2,
            )
        )
        print(f"  results written to {args.json}")
    return not problems


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--duration", type=float, default=10, help="seconds per run (10)")
    parser.add_argument("--warmup", type=float, default=2, help="warm-up seconds per run (2)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (8)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 1 round of 3 s, 1 s warm-up"
    )
    parser.add_argument("--json", help="also write every figure to this JSON file")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.duration, args.warmup = 1, 3, 1
    args.key_prefix = f"bench-{os.getpid()}-{int(time.time())}"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        require_wrk()
        check_services()
        info = machine_info()
        reset_database(DATABASE)
        migrate()
        log_dir = Path(tempfile.mkdtemp(prefix="challenge-bench-"))
        log_path = log_dir / "gunicorn.log"
        print(f"gunicorn output: {log_path}", flush=True)
        token = setup_user(server_env(logging=True, key_prefix=args.key_prefix), log_path)
        runs = []
        for round_no in range(1, args.rounds + 1):
            for config in CONFIGS:
                run = measure(config, round_no, args, token, log_path)
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
    return 0 if print_report(info, args, runs) else 1


if __name__ == "__main__":
    sys.exit(main())
