"""The benchmark's parts: gunicorn under test, CPU counters from /proc, wrk, the database."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
BACKEND = ROOT / "backend"
VENV_BIN = ROOT / ".venv" / "bin"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"

WRK_MISSING = (
    "wrk is not installed. Install it with `apt-get install -y wrk` (Debian/Ubuntu, as root), "
    "`brew install wrk` (macOS), or build it from https://github.com/wg/wrk."
)


class BenchError(RuntimeError):
    """The benchmark cannot go on (a service down, a server that does not start)."""


# -- CPU counters -------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process (all its threads), from /proc/<pid>/stat."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields_after_name = raw[raw.rindex(")") + 2 :].split()
    utime, stime = int(fields_after_name[11]), int(fields_after_name[12])
    return (utime + stime) / CLK_TCK


def child_pids(parent: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        if int(raw[raw.rindex(")") + 2 :].split()[1]) == parent:
            children.append(int(entry.name))
    return sorted(children)


def total_cpu(pids: list[int]) -> dict[int, float]:
    return {pid: value for pid in pids if (value := cpu_seconds(pid)) is not None}


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two samples: by the processes present in both, and all of the CPU
    of those that started in between (a process gone before `after` is not seen)."""
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


# -- wrk ----------------------------------------------------------------------------------


@dataclass
class WrkResult:
    requests: int
    seconds: float
    rps: float
    non_2xx: int
    socket_errors: dict[str, int]
    latency_avg_ms: float
    output: str

    @property
    def errors(self) -> int:
        return self.non_2xx + sum(self.socket_errors.values())


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise BenchError(WRK_MISSING)
    return path


def wrk_command(
    url: str,
    *,
    threads: int,
    connections: int,
    duration: float,
    token: str,
    script: Path | None = None,
) -> list[str]:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", "--latency"]
    cmd += ["-H", f"Authorization: Bearer {token}"]
    if script is not None:
        cmd += ["-s", str(script)]
    return [*cmd, url]


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def parse_wrk(output: str) -> WrkResult:
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if done is None or rps is None:
        raise BenchError("could not read wrk's output:\n" + output)
    seconds = float(done.group(2)) * _UNITS_MS[done.group(3)] / 1000.0
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    socket_errors = {}
    if sockets:
        socket_errors = dict(
            zip(("connect", "read", "write", "timeout"), map(int, sockets.groups()), strict=True)
        )
    latency = re.search(r"Latency\s+([\d.]+)(us|ms|s|m)", output)
    latency_ms = float(latency.group(1)) * _UNITS_MS[latency.group(2)] if latency else 0.0
    return WrkResult(
        requests=int(done.group(1)),
        seconds=seconds,
        rps=float(rps.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=socket_errors,
        latency_avg_ms=latency_ms,
        output=output,
    )


def run_wrk(cmd: list[str]) -> WrkResult:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BenchError(f"wrk failed ({proc.returncode}): {proc.stderr or proc.stdout}")
    return parse_wrk(proc.stdout)


# -- gunicorn -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


APP_SPEC = "app:create_app()"
BARE_APP_SPEC = "bare_app:app"  # bench/bare_app.py, found through PYTHONPATH


def gunicorn_command(
    port: int,
    workers: int,
    *,
    app_spec: str = APP_SPEC,
    worker_class: str | None = None,
    threads: int | None = None,
) -> list[str]:
    """backend/gunicorn.conf.py's settings, with the worker model given on the command line
    (which gunicorn applies after the file) when worker_class is set."""
    cmd = [str(VENV_BIN / "gunicorn"), "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}"]
    cmd += ["-w", str(workers)]
    if worker_class is not None:
        cmd += ["-k", worker_class, "--threads", str(threads or 1)]
    return [*cmd, app_spec]


@dataclass
class Gunicorn:
    """One gunicorn master (and its workers) started from backend/ with the given env."""

    env: dict[str, str]
    port: int
    workers: int
    log_path: Path
    app_spec: str = APP_SPEC
    worker_class: str | None = None
    threads: int | None = None
    proc: subprocess.Popen[bytes] | None = None
    worker_pids: list[int] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        log = self.log_path.open("ab")
        env = self.env
        if self.app_spec == BARE_APP_SPEC:
            bench_dir = str(Path(__file__).resolve().parent)
            paths = [bench_dir, env.get("PYTHONPATH", "")]
            env = dict(env, PYTHONPATH=os.pathsep.join(p for p in paths if p))
        command = gunicorn_command(
            self.port,
            self.workers,
            app_spec=self.app_spec,
            worker_class=self.worker_class,
            threads=self.threads,
        )
        self.proc = subprocess.Popen(
            command,
            cwd=BACKEND,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C reaches us, and we stop it gracefully
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"gunicorn exited ({self.proc.returncode}); see {self.log_path}")
            self.worker_pids = child_pids(self.proc.pid)
            if len(self.worker_pids) == self.workers and self._healthy():
                return
            time.sleep(0.1)
        self.stop()
        raise BenchError(f"gunicorn did not become ready in {timeout:g}s; see {self.log_path}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.base_url + "/healthz", timeout=2) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, timeout: float = 45.0) -> int:
        """SIGTERM (gunicorn's graceful shutdown); the exit code, which should be 0."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        return code


_WRITER_CLOSED = re.compile(
    r"worker (\d+): request log writer closed \(queued at exit (\d+), written (\d+), "
    r"dropped (\d+), failed (\d+), (?:spooled \d+, spool dropped \d+, )?left (\d+)\)"
)


@dataclass(frozen=True)
class WriterExit:
    """What one worker's worker_exit hook reported about its request-log writer."""

    pid: int
    queued: int
    written: int
    dropped: int
    failed: int
    left: int


def writer_exits(log_path: Path) -> list[WriterExit]:
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    return [WriterExit(*map(int, m.groups())) for m in _WRITER_CLOSED.finditer(text)]


# -- HTTP API -----------------------------------------------------------------------------


def call_api(base_url: str, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        base_url + path,
        method=method,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise BenchError(f"{method} {path} -> {exc.code}: {exc.read().decode()}") from None


def bench_token(base_url: str) -> str:
    """Register the bench user and log in through the real API."""
    credentials = {"email": "bench@example.com", "password": "bench-password-123"}
    call_api(
        base_url,
        "POST",
        "/api/v2/auth/register",
        {**credentials, "display_name": "Bench", "timezone": "UTC"},
    )
    return call_api(base_url, "POST", "/api/v2/auth/login", credentials)["access_token"]


# -- PostgreSQL ---------------------------------------------------------------------------


def reset_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def pg_settings() -> dict[str, str]:
    with psycopg.connect(PG_ADMIN) as conn:
        rows = conn.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('server_version', 'fsync', 'synchronous_commit', 'max_connections')"
        ).fetchall()
    return dict(rows)


def backend_pids(database: str) -> list[int]:
    """PostgreSQL server processes serving connections to the database."""
    with psycopg.connect(PG_ADMIN) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,)
        ).fetchall()
    return [pid for (pid,) in rows]


@dataclass(frozen=True)
class RowCounts:
    events: int
    logs: int
    logs_track_201: int
    logs_non_2xx: int

    def __sub__(self, other: RowCounts) -> RowCounts:
        return RowCounts(
            self.events - other.events,
            self.logs - other.logs,
            self.logs_track_201 - other.logs_track_201,
            self.logs_non_2xx - other.logs_non_2xx,
        )


def row_counts(dsn: str) -> RowCounts:
    with psycopg.connect(dsn) as conn:
        events = conn.execute("SELECT count(*) FROM analytics_events").fetchone()
        logs = conn.execute(
            "SELECT count(*),"
            " count(*) FILTER (WHERE endpoint = '/api/v2/analytics/track' AND status = 201),"
            " count(*) FILTER (WHERE status NOT BETWEEN 200 AND 299)"
            " FROM request_logs"
        ).fetchone()
    assert events is not None and logs is not None
    return RowCounts(events[0], logs[0], logs[1], logs[2])


def check_redis_and_postgres(redis_url: str) -> None:
    """BenchError unless Redis at redis_url and PostgreSQL on 127.0.0.1:5432 answer."""
    import redis

    try:
        redis.Redis.from_url(redis_url, socket_timeout=2).ping()
    except redis.RedisError as exc:
        raise BenchError(f"Redis at {redis_url} is not reachable: {exc}") from None
    try:
        pg_settings()
    except Exception as exc:  # noqa: BLE001 - any failure here means "not usable"
        raise BenchError(f"PostgreSQL on 127.0.0.1:5432 is not reachable: {exc}") from None
