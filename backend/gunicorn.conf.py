"""Production gunicorn settings: `gunicorn -c gunicorn.conf.py 'app:create_app()'` from backend/.

Every value can be overridden on the command line (for example `-b 127.0.0.1:9000 -w 4`),
which gunicorn applies after this file.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger("gunicorn.error")


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this container may use
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# A request spends part of its time waiting on PostgreSQL and Redis, so a few more workers
# than cores keep the CPUs busy (gunicorn's advice: 2 * cores + 1), and each worker runs
# GUNICORN_THREADS threads (gthread; 1 gives the plain sync worker). Threads also keep
# client connections alive between requests, which sync workers cannot. Measured on 2
# cores (bench/ingest.py, docs/PERFORMANCE.md): 5 workers x 3 threads took about 15% more
# batch events per second than 6 sync workers. Each worker holds its own database pool
# (up to 15 connections: SQLAlchemy's 5 + 10 overflow; a thread holds one at a time) plus
# one request-log writer connection, so mind PostgreSQL's max_connections when raising
# WEB_CONCURRENCY.
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * _cores() + 1))
threads = int(os.environ.get("GUNICORN_THREADS", 3))
worker_class = "gthread" if threads > 1 else "sync"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")  # behind a reverse proxy

# Each worker builds its own app (no preload): no engine, pool or writer thread is ever
# created before the fork and shared with the children.
preload_app = False

# Request size limits gunicorn enforces before the app sees anything. Over them gunicorn
# answers itself, in text/html: 414 (request line), 431 or 400 (header count, header
# size). In production nginx (deploy/nginx.conf) sits in front with smaller limits and
# answers first with a problem+json body, so these are the backstop for direct traffic.
# Bodies are the app's (MAX_CONTENT_LENGTH 64 KiB, 512 KiB for the batch endpoint): 413
# problem+json. docs/OPERATIONS.md, "Production front", lists every limit.
limit_request_line = int(os.environ.get("GUNICORN_LIMIT_REQUEST_LINE", 8190))  # bytes (max)
limit_request_fields = int(os.environ.get("GUNICORN_LIMIT_REQUEST_FIELDS", 100))  # headers
limit_request_field_size = int(os.environ.get("GUNICORN_LIMIT_REQUEST_FIELD_SIZE", 8190))

timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
# On SIGTERM a worker finishes its request, then worker_exit flushes the request-log
# writer; the master kills workers still alive after graceful_timeout.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", 30))
keepalive = 2  # seconds an idle client connection stays open (gthread; sync workers close it)
# The writer flush gets a bounded share of the graceful period, so the worker exits (and
# keeps its rows) before the master's SIGKILL.
REQUEST_LOG_CLOSE_TIMEOUT = max(1.0, min(10.0, graceful_timeout / 3))

# Prometheus multi-process mode: every worker writes its metrics to files in this directory
# and /metrics (answered by any worker) sums them. It must be set before a worker imports
# prometheus_client, so here, in the master, before the fork.
_owns_metrics_dir = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _owns_metrics_dir:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="challenge-metrics-")

# Heartbeat files on tmpfs: a disk-backed /tmp can stall workers (gunicorn's FAQ).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# request_logs is the access log; gunicorn's own goes to stderr only when asked.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")


def _flask_app(wsgi: Any) -> Any | None:
    """The Flask app behind the worker's WSGI callable (possibly wrapped in middleware)."""
    for _ in range(5):
        if wsgi is None:
            return None
        if isinstance(getattr(wsgi, "extensions", None), dict):
            return wsgi
        wsgi = getattr(wsgi, "app", None)
    return None


def on_starting(server: Any) -> None:
    """Empty the metrics directory: values from a previous run would be summed in."""
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    for path in directory.glob("*.db"):
        path.unlink(missing_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges (its counters stay in the sums)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    if _owns_metrics_dir:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def worker_exit(server: Any, worker: Any) -> None:
    """Write the worker's queued request logs before the process ends."""
    # gunicorn also calls this hook in the master for a worker that vanished: nothing of
    # that worker's is left there to flush.
    if getattr(worker, "pid", None) != os.getpid():
        return
    app = _flask_app(getattr(worker, "wsgi", None))
    writer = app.extensions.get("request_log_writer") if app is not None else None
    if writer is None:
        return
    queued = writer.depth
    try:
        writer.close(timeout=REQUEST_LOG_CLOSE_TIMEOUT)
    except Exception:  # noqa: BLE001 - the worker is exiting anyway; say so and go on
        log.exception("request log writer did not close cleanly")
        return
    log.info(
        "worker %s: request log writer closed (queued at exit %d, written %d, dropped %d, "
        "failed %d, spooled %d, spool dropped %d, left %d)",
        worker.pid,
        queued,
        writer.written,
        writer.dropped,
        writer.failed,
        writer.spooled,
        writer.dropped_spool,
        writer.depth,
    )
