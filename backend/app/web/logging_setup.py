"""Logging for the whole process, configured once with logging.config.dictConfig.

One handler on the root logger writes every record of level WARNING and up (the app's
own from INFO) to stderr: the app's, and the libraries' that only log to their own
loggers (Flask-Limiter's "storage unreachable" warning, whose logger has a do-nothing
handler; SQLAlchemy's warnings, through logging.captureWarnings). Under gunicorn stderr is
its error log (errorlog "-", gunicorn.conf.py), so both land in the same stream; gunicorn's
own loggers keep their handlers. Each line carries the request id inside a request.

Secrets never reach the log: the formatter blanks bearer and basic credentials, JWTs,
passwords in URLs, and password/token/secret values in key=value or JSON form, whatever
the message, its arguments or the traceback held.
"""

from __future__ import annotations

import logging
import logging.config
import re
from typing import Any

from app.web.request_context import RequestIdFilter

HANDLER_NAME = "challenge_stderr"
FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] [%(request_id)s] %(name)s: %(message)s"

_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 [redacted]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "[redacted-jwt]"),
    (re.compile(r"(://[^:/@\s]*):[^@/\s]+@"), r"\1:[redacted]@"),
    (
        re.compile(
            r"(?i)\b([a-z_]*(?:password|passwd|secret|token|api_key)[a-z_]*)"
            r"(['\"]?\s*[:=]\s*['\"]?)[^\s,'\"&}]+"
        ),
        r"\1\2[redacted]",
    ),
)


def redact(text: str) -> str:
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFormatter(logging.Formatter):
    """The standard formatter, with secrets blanked in the finished line."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """The dictConfig document: one stderr handler on the root; the app's loggers at `level`."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"redacting": {"()": RedactingFormatter, "format": FORMAT}},
        "handlers": {
            HANDLER_NAME: {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "redacting",
                "filters": ["request_id"],
            }
        },
        "loggers": {"app": {"level": level.upper()}},
        "root": {"level": "WARNING", "handlers": [HANDLER_NAME]},
    }


def configure_logging(level: str = "INFO") -> None:
    """Install the configuration unless this process has it already (one per process)."""
    root = logging.getLogger()
    if any(h.get_name() == HANDLER_NAME for h in root.handlers):
        return
    # dictConfig replaces the root's handlers: keep the ones a host put there (pytest's
    # capture, an embedding application's) beside ours.
    kept = list(root.handlers)
    logging.config.dictConfig(logging_config(level))
    for handler in kept:
        root.addHandler(handler)
    logging.captureWarnings(True)
