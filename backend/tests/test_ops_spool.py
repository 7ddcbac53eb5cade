"""The request-log spool on disk: rows a dead process left are adopted and written once, a
torn last line (a crash mid-append) is skipped, and the bound covers the whole directory."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from app import clock
from app.services.request_logs.spool import RequestLogSpool
from app.services.request_logs.writer import RequestLogWriter

BACKEND = Path(__file__).resolve().parents[1]


def row(endpoint: str) -> dict:
    return {
        "endpoint": endpoint,
        "method": "GET",
        "status": 503,
        "latency_ms": 2.0,
        "user_id": None,
        "ip_address": "192.0.2.1",
        "created_at": clock.now(),
    }


@pytest.fixture
def engine(app) -> Iterator[Engine]:
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    eng = create_engine(url, **({"connect_args": {"timeout": 30}} if "sqlite" in url else {}))
    yield eng
    eng.dispose()


def endpoints(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(r[0] for r in conn.execute(text("SELECT endpoint FROM request_logs")))


def spool_in_a_process_that_exits(directory: Path, names: list[str]) -> None:
    """A real other process spools rows and ends (as a worker killed during an outage)."""
    code = (
        "import sys, datetime\n"
        "from app.services.request_logs.spool import RequestLogSpool\n"
        "spool = RequestLogSpool(sys.argv[1], max_bytes=10**6)\n"
        "now = datetime.datetime.now(datetime.timezone.utc)\n"
        "spool.append([{'endpoint': n, 'method': 'GET', 'status': 503, 'latency_ms': 1.0,\n"
        "  'user_id': None, 'ip_address': None, 'created_at': now} for n in sys.argv[2:]])\n"
    )
    subprocess.run([sys.executable, "-c", code, str(directory), *names], cwd=BACKEND, check=True)


def test_rows_a_dead_process_spooled_are_adopted_and_written_once(engine, tmp_path):
    spool_dir = tmp_path / "spool"
    spool_in_a_process_that_exits(spool_dir, ["/api/v2/a", "/api/v2/b"])
    (orphan,) = spool_dir.glob("*.jsonl")
    with orphan.open("ab") as f:
        f.write(b'{"endpoint": "/api/v2/torn", "meth')  # the crash cut this line short

    writer = RequestLogWriter(engine, interval=60, spool_dir=spool_dir, spool_max_bytes=10**6)
    writer.submit(row("/api/v2/now"))
    assert writer.flush(timeout=10)
    assert endpoints(engine) == ["/api/v2/a", "/api/v2/b", "/api/v2/now"]
    assert writer.replayed == 2
    assert not list(spool_dir.glob("*.jsonl"))

    writer.submit(row("/api/v2/later"))
    assert writer.flush(timeout=10)
    assert endpoints(engine) == ["/api/v2/a", "/api/v2/b", "/api/v2/later", "/api/v2/now"]
    writer.close()


def test_spool_bound_counts_every_process_file(tmp_path):
    spool_dir = tmp_path / "spool"
    spool_in_a_process_that_exits(spool_dir, [f"/api/v2/{n}" for n in range(5)])
    used = sum(p.stat().st_size for p in spool_dir.glob("*.jsonl"))
    spool = RequestLogSpool(spool_dir, max_bytes=used + 1)
    assert spool.append([row("/api/v2/x")]) == 0  # the other file already fills the bound
    spool = RequestLogSpool(spool_dir, max_bytes=used * 2)
    kept = spool.append([row(f"/api/v2/{n}") for n in range(10)])
    assert 0 < kept < 10  # as many as fit, in order; the rest is the caller's to count
    assert spool.total_bytes() <= used * 2
    assert len(spool.path.read_text().splitlines()) == kept
