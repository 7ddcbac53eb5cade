"""Keys that rate limits count by."""

from __future__ import annotations

import hashlib

from flask import current_app, request
from flask_jwt_extended import get_jwt_identity


def client_ip_key() -> str:
    """The client's address; ProxyFix has already applied TRUSTED_PROXIES."""
    return f"ip:{request.remote_addr or 'unknown'}"


def user_or_ip_key() -> str:
    """The token's user when a verified token came with the request, else the IP."""
    try:
        identity = get_jwt_identity()
    except RuntimeError:
        identity = None
    if identity is not None:
        return f"user:{identity}"
    return client_ip_key()


def login_email_key() -> str:
    """The account a login names (normalized, hashed: no address in the limiter's keys).

    A body without an email counts against the client's address instead.
    """
    body = request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else None
    if not isinstance(email, str) or not email.strip():
        return client_ip_key()
    digest = hashlib.sha256(email.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()
    return f"login-email:{digest[:32]}"


def auth_email_limit() -> str:
    return current_app.config["AUTH_EMAIL_LIMIT"]
