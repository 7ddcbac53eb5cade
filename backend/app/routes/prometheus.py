"""GET /metrics: Prometheus text, for loopback scrapers or holders of METRICS_TOKEN.

Not under /api/, so neither request-logged nor in the OpenAPI document.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request

from app import metrics
from app.errors import problem
from app.services.analytics_store import status as store_status

metrics_bp = Blueprint("metrics", __name__)


def _is_loopback(address: str | None) -> bool:
    """REMOTE_ADDR after ProxyFix: a proxied client is never loopback when TRUSTED_PROXIES is
    set, so a reverse proxy on this host must set it (or not forward /metrics)."""
    try:
        return ipaddress.ip_address((address or "").strip("[]")).is_loopback
    except ValueError:
        return False


def _bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _denied() -> Response | None:
    expected = current_app.config.get("METRICS_TOKEN")
    presented = _bearer_token()
    if expected and presented is not None:
        if hmac.compare_digest(presented.encode(), str(expected).encode()):
            return None
        return problem(
            401,
            "The metrics token is not valid.",
            type_slug="unauthorized",
            headers={"WWW-Authenticate": 'Bearer realm="metrics", error="invalid_token"'},
        )
    if _is_loopback(request.remote_addr):
        return None
    if expected:
        return problem(
            401,
            "Metrics need the METRICS_TOKEN bearer token.",
            type_slug="unauthorized",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    return problem(
        403,
        "Metrics are readable from the loopback address only (no METRICS_TOKEN is set).",
        type_slug="forbidden",
    )


@metrics_bp.get("/metrics")
def get_metrics() -> Any:
    denied = _denied()
    if denied is not None:
        return denied
    writer = current_app.extensions.get("request_log_writer")
    store_status.describe(reach_store=False)  # publishes the shipping lag, if any
    body = metrics.render(writer)
    return Response(body, mimetype=None, content_type=metrics.CONTENT_TYPE_LATEST)


def register_metrics(app: Flask) -> None:
    app.register_blueprint(metrics_bp)
