"""The benchmark's figures: per-run results, medians, ratios, and the printed report."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis
from harness import VENV_BIN, pg_settings

TARGET_ME_RATIO = 0.60  # GET /auth/me vs bare (issue 14)
TARGET_TRACK_RATIO = 0.40  # POST /track vs bare
TARGET_LOGGING_COST = 0.05  # on requests/s and on worker CPU per request


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
    flushed_at_exit: int  # rows the worker_exit hooks wrote (queued when the workers stopped)
    problems: list[str] = field(default_factory=list)


def machine_info(redis_url: str) -> dict[str, Any]:
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
    redis_version = redis.Redis.from_url(redis_url).info("server")["redis_version"]
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
    for name in dict.fromkeys(r.config for r in runs):
        mine = [r for r in runs if r.config == name]
        summary[name] = {
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
        "me_vs_bare_rps": s["me"]["rps"] / s["bare"]["rps"],
        "me_vs_bare_rps_paired": paired(runs, "me", "bare", "rps"),
        "me_vs_bare_cpu": s["me"]["worker_cpu_ms"] / s["bare"]["worker_cpu_ms"],
        "track_vs_bare_rps": s["track"]["rps"] / s["bare"]["rps"],
        "track_vs_bare_rps_paired": paired(runs, "track", "bare", "rps"),
        "track_vs_bare_cpu": s["track"]["worker_cpu_ms"] / s["bare"]["worker_cpu_ms"],
        "track_vs_me_rps": s["track"]["rps"] / s["me"]["rps"],
        "floor_vs_bare_rps": s["floor"]["rps"] / s["bare"]["rps"],
        "floor_vs_bare_rps_paired": paired(runs, "floor", "bare", "rps"),
        "floor_vs_bare_cpu": s["floor"]["worker_cpu_ms"] / s["bare"]["worker_cpu_ms"],
        "track_vs_floor_rps": s["track"]["rps"] / s["floor"]["rps"],
        "track_vs_floor_rps_paired": paired(runs, "track", "floor", "rps"),
        "logging_cost_rps": 1 - s["me"]["rps"] / s["nolog"]["rps"],
        "logging_cost_rps_paired": 1 - paired(runs, "me", "nolog", "rps"),
        "logging_cost_cpu": s["me"]["worker_cpu_ms"] / s["nolog"]["worker_cpu_ms"] - 1,
        "logging_cost_cpu_paired": paired(runs, "me", "nolog", "worker_cpu_ms") - 1,
    }


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def print_report(
    info: dict[str, Any], args: argparse.Namespace, runs: list[Run], commands: list[str]
) -> bool:
    s = summarize(runs)
    r = ratios(runs, s)
    print("\n== machine")
    for key, value in info.items():
        print(f"  {key:22} {value}")
    print("\n== command")
    for line in commands:
        print("  " + line)
    print(f"\n== per run ({args.duration:g}s each after {args.warmup:g}s warm-up)")
    for run in runs:
        flag = "  PROBLEM: " + "; ".join(run.problems) if run.problems else ""
        print(
            f"  round {run.round} {run.config:9} {run.rps:8.0f} req/s"
            f"  {run.worker_cpu_ms:6.3f} ms CPU/req  pg {run.pg_cpu_ms:6.3f}"
            f"  {run.requests + run.warmup_requests} req, {run.flushed_at_exit} flushed at exit"
            f"{flag}"
        )
    model = f"{args.worker_class}, {args.threads} thread(s) per worker"
    print(f"\n== medians of {args.rounds} interleaved rounds ({model})")
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
    me_ok = r["me_vs_bare_rps"] >= TARGET_ME_RATIO
    track_ok = r["track_vs_bare_rps"] >= TARGET_TRACK_RATIO
    log_ok = max(r["logging_cost_rps"], r["logging_cost_cpu"]) <= TARGET_LOGGING_COST
    print("\n== ratios against bare (the headline) and GET /auth/me (second reference)")
    print(
        f"  GET /auth/me vs bare, req/s:     {r['me_vs_bare_rps']:.2f}x "
        f"(paired {r['me_vs_bare_rps_paired']:.2f}x)  target >= {TARGET_ME_RATIO}x"
        f"  {_verdict(me_ok)}   CPU/req {r['me_vs_bare_cpu']:.2f}x"
    )
    print(
        f"  POST /track vs bare, req/s:      {r['track_vs_bare_rps']:.2f}x "
        f"(paired {r['track_vs_bare_rps_paired']:.2f}x)  target >= {TARGET_TRACK_RATIO}x"
        f"  {_verdict(track_ok)}   CPU/req {r['track_vs_bare_cpu']:.2f}x"
    )
    print(f"  POST /track vs GET /auth/me:     {r['track_vs_me_rps']:.2f}x")
    print(
        f"  floor write vs bare, req/s:      {r['floor_vs_bare_rps']:.2f}x "
        f"(paired {r['floor_vs_bare_rps_paired']:.2f}x)  the most a durable, rate-limited"
        f" write reaches here   CPU/req {r['floor_vs_bare_cpu']:.2f}x"
    )
    print(
        f"  POST /track vs floor write:      {r['track_vs_floor_rps']:.2f}x "
        f"(paired {r['track_vs_floor_rps_paired']:.2f}x)"
    )
    print(
        f"  request logging cost, req/s:     {r['logging_cost_rps']:+.1%} "
        f"(paired {r['logging_cost_rps_paired']:+.1%})  target <= {TARGET_LOGGING_COST:.0%}"
        f"  {_verdict(log_ok)}"
    )
    print(
        f"  request logging cost, CPU/req:   {r['logging_cost_cpu']:+.1%} "
        f"(paired {r['logging_cost_cpu_paired']:+.1%})  target <= {TARGET_LOGGING_COST:.0%}"
    )
    print("  batch ingestion over HTTP vs COPY: bench/ingest.py prints it")
    problems = [p for run in runs for p in run.problems]
    print("\n== checks")
    if problems:
        print(f"  {len(problems)} PROBLEM(S): see the per-run lines above")
    else:
        print("  - every response 2xx (warm-up and run); gunicorn stopped cleanly on SIGTERM")
        print("  - /track: analytics_events rows == 201s in request_logs (exact), and within")
        print("    wrk's answered requests + at most one in flight per connection")
        print("  - logging on: request_logs rows == rows the writers report written (exact),")
        print("    within wrk's requests + in-flight; nothing dropped, failed or left queued;")
        print("    each worker's worker_exit hook closed its writer. Logging off: no rows")
        flushed = sum(run.flushed_at_exit for run in runs)
        print(f"  - rows still queued at stop and written by worker_exit: {flushed} in total")
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
