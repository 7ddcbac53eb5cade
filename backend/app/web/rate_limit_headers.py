"""X-RateLimit-* and Retry-After headers, computed from Flask-Limiter's current limit."""

from __future__ import annotations

import math
import time

from flask import Flask, Response, current_app


def rate_limit_headers(*, breached: bool) -> dict[str, str]:
    """Headers describing the limit this request counted against ({} when none).

    Reading the window costs storage round trips, so it is done on a 429 and, only
    when RATELIMIT_HEADERS_ON_SUCCESS is on, on other limited responses.
    """
    from app.extensions import limiter  # extensions imports the key functions

    try:
        current = limiter.current_limit
        if current is None:
            return {}
        reset_at = current.reset_at
        remaining = 0 if breached else max(0, current.remaining)
    except Exception:  # noqa: BLE001 - a storage outage must not break the response
        return {}
    headers = {
        "X-RateLimit-Limit": str(current.limit.amount),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(reset_at),
    }
    if breached:
        headers["Retry-After"] = str(max(1, math.ceil(reset_at - time.time())))
    return headers


def _add_success_headers(response: Response) -> Response:
    if response.status_code != 429 and current_app.config["RATELIMIT_HEADERS_ON_SUCCESS"]:
        for name, value in rate_limit_headers(breached=False).items():
            response.headers.setdefault(name, value)
    return response


def register_rate_limit_headers(app: Flask) -> None:
    app.after_request(_add_success_headers)
