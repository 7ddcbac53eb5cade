"""Batch ingestion through HTTP into PostgreSQL, next to PostgreSQL's own COPY and INSERT rates.

Run from the repository root: `.venv/bin/python bench/ingest.py` (add `--soak` for the
5-minute mixed load). Needs PostgreSQL (postgres, trust auth), Redis and wrk on 127.0.0.1.
It recreates the database `challenge_ibench` and uses Redis database 7 (keys under a
per-run prefix; nothing is flushed).

1. gunicorn (backend/gunicorn.conf.py, sync workers) on the freshly migrated database, the
   rate limits on Redis set high but checked on every call; a user created through the API.
2. wrk (bench/batch.lua) posts 100-event batches of unique, valid client events for a fixed
   time; events/s = rows added to analytics_events, counted after gunicorn stopped, which
   must match the accepted events wrk saw acknowledged (plus at most those in flight).
3. In the same run, PostgreSQL's own COPY of those rows into a scratch table with the same
   columns, indexes and foreign key, and a naive loop of one INSERT + COMMIT per event.
4. --soak: bench/ingest_soak.py, a mixed load at 80% of the measured maximum.

--api v1 measures Segment's /v1/batch instead (issue 15): the same method, with a server
write key created by `flask write-keys create` and bench/v1_batch.lua's SDK-shaped messages
(half for the user's userId, half anonymous, each with an app/os/device context), limited
per write key on Redis (WRITE_KEY_LIMIT) instead of per user.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import resource
import secrets
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import ROOT, BenchError, Gunicorn, backend_pids, free_port, require_wrk, total_cpu
from harness import cpu_delta as cpu_used
from ingest_support import (
    DATABASE,
    REDIS_URL,
    api,
    check_limits_on_redis,
    check_services,
    count_events,
    demo_challenge_id,
    flask,
    machine_busy,
    make_user,
    reference_rates,
    server_env,
)
from report import machine_info

TARGET = 30_000
BENCH = Path(__file__).resolve().parent
# --api: (path, wrk script) of the batch endpoint measured.
APIS = {
    "v2": ("/api/v2/analytics/batch", BENCH / "batch.lua"),
    "v1": ("/v1/batch", BENCH / "v1_batch.lua"),
}


def wrk_cmd(url: str, authorization: str, args: argparse.Namespace, seconds: float) -> list[str]:
    return [
        "wrk", f"-t{args.wrk_threads}", f"-c{args.connections}", f"-d{seconds:g}s",
        "--latency", "-H", f"Authorization: {authorization}", "-s", str(APIS[args.api][1]), url,
    ]


def v1_authorization(base_url: str, token: str) -> tuple[str, str]:
    """(Authorization header of a new server write key, the bench user's id as userId)."""
    created = flask("write-keys", "create", "--source", "server", "--name", "ingest bench")
    key = created.strip().splitlines()[-1]
    user_id = str(api(base_url, "GET", "/api/v2/auth/me", token=token)["id"])
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode(), user_id


def run_wrk(cmd: list[str], prefix: str, user_id: str = "") -> dict[str, float]:
    """wrk's figures, its own CPU time (from getrusage of the finished child) and the ACKs."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False,
                          env=dict(os.environ, IBENCH_PREFIX=prefix, IBENCH_USER_ID=user_id))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise BenchError(f"wrk failed ({proc.returncode}): {proc.stderr or proc.stdout}")
    out = proc.stdout
    done = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)\b", out)
    ack = re.search(r"ACK (\d+) (\d+) (\d+) (\d+)", out)
    latency = re.search(r"Latency\s+([\d.]+)(us|ms|s)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                        out)
    if done is None or ack is None:
        raise BenchError("could not read wrk's output:\n" + out + proc.stderr)
    if "FIRST ERROR" in out:
        print(out[out.index("FIRST ERROR"):].strip(), flush=True)
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0}[done.group(3)]
    lat_scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return {
        "requests": int(done.group(1)),
        "seconds": float(done.group(2)) * scale,
        "accepted": int(ack.group(1)),
        "duplicate": int(ack.group(2)),
        "rejected": int(ack.group(3)),
        "non_200": int(ack.group(4)),
        "socket_errors": sum(map(int, sockets.groups())) if sockets else 0,
        "latency_ms": float(latency.group(1)) * lat_scale[latency.group(2)] if latency else 0.0,
        "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
    }


def measure_max(args: argparse.Namespace, log_dir: Path) -> dict[str, object]:
    key_prefix = f"ibench-{os.getpid()}-{int(time.time())}"
    env = server_env(key_prefix=key_prefix, workers=args.workers, threads=args.threads)
    server = Gunicorn(env=env, port=free_port(), workers=args.workers,
                      log_path=log_dir / "max.log")
    server.start()
    problems: list[str] = []
    try:
        token = make_user(server.base_url, f"max-{secrets.token_hex(4)}@example.com")
        counters = check_limits_on_redis(server.base_url, token, key_prefix)
        print(f"limits counted in Redis by the setup batch: {counters}", flush=True)
        url = server.base_url + APIS[args.api][0]
        authorization, user_id = f"Bearer {token}", ""
        if args.api == "v1":
            authorization, user_id = v1_authorization(server.base_url, token)
        warm = run_wrk(wrk_cmd(url, authorization, args, args.warmup), secrets.token_hex(4),
                       user_id)
        time.sleep(1.0)  # requests wrk left in flight are answered
        _, since_id = count_events()
        pg = backend_pids(DATABASE)
        w0, pg0, m0 = total_cpu(server.worker_pids), total_cpu(pg), machine_busy()
        load0 = Path("/proc/loadavg").read_text().split()[:3]
        result = run_wrk(wrk_cmd(url, authorization, args, args.duration),
                         secrets.token_hex(4), user_id)
        # Backends opened during the run (a gthread worker's thread connects on first use)
        # count whole: all their CPU is from the run.
        pg1 = total_cpu(sorted(set(pg) | set(backend_pids(DATABASE))))
        w1, m1 = total_cpu(server.worker_pids), machine_busy()
    finally:
        exit_code = server.stop()
    stored, _ = count_events(since_id=since_id)  # after gunicorn stopped: nothing in flight
    seconds = result["seconds"]
    in_flight = args.connections * 100
    if exit_code != 0:
        problems.append(f"gunicorn exited with {exit_code}")
    for label, res in (("warm-up", warm), ("run", result)):
        if res["non_200"] or res["socket_errors"] or res["rejected"] or res["duplicate"]:
            problems.append(f"{label}: {res}")
    if not result["accepted"] <= stored <= result["accepted"] + in_flight:
        problems.append(f"rows added {stored}, acknowledged accepted {result['accepted']} "
                        f"(+ at most {in_flight} in flight)")
    cores = len(os.sched_getaffinity(0))
    busy = (m1[0] - m0[0]) / max(m1[1] - m0[1], 1) * 100
    figures = {
        "events_per_s_db": stored / seconds,
        "events_per_s_acked": result["accepted"] / seconds,
        "batches_per_s": result["requests"] / seconds,
        "rows_added": stored,
        "acked": result["accepted"],
        "seconds": seconds,
        "latency_ms": result["latency_ms"],
        "worker_cpu_ms_per_batch": 1000 * cpu_used(w0, w1) / max(result["requests"], 1),
        "pg_cpu_ms_per_batch": 1000 * cpu_used(pg0, pg1) / max(result["requests"], 1),
        "wrk_cpu_pct_of_a_core": 100 * result["cpu_s"] / seconds,
        "machine_busy_pct": busy,
        "cores": cores,
        "loadavg_before_run": load0,
        "since_id": since_id,
        "problems": problems,
    }
    return figures


def print_max(fig: dict, ref, args: argparse.Namespace) -> bool:
    rate = fig["events_per_s_db"]
    print(f"\n== batch ingestion through HTTP ({APIS[args.api][0]}, 100-event batches)")
    print(f"  {rate:10.0f} events/s stored (rows added to analytics_events, counted after "
          f"gunicorn stopped: {fig['rows_added']} in {fig['seconds']:.1f} s)")
    print(f"  {fig['events_per_s_acked']:10.0f} events/s acknowledged as accepted "
          f"({fig['acked']}), {fig['batches_per_s']:.0f} batches/s, "
          f"mean latency {fig['latency_ms']:.1f} ms")
    print(f"  worker CPU {fig['worker_cpu_ms_per_batch']:.2f} ms/batch, PostgreSQL CPU "
          f"{fig['pg_cpu_ms_per_batch']:.2f} ms/batch, wrk {fig['wrk_cpu_pct_of_a_core']:.0f}% "
          f"of one core, machine {fig['machine_busy_pct']:.0f}% busy over {fig['cores']} cores"
          f" (load average before: {' '.join(fig['loadavg_before_run'])})")
    print("== references, same run, same rows")
    print(f"  {ref.copy_rate:10.0f} rows/s PostgreSQL COPY ({ref.copy_rows} rows in "
          f"{ref.copy_seconds:.2f} s, commit included)  HTTP = {rate / ref.copy_rate:.2f}x")
    print(f"  {ref.insert_rate:10.0f} rows/s naive INSERT + COMMIT per event "
          f"({ref.insert_rows} in {ref.insert_seconds:.1f} s)  HTTP = "
          f"{rate / ref.insert_rate:.1f}x")
    ok = rate >= TARGET
    print(f"  target >= {TARGET} events/s through HTTP: {'PASS' if ok else 'FAIL'}")
    for problem in fig["problems"]:
        print(f"  PROBLEM: {problem}")
    if not fig["problems"]:
        print("  check: every response 200, nothing rejected or duplicate, rows added == "
              "acknowledged accepted (+ in flight at wrk's stop): PASS")
    return not fig["problems"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--api", choices=sorted(APIS), default="v2",
                   help="v2: POST /api/v2/analytics/batch (JWT); v1: Segment's /v1/batch "
                   "(write key)")
    p.add_argument("--duration", type=float, default=20, help="measured seconds (20)")
    p.add_argument("--warmup", type=float, default=3, help="warm-up seconds (3)")
    p.add_argument("--workers", type=int, default=5,
                   help="gunicorn workers (5: gunicorn.conf.py's 2 x cores + 1 on 2 cores)")
    p.add_argument("--threads", type=int, default=3,
                   help="threads per worker (3, gunicorn.conf.py's default: gthread, with "
                   "keep-alive; 1: sync workers)")
    p.add_argument("--connections", type=int, default=12, help="wrk connections (12)")
    p.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (1)")
    p.add_argument("--insert-seconds", type=float, default=5, help="naive INSERT loop (5)")
    p.add_argument("--soak", action="store_true", help="then the mixed load at 80%% of max")
    p.add_argument("--soak-seconds", type=float, default=300, help="mixed load seconds (300)")
    p.add_argument("--soak-rate", type=float, help="events/s for the soak (default: 80%% of "
                   "the measured maximum)")
    p.add_argument("--soak-only", action="store_true", help="skip the maximum run "
                   "(needs --soak-rate)")
    p.add_argument("--json", help="also write every figure to this JSON file")
    args = p.parse_args(argv)
    if args.soak_only and not args.soak_rate:
        p.error("--soak-only needs --soak-rate")
    args.soak = args.soak or args.soak_only
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ok = True
    out: dict[str, object] = {"argv": sys.argv[1:]}
    try:
        require_wrk()
        check_services()
        out["machine"] = info = machine_info(REDIS_URL)
        print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()), flush=True)
        from harness import reset_database
        reset_database(DATABASE)
        flask("db", "upgrade")
        flask("seed-demo", "--no-activity")
        log_dir = Path(tempfile.mkdtemp(prefix="challenge-ibench-"))
        print(f"command: cd {ROOT} && .venv/bin/python bench/ingest.py "
              f"{shlex.join(sys.argv[1:])}\ngunicorn output: {log_dir}", flush=True)
        rate = args.soak_rate
        if not args.soak_only:
            fig = measure_max(args, log_dir)
            ref = reference_rates(since_id=fig["since_id"], limit=max(fig["rows_added"], 1),
                                  insert_seconds=args.insert_seconds)
            out["max"] = fig
            out["reference"] = vars(ref) | {"copy_rate": ref.copy_rate,
                                            "insert_rate": ref.insert_rate}
            ok = print_max(fig, ref, args) and ok
            rate = rate or 0.8 * fig["events_per_s_db"]
        if args.soak:
            from ingest_soak import run_soak
            soak = run_soak(rate=rate, seconds=args.soak_seconds, workers=args.workers,
                            threads=args.threads,
                            log_dir=log_dir, challenge=demo_challenge_id, make_user=make_user)
            out["soak"] = soak
            ok = soak["ok"] and ok
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, default=str))
        print(f"results written to {args.json}")
    print(f"loadavg at end: {Path('/proc/loadavg').read_text().split()[:3]}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
