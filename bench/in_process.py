"""Driving the app's WSGI callable in one process, for bench/log_cost.py and batch_cost.py."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterable
from typing import Any


def environ(method: str, path: str, token: str, body: bytes = b"") -> dict[str, Any]:
    """A WSGI environ for one request from 127.0.0.1 with a bearer token (and a JSON body)."""
    env = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_AUTHORIZATION": f"Bearer {token}", "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr, "wsgi.multithread": False,
        "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.version": (1, 0),
    }
    if body:
        env |= {"CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body))}
    return env


def drive(app: Any, environs: Iterable[dict[str, Any]]) -> None:
    """Run each request to the end of its body; exit unless every answer was 200."""
    statuses: list[str] = []

    def start_response(status: str, _headers: Any, _exc: Any = None) -> None:
        statuses.append(status)

    for env in environs:
        out = app(env, start_response)
        for _chunk in out:
            pass
        if hasattr(out, "close"):
            out.close()
    if not all(s.startswith("200") for s in statuses):
        raise SystemExit(f"unexpected statuses: {set(statuses)}")


def count_statements(app: Any) -> list[int]:
    """A one-item list counting the SQL statements the app's engine runs from now on."""
    from sqlalchemy import event

    from app.extensions import db

    counter = [0]
    with app.app_context():
        event.listen(
            db.engine, "before_cursor_execute", lambda *a: counter.__setitem__(0, counter[0] + 1)
        )
    return counter
