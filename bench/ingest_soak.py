"""The mixed load of bench/ingest.py --soak: plan views, /track and /batch with retries.

Open-loop and rate-limited: several generator processes share the target rate, each
sending on a fixed schedule (a late request goes at once; lateness is reported). Of the
calls, 1 in 1.2 is a batch of 100 events (10% of them a resend of an earlier batch, same
event_ids), the rest plan views (GET /api/v2/plans/today) and /track calls with an
event_id (10% of them resent). Checks, each printed PASS/FAIL: no 5xx; every event
acknowledged (accepted or duplicate) is stored exactly once and nothing else is stored
(counted in PostgreSQL after gunicorn stopped); every resent event is acknowledged as a
duplicate; the workers' RSS grows less than 10% after the warm-up.
"""

from __future__ import annotations

import http.client
import json
import math
import multiprocessing
import os
import random
import resource
import secrets
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import psycopg
from harness import BenchError, Gunicorn, free_port
from ingest_support import PSYCOPG_DSN, batch_body, client_event, iso, server_env, vm_rss_kib

USERS = 8
RESEND = 0.10
MEMORY_GROWTH_LIMIT = 0.10
SAMPLE_EVERY = 5.0
CLIENT_TYPES = ("screen_viewed", "video_progress", "video_started", "video_completed",
                "app_opened")  # what ingest_support.client_event sends


def _call(conn: http.client.HTTPConnection, method: str, path: str, token: str,
          body: bytes | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    return resp.status, resp.read()


def generator(port: int, tokens: list[str], rate: float, deadline: float, seed: int,
              out_path: str) -> None:
    """One process: `rate` calls per second until deadline; what it saw goes to out_path."""
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    acked: set[str] = set()  # event_ids acknowledged as accepted or duplicate
    unknown: set[str] = set()  # sent, but no answer came back (connection error)
    counts: Counter[str] = Counter()
    problems: list[str] = []
    last_batch: tuple[str, bytes, list[str]] | None = None
    last_track: tuple[str, bytes, str] | None = None
    interval = 1.0 / rate
    next_at = time.monotonic()
    late = 0.0
    latencies: list[float] = []
    while True:
        now = time.monotonic()
        if now >= deadline:
            break
        if next_at > now:
            time.sleep(next_at - now)
        else:
            late = max(late, now - next_at)
        next_at += interval
        token = rng.choice(tokens)
        roll = rng.random() * 1.2
        started = time.perf_counter()
        try:
            if roll < 1.0:
                resend = last_batch is not None and rng.random() < RESEND
                if resend:
                    token, body, ids = last_batch  # type: ignore[misc]
                else:
                    doc = batch_body(rng)
                    body = orjson.dumps(doc)
                    ids = [e["event_id"] for e in doc["events"]]
                kind = "batch_resend" if resend else "batch"
                try:
                    status, raw = _call(conn, "POST", "/api/v2/analytics/batch", token, body)
                except (OSError, http.client.HTTPException):
                    unknown.update(ids)
                    raise
                if status == 200:
                    results = orjson.loads(raw)["results"]
                    for event_id, result in zip(ids, results, strict=True):
                        if result["event_id"] != event_id:
                            problems.append(f"result out of order: {result}")
                        if result["status"] in ("accepted", "duplicate"):
                            acked.add(event_id)
                        want = "duplicate" if resend else "accepted"
                        if result["status"] != want:
                            counts[f"{kind}_event_not_{want}"] += 1
                            if len(problems) < 5:
                                problems.append(f"{kind}: {result}")
                    counts[f"{kind}_events"] += len(ids)
                    last_batch = (token, body, ids)
                else:
                    unknown.update(ids)
            elif roll < 1.1:
                resend = last_track is not None and rng.random() < RESEND
                if resend:
                    token, body, event_id = last_track  # type: ignore[misc]
                else:
                    now_iso = iso(datetime.now(UTC))
                    event = client_event(rng, now_iso)
                    body = orjson.dumps(event | {"sent_at": now_iso})
                    event_id = event["event_id"]
                kind = "track_resend" if resend else "track"
                try:
                    status, raw = _call(conn, "POST", "/api/v2/analytics/track", token, body)
                except (OSError, http.client.HTTPException):
                    unknown.add(event_id)
                    raise
                if status in (200, 201):
                    acked.add(event_id)
                    if orjson.loads(raw).get("duplicate") != resend or status != (
                        200 if resend else 201
                    ):
                        counts[f"{kind}_wrong_answer"] += 1
                    last_track = (token, body, event_id)
                else:
                    unknown.add(event_id)
            else:
                kind = "plan_view"
                status, raw = _call(conn, "GET", "/api/v2/plans/today", token)
            counts[f"{kind}_{status}"] += 1
            counts[f"{status // 100}xx"] += 1
            if status >= 300 and len(problems) < 10:
                problems.append(f"{kind} -> {status}: {raw[:200]!r}")
        except (OSError, http.client.HTTPException) as exc:
            counts["connection_error"] += 1
            if len(problems) < 10:
                problems.append(f"connection error: {exc!r}")
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies.append(time.perf_counter() - started)
    conn.close()
    latencies.sort()
    Path(out_path).write_text(json.dumps({
        "acked": sorted(acked),
        "unknown": sorted(unknown),
        "counts": counts,
        "problems": problems,
        "late_max_s": late,
        "p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else 0,
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)] if latencies else 0,
    }))


def stored_client_events(user_ids: list[int]) -> tuple[int, set[str]]:
    """(rows, distinct event_ids) of the soak users' client events.

    Server-owned events (plan_viewed of the plan views, challenge_joined of the setup) have
    server-made event_ids and are left out.
    """
    with psycopg.connect(PSYCOPG_DSN) as conn:
        rows = conn.execute(
            "SELECT event_id::text FROM analytics_events"
            " WHERE user_id = ANY(%s) AND event_type = ANY(%s)",
            (user_ids, list(CLIENT_TYPES)),
        ).fetchall()
    return len(rows), {r[0] for r in rows}


def user_ids(emails: list[str]) -> list[int]:
    with psycopg.connect(PSYCOPG_DSN) as conn:
        rows = conn.execute("SELECT id FROM users WHERE email = ANY(%s)", (emails,)).fetchall()
    return [r[0] for r in rows]


def run_soak(*, rate: float, seconds: float, workers: int, threads: int, log_dir: Path,
             challenge: Callable[[str, str], int], make_user: Callable[..., str]) -> dict:
    """The mixed load at `rate` events/s in batches; the checks' results (and "ok")."""
    key_prefix = f"isoak-{os.getpid()}-{int(time.time())}"
    server = Gunicorn(env=server_env(key_prefix=key_prefix, workers=workers, threads=threads),
                      port=free_port(), workers=workers, log_path=log_dir / "soak.log")
    server.start()
    run_id = secrets.token_hex(4)
    emails = [f"soak-{run_id}-{n}@example.com" for n in range(USERS)]
    try:
        first = make_user(server.base_url, emails[0])
        demo = challenge(server.base_url, first)
        from ingest_support import api
        api(server.base_url, "POST", f"/api/v2/challenges/{demo}/join", {}, first)
        tokens = [first] + [make_user(server.base_url, e, join=demo) for e in emails[1:]]
        calls = rate / 100 * 1.2  # batch sends (resends included) + 20% other calls
        procs_n = min(16, max(4, math.ceil(calls / 25)))
        print(f"\n== soak: {rate:.0f} events/s in batches ({calls:.0f} calls/s: batches, "
              f"10% resent; plan views; /track), {procs_n} generator processes, "
              f"{seconds:g} s, {workers} workers x {threads} threads", flush=True)
        ctx = multiprocessing.get_context("fork")
        usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.monotonic()
        deadline = start + seconds
        outs = [log_dir / f"soak-gen-{n}.json" for n in range(procs_n)]
        procs = [
            ctx.Process(target=generator, args=(server.port, tokens, calls / procs_n, deadline,
                                                n * 7919 + int(start), str(outs[n])))
            for n in range(procs_n)
        ]
        for proc in procs:
            proc.start()
        pids = list(server.worker_pids)
        samples: list[tuple[float, list[int | None]]] = []
        next_sample = start
        while any(p.is_alive() for p in procs):
            if time.monotonic() >= next_sample:
                samples.append((time.monotonic() - start, [vm_rss_kib(pid) for pid in pids]))
                next_sample += SAMPLE_EVERY
            time.sleep(0.2)
        for proc in procs:
            proc.join()
        usage1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        elapsed = seconds  # every generator stops sending at the deadline
    finally:
        exit_code = server.stop()
    gen_cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    return _check(outs, samples, seconds, elapsed, exit_code, user_ids(emails), gen_cpu, rate)


def _check(outs: list[Path], samples: list, seconds: float, elapsed: float, exit_code: int,
           users: list[int], gen_cpu: float, rate: float) -> dict[str, Any]:
    acked: set[str] = set()
    unknown: set[str] = set()
    counts: Counter[str] = Counter()
    problems: list[str] = []
    late = p99 = 0.0
    for out in outs:
        if not out.exists():
            raise BenchError(f"a generator process died: no {out}")
        data = json.loads(out.read_text())
        acked.update(data["acked"])
        unknown.update(data["unknown"])
        counts.update(data["counts"])
        problems += data["problems"]
        late, p99 = max(late, data["late_max_s"]), max(p99, data["p99_ms"])
    rows, stored = stored_client_events(users)
    checks: dict[str, tuple[bool, str]] = {}
    checks["no 5xx"] = (counts["5xx"] == 0 and counts["connection_error"] == 0,
                        f"5xx {counts['5xx']}, connection errors {counts['connection_error']}, "
                        f"other non-2xx {counts['4xx'] + counts['3xx']}")
    missing = acked - stored
    extra = stored - acked - unknown
    checks["every acknowledged event stored exactly once"] = (
        not missing and not extra and rows == len(stored),
        f"{len(acked)} distinct event_ids acknowledged, {rows} rows / {len(stored)} distinct "
        f"in analytics_events; acknowledged but missing {len(missing)}, stored but never "
        f"acknowledged {len(stored - acked)} (unanswered sends {len(stored - acked - extra)})",
    )
    wrong = sum(v for k, v in counts.items() if "_not_" in k or "wrong_answer" in k)
    checks["retries answered as duplicates, fresh events as accepted"] = (
        wrong == 0 and counts["batch_resend_events"] > 0,
        f"{counts['batch_resend_events']} resent batch events, {counts['track_resend_200']} "
        f"resent /track calls; wrong answers {wrong}",
    )
    warm = min(60.0, seconds / 3)
    growth, detail = _memory_growth(samples, warm)
    checks["worker RSS flat after warm-up"] = (
        growth is not None and growth < MEMORY_GROWTH_LIMIT,
        detail,
    )
    checks["gunicorn stopped cleanly"] = (exit_code == 0, f"exit code {exit_code}")
    batch_events = counts["batch_events"] + counts["batch_resend_events"]
    print(f"  sent: {dict(sorted(counts.items()))}")
    print(f"  batch events/s sent {batch_events / elapsed:.0f} (target {rate:.0f}), "
          f"worst lateness of a send {late:.2f} s, p99 latency {p99:.0f} ms, generator CPU "
          f"{100 * gen_cpu / elapsed:.0f}% of one core")
    for name, (ok, text) in checks.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}: {text}")
    for problem in problems[:10]:
        print(f"  problem seen: {problem}")
    ok = all(ok for ok, _ in checks.values())
    return {
        "ok": ok,
        "checks": {k: {"ok": v[0], "detail": v[1]} for k, v in checks.items()},
        "counts": counts,
        "elapsed": elapsed,
        "batch_events_per_s": batch_events / elapsed,
        "target_events_per_s": rate,
        "late_max_s": late,
        "p99_ms": p99,
        "generator_cpu_pct_of_a_core": 100 * gen_cpu / elapsed,
        "rss_samples": samples,
        "acked": len(acked),
        "rows": rows,
        "distinct_stored": len(stored),
    }


def _memory_growth(samples: list, warm: float) -> tuple[float | None, str]:
    """Largest growth of a worker's RSS from its first sample after warm-up to its last."""
    after = [s for s in samples if s[0] >= warm]
    if len(after) < 2:
        return None, f"too few samples after the {warm:.0f} s warm-up ({len(after)})"
    base, last = after[0][1], after[-1][1]
    if any(v is None for v in base + last):
        return None, "a worker exited during the soak (replaced workers reset their memory)"
    growths = [(b2 - b1) / b1 for b1, b2 in zip(base, last, strict=True)]
    peak = max(max(v for v in s[1] if v is not None) for s in after)
    return max(growths), (
        f"RSS at {after[0][0]:.0f} s {[round(v / 1024, 1) for v in base]} MiB, at "
        f"{after[-1][0]:.0f} s {[round(v / 1024, 1) for v in last]} MiB: largest growth "
        f"{max(growths):+.1%} (limit {MEMORY_GROWTH_LIMIT:.0%}), peak {peak / 1024:.1f} MiB"
    )
