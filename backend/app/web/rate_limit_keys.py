"""Keys that rate limits count by."""

from __future__ import annotations

import hashlib

from flask import Response, current_app, request
from flask_jwt_extended import get_jwt_identity

from app.models.user import normalize_email


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


def _login_email_digest() -> str | None:
    """A hash of the normalized email a login names (no address in the limiter's keys)."""
    body = request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else None
    if not isinstance(email, str) or not email.strip():
        return None
    canonical = normalize_email(email).encode("utf-8", "surrogatepass")
    return hashlib.sha256(canonical).hexdigest()[:32]


def login_email_client_key() -> str:
    """The (account, client) pair a login attempt names.

    Keyed by both, failed guesses from one client lock that client out of that account,
    never the account's owner on another client (OWASP: no account lockout by strangers).
    """
    return f"login-email:{_login_email_digest() or 'none'}:{client_ip_key()}"


def reset_email_key() -> str:
    """The account a password-reset request names (unknown addresses count alike)."""
    return f"reset-email:{_login_email_digest() or 'none'}"


def password_reset_limit() -> str:
    return current_app.config["PASSWORD_RESET_LIMIT"]


def login_client_key() -> str:
    """The client, for its failed logins over all accounts (password spraying)."""
    return f"login-failures:{client_ip_key()}"


def login_failed(response: Response) -> bool:
    """Whether a login attempt counts against the failure limits: wrong credentials only."""
    return response.status_code == 401


def auth_email_limit() -> str:
    return current_app.config["AUTH_EMAIL_LIMIT"]


def auth_client_failure_limit() -> str:
    return current_app.config["AUTH_CLIENT_FAILURE_LIMIT"]
