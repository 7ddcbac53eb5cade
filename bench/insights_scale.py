"""Insights at scale: each report through the HTTP layer, next to a plain SQL scan of the
same question on the same data, against the targets of issue 4.

Run from the repository root: `.venv/bin/python bench/insights_scale.py` (10M events,
50k users, 90 days, 5M request logs in the last 7 days), or scaled down for a smoke run:
`.venv/bin/python bench/insights_scale.py --events 200000 --users 2000 --logs 100000`.
Needs PostgreSQL on 127.0.0.1 (user postgres, trust auth).

It drops and recreates the database challenge_scale (unless --reuse), migrates it and fills
it with `flask analytics generate`, with no manual ANALYZE: the generator and the rollup
folds keep the planner's statistics fresh themselves (autovacuum may be off here; issue
12). Then, warm, for each report: one untimed call (it may fold rollups), then the median
of --repeat timed calls through the Flask test client with an admin token; and the same
for its plain SQL, run with psycopg in this process on the same database. A report that
fails (timeout, 500) is shown as such.

With `--store chdb:///path` the reports are also read from embedded ClickHouse: the bench
ships the database's rows there with `flask analytics ship` (the path is the bench's own:
without --reuse it is deleted first), then makes `--copies` - 1 more copies of them inside
ClickHouse (bench/chdb_fill.py: 10 copies of 10M generated events are 100M events). Each
report is then timed through the API on chDB and on the app database (PostgreSQL, its
rollups), against the targets of issue 17 at 100M events; the plain SQL runs once, for its
answer, which chDB's must equal times `--copies` (the app database's: exactly).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from chdb_fill import fill
from harness import BACKEND, ROOT, VENV_BIN, BenchError, pg_settings, reset_database
from scale_reference import FUNNEL, LATENCIES_SQL, PLAIN_SQL, same_answer, same_latencies

DATABASE = "challenge_scale"
SECRET = "bench-only-secret-0123456789abcdef0123456789abcdef"
ADMIN_EMAIL = "bench-admin@example.com"
TARGETS_MS = {
    "trends": 50,
    "active_users": 50,
    "challenge_progress": 200,
    "funnel": 1000,
    # attempt=best tries every step-1 event and sorts the steps' events per user (heap
    # reads for their ids): a few seconds at 10M events (funnel_paths.best_attempt).
    "funnel_best": 5000,
    "retention": 500,
    "api_health": 500,
}
# Issue 17, at 100M events in ClickHouse: every report within 1 s, 30-day trends and DAU
# within 100 ms.
STORE_TARGETS_MS = dict.fromkeys(TARGETS_MS, 1000) | {"trends": 100, "active_users": 100}
# Reports ClickHouse does not serve: they read the app database in either app.
NOT_IN_STORE = frozenset({"challenge_progress"})


@dataclass
class Figure:
    """One report: the API's and the plain scan's timings (ms), and whether they agree."""

    report: str
    target_ms: float
    ours_ms: float | None = None
    plain_ms: float | None = None
    ours_first_ms: float | None = None
    plain_first_ms: float | None = None
    ours_runs: list[float] = field(default_factory=list)
    plain_runs: list[float] = field(default_factory=list)
    same_answer: bool | None = None
    error: str | None = None
    # --store: the same report read from ClickHouse, its answer against the plain scan's
    store_ms: float | None = None
    store_first_ms: float | None = None
    store_runs: list[float] = field(default_factory=list)
    store_same_answer: bool | None = None
    store_serves: bool | None = None

    @property
    def passed(self) -> bool:
        timed = self.ours_ms if self.store_serves is None else self.store_ms
        return self.error is None and timed is not None and timed <= self.target_ms


@dataclass(frozen=True)
class Dates:
    """The days every report asks about (UTC), fixed once so API and SQL ask the same."""

    today: datetime

    def day(self, back: int) -> str:
        return (self.today - timedelta(days=back)).date().isoformat()

    def midnight(self, back: int) -> datetime:
        return self.today - timedelta(days=back)


def requests(dates: Dates, challenge_id: int) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """Per report: method, path with query, JSON body (funnels are POSTed)."""
    last30 = f"from={dates.day(29)}&to={dates.day(0)}&tz=UTC"
    return {
        "trends": ("GET", f"/trends?event_type=plan_viewed&event_type=plan_completed"
                          f"&interval=day&{last30}", {}),
        "active_users": ("GET", f"/active-users?{last30}", {}),
        "challenge_progress": ("GET", f"/challenge-progress?challenge_id={challenge_id}"
                                      f"&from={dates.day(89)}&to={dates.day(0)}&tz=UTC", {}),
        "funnel": ("POST", f"/funnels?{last30}",
                   {"steps": [{"event_type": t} for t in FUNNEL], "window_days": 14}),
        "funnel_best": ("POST", f"/funnels?{last30}",
                        {"steps": [{"event_type": t} for t in FUNNEL], "window_days": 14,
                         "attempt": "best"}),
        # 30 cohorts a month back, so that every one of the 30 x 30 cells is reachable.
        "retention": ("GET", f"/retention?start_event=app_opened&return_event=app_opened"
                             f"&period=day&periods=30&from={dates.day(59)}&to={dates.day(30)}"
                             f"&tz=UTC", {}),
        "api_health": ("GET", f"/api-health?from={dates.day(6)}&to={dates.day(0)}&tz=UTC", {}),
    }


def sql_params(dates: Dates, challenge_id: int) -> dict[str, Any]:
    return {
        "start30": dates.midnight(29), "end": dates.midnight(-1), "start7": dates.midnight(6),
        "first30": dates.day(29), "last": dates.day(0), "first90": dates.day(89),
        "cohort_first": dates.day(59), "cohort_last": dates.day(30), "challenge": challenge_id,
    }


def timed(call: Callable[[], Any], repeat: int) -> tuple[float, list[float], Any]:
    """One untimed-for-the-median warm-up call, then `repeat` timed ones: (first ms, runs
    ms, the last result); with repeat 0 the first call is the only run."""
    start = time.perf_counter()
    result = call()
    first = (time.perf_counter() - start) * 1000
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = call()
        runs.append((time.perf_counter() - start) * 1000)
    return first, runs or [first], result


def measure(name: str, app_call: Callable[[], Any], plain_call: Callable[[], Any],
            repeat: int, store_call: Callable[[], Any] | None = None,
            copies: int = 1, latencies_call: Callable[[], Any] | None = None) -> Figure:
    """Time the app (and, with a store, the app on the store; the plain scan then once)."""
    targets = TARGETS_MS if store_call is None else STORE_TARGETS_MS
    figure = Figure(name, targets[name])
    stored = None
    if store_call is not None:
        figure.store_serves = name not in NOT_IN_STORE
        try:
            figure.store_first_ms, figure.store_runs, stored = timed(store_call, repeat)
            figure.store_ms = statistics.median(figure.store_runs)
        except BenchError as exc:
            figure.error = f"store: {exc}"
    try:
        figure.ours_first_ms, figure.ours_runs, ours = timed(app_call, repeat)
        figure.ours_ms = statistics.median(figure.ours_runs)
    except BenchError as exc:
        figure.error, ours = ((figure.error or "") + f" {exc}").strip(), None
    try:
        plain_repeat = repeat if store_call is None else 0
        figure.plain_first_ms, figure.plain_runs, plain = timed(plain_call, plain_repeat)
        figure.plain_ms = statistics.median(figure.plain_runs)
    except psycopg.Error as exc:
        figure.error = ((figure.error or "") + f" plain SQL failed: {exc}").strip()
        plain = None
    if ours is not None and plain is not None:
        figure.same_answer = same_answer(name, ours, plain)
    if stored is not None and name == "api_health" and copies > 1 and latencies_call:
        figure.store_same_answer = same_latencies(stored, latencies_call(), copies)
    elif stored is not None and plain is not None:
        figure.store_same_answer = same_answer(
            name, stored, plain, copies if figure.store_serves else 1)
    return figure


def make_app(dsn: str, timeout: str, store: str = "app") -> Any:
    from app import create_app

    return create_app({
        "SQLALCHEMY_DATABASE_URI": dsn.replace("postgresql://", "postgresql+psycopg://", 1),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "connect_args": {"options": timeout}},
        "JWT_SECRET_KEY": SECRET,
        "JWT_ACCESS_TOKEN_EXPIRES": 7 * 86400,
        "REQUEST_LOG_ENABLED": False,  # the bench's own calls stay out of request_logs
        "ANALYTICS_STORE": store,
    })


def caller(client: Any, headers: dict[str, str], method: str, path: str,
           body: dict[str, Any]) -> Callable[[], Any]:
    def call() -> Any:
        send = client.post if method == "POST" else client.get
        response = send(f"/api/v2/insights{path}", json=body or None, headers=headers)
        if response.status_code != 200:
            raise BenchError(f"{method} {path} -> {response.status_code}: "
                             f"{response.get_data(as_text=True)[:300]}")
        return response.get_json()
    return call


def run_reports(args: argparse.Namespace, dsn: str, store_app: Any = None) -> list[Figure]:
    from app.extensions import db
    from app.models import Challenge
    from app.services.auth import service as auth_service

    timeout = f"-c statement_timeout={int(args.timeout * 1000)}"
    app = make_app(dsn, timeout)
    with app.app_context():
        admin = auth_service.get_by_email(email=ADMIN_EMAIL) or auth_service.set_admin(
            email=ADMIN_EMAIL, password="bench-admin-password", display_name="Bench admin")
        admin.is_internal = True
        db.session.commit()
        token = auth_service.issue_access_token(user=admin)["access_token"]
        challenge_id = db.session.query(Challenge.id).filter(
            Challenge.slug == "generated-30-day-fitness").scalar()
    if challenge_id is None:
        raise BenchError("no generated challenge: run without --reuse to generate the data")
    client = app.test_client()
    store_client = None if store_app is None else store_app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    dates = Dates(datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0))
    calls, params = requests(dates, challenge_id), sql_params(dates, challenge_id)
    plain = psycopg.connect(dsn, autocommit=True, options=timeout)
    plain.execute("SET TIME ZONE 'UTC'")
    figures = []
    for name in TARGETS_MS:
        if args.only and name != args.only:
            continue
        method, path, body = calls[name]

        def plain_call(sql: str = PLAIN_SQL[name]) -> list[tuple[Any, ...]]:
            return plain.execute(sql, params).fetchall()

        store_call = (None if store_client is None
                      else caller(store_client, headers, method, path, body))
        figure = measure(name, caller(client, headers, method, path, body), plain_call,
                         args.repeat, store_call, args.copies,
                         lambda: plain.execute(LATENCIES_SQL, params).fetchall())
        print(f"  {name:19}" + ("" if store_call is None else f" store {_ms(figure.store_ms):>9}")
              + f" ours {_ms(figure.ours_ms):>9}  plain {_ms(figure.plain_ms):>9}"
              + (f"  ERROR {figure.error}" if figure.error else ""), flush=True)
        figures.append(figure)
    plain.close()
    return figures


def flask_env(dsn: str, store: str = "app") -> dict[str, str]:
    env = dict(os.environ, FLASK_APP="app", JWT_SECRET_KEY=SECRET, ANALYTICS_STORE=store,
               DATABASE_URL=dsn.replace("postgresql://", "postgresql+psycopg://", 1))
    env.pop("INSIGHTS_DATABASE_URL", None)
    return env


def generate(args: argparse.Namespace, dsn: str) -> dict[str, float]:
    """Recreate, migrate and fill the database; seconds per step."""
    env = flask_env(dsn)
    seconds = {}
    start = time.perf_counter()
    reset_database(args.database)
    flask = str(VENV_BIN / "flask")
    proc = subprocess.run([flask, "db", "upgrade"], cwd=BACKEND, env=env, capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        raise BenchError("flask db upgrade failed:\n" + proc.stdout + proc.stderr)
    seconds["migrate"] = time.perf_counter() - start
    command = [flask, "analytics", "generate", "--users", str(args.users), "--events",
               str(args.events), "--days", str(args.days), "--request-logs", str(args.logs),
               "--log-days", str(args.log_days), "--seed", str(args.seed)]
    print("$ " + shlex.join(["flask", *command[1:]]), flush=True)
    start = time.perf_counter()
    if subprocess.run(command, cwd=BACKEND, env=env, check=False).returncode != 0:
        raise BenchError("flask analytics generate failed")
    seconds["generate"] = time.perf_counter() - start
    return seconds


def build_rollups(dsn: str) -> float:
    """`flask analytics rollup --tz UTC`, as an operator runs it after a bulk load: the
    reports are then measured warm, not while folding 10 million rows."""
    env = flask_env(dsn)
    print("$ flask db upgrade && flask analytics rollup --tz UTC", flush=True)
    start = time.perf_counter()
    for command in (["db", "upgrade"], ["analytics", "rollup", "--tz", "UTC"]):
        proc = subprocess.run([str(VENV_BIN / "flask"), *command], cwd=BACKEND, env=env,
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise BenchError(f"flask {' '.join(command)} failed:\n" + proc.stdout + proc.stderr)
        print(proc.stdout.rstrip(), flush=True)
    return time.perf_counter() - start


def ship(dsn: str, store: str) -> float:
    """`flask analytics ship` into the store, in its own process (chDB locks its directory
    to one process: this one opens it only afterwards); seconds."""
    print(f"$ ANALYTICS_STORE={store} flask analytics ship --chunk 100000", flush=True)
    start = time.perf_counter()
    proc = subprocess.run([str(VENV_BIN / "flask"), "analytics", "ship", "--chunk", "100000"],
                          cwd=BACKEND, env=flask_env(dsn, store), capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        raise BenchError("flask analytics ship failed:\n" + proc.stdout + proc.stderr)
    print(proc.stdout.rstrip(), flush=True)
    return time.perf_counter() - start


def open_store(args: argparse.Namespace, dsn: str, seconds: dict[str, float]) -> Any:
    """The app on the store, filled to --copies copies (and merged: OPTIMIZE FINAL, as
    background merges leave a table that has stopped growing)."""
    from app.services.analytics_store import schema, store
    from app.services.analytics_store.client import table

    app = make_app(dsn, f"-c statement_timeout={int(args.timeout * 1000)}", args.store)
    with app.app_context():
        client = store.client()
        columns = {table(client.spec, "events"): schema.EVENT_COLUMNS,
                   table(client.spec, "request_logs"): schema.LOG_COLUMNS}
        print(f"$ fill to {args.copies} copies (bench/chdb_fill.py)", flush=True)
        with psycopg.connect(dsn) as conn:
            links = dict(conn.execute(
                "SELECT anonymous_id, user_id FROM anonymous_identities").fetchall())
        for name, spent in fill(client, copies=args.copies, columns=columns,
                                links=links).items():
            seconds[f"fill {name}"] = spent
        for name in columns:
            start = time.perf_counter()
            client.command(f"OPTIMIZE TABLE {name} FINAL")
            seconds[f"optimize {name}"] = time.perf_counter() - start
            print(f"  OPTIMIZE TABLE {name} FINAL: {seconds[f'optimize {name}']:.1f} s",
                  flush=True)
    return app


def store_info(app: Any, path: str) -> dict[str, Any]:
    from app.services.analytics_store import store

    with app.app_context():
        client = store.client()
        rows = client.query(
            "SELECT table, sum(rows), sum(bytes_on_disk), count() FROM system.parts"
            " WHERE active AND database = {db:String} GROUP BY table ORDER BY table",
            {"db": client.spec.database})
    du = subprocess.run(["du", "-sh", path], capture_output=True, text=True, check=False)
    return {"store_tables": {t: {"rows": int(n), "bytes": int(b), "parts": int(p)}
                             for t, n, b, p in rows},
            "store_du": du.stdout.split("\t")[0]}


def machine(dsn: str) -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                  if line.startswith("model name")), platform.processor())
    with psycopg.connect(dsn) as conn:
        settings = dict(conn.execute(
            "SELECT name, current_setting(name) FROM pg_settings WHERE name IN "
            "('shared_buffers', 'work_mem', 'effective_cache_size', 'jit', 'autovacuum', "
            "'max_parallel_workers_per_gather')").fetchall())
        sizes = {t: conn.execute(  # with indexes, and partitions for request_logs
            "SELECT pg_size_pretty(coalesce((SELECT sum(pg_total_relation_size(relid)) "
            "FROM pg_partition_tree(%s)), pg_total_relation_size(%s)))",
            (t, t)).fetchone()[0] for t in ("analytics_events", "request_logs", "completions")}
        rows = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
                for t in ("users", "analytics_events", "request_logs", "completions")}
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": model,
        "memory_gib": round(int(Path("/proc/meminfo").read_text().split()[1]) / 1024**2, 1),
        "python": platform.python_version(),
        "postgresql": pg_settings()["server_version"],
        "pg_settings": settings,
        "table_sizes": sizes,
        "rows": rows,
        "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} ms"


def print_store_table(figures: list[Figure], repeat: int, copies: int) -> None:
    print(f"\n== warm: median of {repeat} calls after one untimed call; the store holds"
          f" {copies} copies of the app database's rows")
    print(f"  {'report':19} {'store':>11} {'app database':>13} {'target':>9}  {'':4}"
          f" {'store first':>11}  {'plain SQL (once)':>16}  same answer (store, app)")
    same = {True: "yes", False: "DIFFERS", None: "-"}
    for f in figures:
        note = "" if f.store_serves else "  (not served by the store: app database)"
        print(f"  {f.report:19} {_ms(f.store_ms):>11} {_ms(f.ours_ms):>13}"
              f" {f.target_ms:>6.0f} ms  {'PASS' if f.passed else 'FAIL'}"
              f" {_ms(f.store_first_ms):>11}  {_ms(f.plain_ms):>16}"
              f"  {same[f.store_same_answer]}, {same[f.same_answer]}{note}")
        if f.error:
            print(f"    error: {f.error}")


def print_table(figures: list[Figure], repeat: int) -> None:
    print(f"\n== warm: median of {repeat} calls after one untimed call")
    print(f"  {'report':19} {'ours':>11} {'plain SQL':>11} {'plain/ours':>10} {'target':>9}"
          f"  {'':4} {'first call':>11}  same answer")
    for f in figures:
        ratio = f"{f.plain_ms / f.ours_ms:.1f}x" if f.ours_ms and f.plain_ms else "-"
        same = {True: "yes", False: "DIFFERS", None: "-"}[f.same_answer]
        verdict = "PASS" if f.passed else "FAIL"
        print(f"  {f.report:19} {_ms(f.ours_ms):>11} {_ms(f.plain_ms):>11} {ratio:>10}"
              f" {f.target_ms:>6.0f} ms  {verdict}  {_ms(f.ours_first_ms):>11}  {same}")
        if f.error:
            print(f"    error: {f.error}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--logs", type=int, default=5_000_000, help="request logs")
    parser.add_argument("--log-days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5, help="timed calls per report (5)")
    parser.add_argument("--timeout", type=float, default=120, help="statement timeout, s")
    parser.add_argument("--only", choices=list(TARGETS_MS), help="run one report")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the database's data (and the store's)")
    parser.add_argument("--database", default=DATABASE, help=f"PostgreSQL database ({DATABASE})")
    parser.add_argument("--store", default="app",
                        help="also read the reports from chdb:///path (the bench's own dir)")
    parser.add_argument("--copies", type=int, default=1,
                        help="with --store: copies of the shipped rows in the store (1)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    dsn = f"postgresql://postgres@127.0.0.1:5432/{args.database}"
    sys.path.insert(0, str(BACKEND))
    path = store_path(args)
    try:
        pg_settings()
        if path and not args.reuse:
            shutil.rmtree(path, ignore_errors=True)
        seconds = {} if args.reuse else generate(args, dsn)
        seconds["rollup_build"] = build_rollups(dsn)
        store_app = None
        if path:
            seconds["ship"] = ship(dsn, args.store)
            store_app = open_store(args, dsn, seconds)
        info = machine(dsn)
        if store_app is not None:
            info |= store_info(store_app, path)
            print(f"\n== store: {info['store_tables']}, {info['store_du']} on disk", flush=True)
        print(f"\n== reports on {info['rows']}", flush=True)
        figures = run_reports(args, dsn, store_app)
    except (BenchError, psycopg.OperationalError) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    command = f"cd {ROOT} && .venv/bin/python bench/insights_scale.py {shlex.join(sys.argv[1:])}"
    print("\n== machine")
    for key in ("nproc", "cpu", "postgresql", "pg_settings", "table_sizes", "loadavg_start",
                "store_tables", "store_du"):
        if key in info:
            print(f"  {key:15} {info[key]}")
    print(f"  loadavg end     {Path('/proc/loadavg').read_text().split()[:3]}")
    print(f"\n== command\n  {command.rstrip()}")
    if seconds:
        print("  " + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()))
    if path:
        print_store_table(figures, args.repeat, args.copies)
    else:
        print_table(figures, args.repeat)
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"machine": info, "command": command, "argv": sys.argv[1:], "seconds": seconds,
             "figures": [asdict(f) | {"passed": f.passed} for f in figures]},
            indent=2, default=str))
        print(f"\nresults written to {args.json}")
    return 0 if all(f.passed for f in figures) else 1


def store_path(args: argparse.Namespace) -> str:
    """The chDB directory --store names ("" for none); BenchError for anything else."""
    if args.store == "app":
        if args.copies != 1:
            raise SystemExit("--copies needs --store chdb:///path")
        return ""
    from urllib.parse import urlsplit

    parts = urlsplit(args.store)
    if parts.scheme != "chdb" or parts.netloc or not parts.path.startswith("/"):
        raise SystemExit("--store: chdb:///absolute/path (a ClickHouse server is not benched)")
    if args.copies < 1:
        raise SystemExit("--copies: at least 1")
    return parts.path


if __name__ == "__main__":
    sys.exit(main())
