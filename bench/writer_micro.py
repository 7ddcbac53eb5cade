"""In-process cost of the request-log writer: CPU per row written and per submit().

Run from backend/ with `../.venv/bin/python ../bench/writer_micro.py` after bench/run.py
has created the challenge_bench database (it only appends rows to request_logs there).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import create_engine

from app.services.request_logs.writer import RequestLogWriter

DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/challenge_bench"
BATCH = 500
BATCHES = 20
SUBMITS = 10_000


def row() -> dict[str, Any]:
    return {
        "endpoint": "/api/v2/auth/me",
        "method": "GET",
        "status": 200,
        "latency_ms": 1.23,
        "user_id": 1,
        "ip_address": "127.0.0.1",
        "created_at": datetime.now(UTC),
    }


def main() -> None:
    writer = RequestLogWriter(create_engine(DATABASE), max_queue=SUBMITS + 1)
    rows = [row() for _ in range(BATCH)]
    for _ in range(3):  # warm up: connection, statement cache
        writer._write(rows)
    started = time.process_time()
    for _ in range(BATCHES):
        writer._write(rows)
    per_row = (time.process_time() - started) / (BATCH * BATCHES) * 1000
    print(f"writer CPU per row (batches of {BATCH}): {per_row:.4f} ms")
    started = time.process_time()
    for _ in range(SUBMITS):
        writer.submit(row())
    per_submit = (time.process_time() - started) / SUBMITS * 1000
    print(f"submit() including building the row: {per_submit:.4f} ms")
    writer.close()


if __name__ == "__main__":
    main()
