"""Cross-origin requests (Flask-CORS): which web front ends elsewhere may call the API.

- `/api/*`: the origins in CORS_ORIGINS only (empty by default: no cross-origin access; the
  dashboard at /admin is same-origin and needs none). Tokens travel in the Authorization
  header, never in cookies, so credentials are not allowed (no
  Access-Control-Allow-Credentials): a page elsewhere cannot ride on a browser's cookies.
- `/v1/*` (Segment-compatible ingestion): any origin, as Segment's own API, because sites
  embed the SDK; a write key is public by design and the events it may send are checked.

Preflights (OPTIONS) are answered by Flask's automatic OPTIONS response with these headers,
before any view, so they never count against a rate limit. Error responses (401, 429...)
carry the headers too (Flask-CORS wraps the exception handlers), so a front end can read a
problem document and its Retry-After.
"""

from __future__ import annotations

from typing import Any

# What a front end may read from a response besides the CORS-safelisted headers.
EXPOSE_HEADERS = (
    "X-Request-ID",
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "WWW-Authenticate",
    "Location",
)
API_ALLOW_HEADERS = ("Authorization", "Content-Type", "X-Request-ID")
INGEST_ALLOW_HEADERS = (*API_ALLOW_HEADERS, "Content-Encoding", "X-User-Token")
# How long a browser may reuse a preflight's answer (Chromium caps it at 2 hours).
MAX_AGE_SECONDS = 600


def cors_resources(origins: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Flask-CORS resources: /v1 for anyone, /api for `origins` (none when empty)."""
    common = {
        "expose_headers": list(EXPOSE_HEADERS),
        "supports_credentials": False,
        "max_age": MAX_AGE_SECONDS,
    }
    resources: dict[str, dict[str, Any]] = {
        r"/v1/*": common
        | {"origins": "*", "send_wildcard": True, "allow_headers": list(INGEST_ALLOW_HEADERS)},
    }
    if origins:
        resources[r"/api/*"] = common | {
            "origins": list(origins),
            "allow_headers": list(API_ALLOW_HEADERS),
        }
    return resources
