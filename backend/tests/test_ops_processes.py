"""Real gunicorn processes: limits shared through Redis, and SIGTERM under load loses no log.

Each app process is a gunicorn started from backend/gunicorn.conf.py on a spare port, on a
private PostgreSQL of this module (so the rows they write are never another test's).
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from app import create_app
from app.extensions import db
from app.models import Video
from app.services.demo import seed as seed_service
from tests.conftest import make_config
from tests.outage_support import PrivatePostgres, private_postgres, spare_port

BACKEND = Path(__file__).resolve().parents[1]
GUNICORN = Path(sys.executable).with_name("gunicorn")
SECRET = "ops-test-secret-key-that-is-long-enough-for-hs256"


@pytest.fixture(scope="module")
def pg() -> Iterator[PrivatePostgres]:
    yield from private_postgres()


@pytest.fixture
def database(pg: PrivatePostgres) -> Iterator[str]:
    """The private database, emptied after the test (the processes commit for real)."""
    yield pg.url
    engine = create_engine(pg.url)
    with engine.begin() as conn:
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()


class Gunicorn:
    def __init__(self, database_url: str, tmp: Path, *, workers: int, **env: str) -> None:
        self.port = spare_port()
        self.tmp = tmp / f"gunicorn-{self.port}"
        self.tmp.mkdir()
        environment = {
            **os.environ,
            "DATABASE_URL": database_url,
            "JWT_SECRET_KEY": SECRET,
            "AUTH_LIMIT": "1000 per minute",
            "AUTH_EMAIL_LIMIT": "1000 per minute",
            "REQUEST_LOG_SPOOL_DIR": str(self.tmp / "spool"),
            "PROMETHEUS_MULTIPROC_DIR": str(self.tmp / "metrics"),
            "GUNICORN_LOG_LEVEL": "warning",
            **env,
        }
        (self.tmp / "metrics").mkdir()
        self.process = subprocess.Popen(
            [str(GUNICORN), "-c", "gunicorn.conf.py", "-w", str(workers),
             "-b", f"127.0.0.1:{self.port}", "app:create_app()"],
            cwd=BACKEND,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=open(self.tmp / "stderr", "wb"),  # noqa: SIM115 - closed with the process
        )  # fmt: skip

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.stderr()
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(self.stderr())

    def request(
        self, method: str, path: str, body: str | None = None, **headers: str
    ) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            if body is not None:
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def stderr(self) -> str:
        return (self.tmp / "stderr").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@pytest.fixture
def start_gunicorn(database: str, tmp_path: Path) -> Iterator[Any]:
    started: list[Gunicorn] = []

    def start(**kwargs: Any) -> Gunicorn:
        server = Gunicorn(database, tmp_path, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _token(server: Gunicorn) -> str:
    body = {"email": "ops@example.com", "password": "correct horse battery"}
    registration = json.dumps(body | {"display_name": "Ops"})
    status, _ = server.request("POST", "/api/v2/auth/register", registration)
    assert status == 201
    status, raw = server.request("POST", "/api/v2/auth/login", json.dumps(body))
    assert status == 200
    return "Bearer " + json.loads(raw)["access_token"]


def test_two_processes_share_one_users_write_budget_through_redis(
    start_gunicorn, database, redis_url
):
    app = create_app(make_config(database, REQUEST_LOG_ENABLED=False))
    with app.app_context():
        seed_service.seed_demo()
        video_id = db.session.scalars(select(Video.id)).first()
        db.engine.dispose()
    env = {"RATELIMIT_STORAGE_URI": redis_url, "WRITE_LIMIT": "5 per minute"}
    first = start_gunicorn(workers=1, **env)
    second = start_gunicorn(workers=1, **env)
    first.wait_ready()
    second.wait_ready()
    token = _token(first)

    statuses = []
    for server in itertools.islice(itertools.cycle([first, second]), 8):
        statuses.append(
            server.request("POST", f"/api/v2/videos/{video_id}/like", "{}", Authorization=token)[0]
        )
    assert statuses == [200] * 5 + [429] * 3  # one budget of 5, whichever process answers


def _ip(n: int) -> str:
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


@pytest.mark.parametrize("threads", ["3", "1"], ids=["gthread", "sync"])
def test_sigterm_under_load_keeps_a_log_row_for_every_answered_request(
    start_gunicorn, database, threads
):
    server = start_gunicorn(
        workers=2,
        GUNICORN_THREADS=threads,  # the default gthread worker, and the plain sync worker
        REQUEST_LOG_FLUSH_INTERVAL="30",  # rows stay queued until the workers exit
        TRUSTED_PROXIES="1",  # X-Forwarded-For names each request: a unique address
        IP_MODE="full",
        GUNICORN_GRACEFUL_TIMEOUT="10",
    )
    server.wait_ready()
    status, body = server.request("GET", "/metrics")  # multi-process metrics, from loopback
    assert status == 200 and b"challenge_request_log_queue_depth" in body

    numbers = itertools.count(1)
    answered: list[str] = []
    enough = threading.Event()
    lock = threading.Lock()

    def client() -> None:
        for _ in range(400):  # bounded whatever happens
            ip = _ip(next(numbers))
            try:
                status, _ = server.request("GET", "/api/v2/nowhere", **{"X-Forwarded-For": ip})
            except OSError:
                return  # the server has closed its socket
            assert status == 404
            with lock:
                answered.append(ip)
                if len(answered) >= 60:
                    enough.set()

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    assert enough.wait(30), server.stderr()
    server.process.send_signal(signal.SIGTERM)  # requests are still being sent
    for thread in threads:
        thread.join(30)
    assert server.process.wait(30) == 0, server.stderr()

    engine = create_engine(database)
    with engine.connect() as conn:
        logged = {
            row[0]
            for row in conn.execute(
                text("SELECT ip_address FROM request_logs WHERE endpoint = '<unmatched>'")
            )
        }
    engine.dispose()
    assert len(answered) >= 60
    missing = set(answered) - logged
    assert not missing, f"{len(missing)} answered requests have no log row"
