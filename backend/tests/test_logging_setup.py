"""Logging reaches stderr (gunicorn's error log) in a real process, not only pytest's capture.

Each test runs the app factory in a child python and reads the child's stderr: pytest's
log capture would hide a missing handler (its own handlers sit on the root logger).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import json, logging, sys, warnings
    from sqlalchemy.exc import SAWarning
    from app import create_app
    app = create_app(json.loads(sys.argv[1]))
    client = app.test_client()
    """
)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: nothing listens there


def _run_child(db_url: str, body: str, **config: object) -> str:
    import json

    settings = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": db_url,
        "JWT_SECRET_KEY": "logging-test-secret-key-of-32-bytes!",
        "REQUEST_LOG_ENABLED": False,
        "ARGON2_PARAMS": {"time_cost": 1, "memory_cost": 8, "parallelism": 1},
    } | config
    done = subprocess.run(
        [sys.executable, "-c", CHILD + textwrap.dedent(body), json.dumps(settings)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_limiter_fallback_warning_reaches_stderr_with_the_request_id(db_url):
    stderr = _run_child(
        db_url,
        """
        r = client.post("/api/v2/auth/login", headers={"X-Request-ID": "req-fallback-1"},
                        json={"email": "nobody@example.com", "password": "not-the-password"})
        assert r.status_code < 500, r.status_code
        """,
        RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{_closed_port()}/0",
    )
    lines = [line for line in stderr.splitlines() if "falling back to in-memory storage" in line]
    assert lines, stderr
    assert "[WARNING] [req-fallback-1] flask-limiter:" in lines[0]


def test_library_warnings_share_the_format_and_secrets_never_reach_the_log(tmp_path):
    # No database work here: one child, on an empty SQLite file, serves both dialects.
    stderr = _run_child(
        f"sqlite:///{tmp_path / 'empty.db'}",
        """
        warnings.warn("a SQLAlchemy warning", SAWarning)
        logging.getLogger("app.something").info("an app record")
        logging.getLogger("some.library").info("library chatter below WARNING")
        log = logging.getLogger("flask-limiter")
        log.warning("headers %s", {"Authorization": "Bearer abc.def-ghi"})
        log.warning("storage redis://:hunt3r-pw@10.0.0.1:6379/0 is down")
        log.warning('body {"email": "a@b.c", "password": "hunt3r-pw", "refresh_token": "r3fr"}')
        log.warning("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl leaked")
        try:
            raise ValueError("password=hunt3r-pw")
        except ValueError:
            log.exception("failed")
        """,
    )
    assert "[WARNING] [-] py.warnings:" in stderr and "a SQLAlchemy warning" in stderr
    assert "[INFO] [-] app.something: an app record" in stderr
    assert "library chatter" not in stderr
    assert stderr.count("flask-limiter:") == 5, stderr
    for secret in ("abc.def-ghi", "hunt3r-pw", "r3fr", "eyJhbGciOiJIUzI1NiJ9"):
        assert secret not in stderr, stderr
    assert "Bearer [redacted]" in stderr and "a@b.c" in stderr
