"""Keys that rate limits count by."""

from __future__ import annotations

from flask import request
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
