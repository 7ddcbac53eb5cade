"""Settings from environment variables; tests pass overrides to create_app()."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CLIENT_EVENT_TYPES = (
    "app_opened",
    "screen_viewed",
    "video_started",
    "video_progress",
    "video_completed",
    "notification_opened",
    "share_clicked",
    "plan_shared",
    "feedback_given",
)
SERVER_EVENT_TYPES = (
    "plan_viewed",
    "plan_completed",
    "challenge_joined",
    "video_liked",
    "video_unliked",
)


class ConfigError(RuntimeError):
    """The configuration cannot run the app (for example no secret in production)."""


def _env_list(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _dev_secret(instance_path: Path) -> str:
    """A development JWT secret kept stable across restarts in instance/."""
    path = instance_path / "jwt-secret"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.write_text(secret)
    path.chmod(0o600)
    log.warning("JWT_SECRET_KEY is not set: generated a development secret in %s", path)
    return secret


def load_config(instance_path: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the app's configuration: defaults, then environment, then overrides."""
    overrides = dict(overrides or {})
    instance = Path(instance_path)
    app_env = overrides.get("APP_ENV", os.environ.get("APP_ENV", "development"))
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance / 'app.db'}"
    if database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgres://") :]
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]

    config: dict[str, Any] = {
        "APP_ENV": app_env,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "MAX_CONTENT_LENGTH": 64 * 1024,
        "JSON_SORT_KEYS": False,
        # Tokens
        "JWT_SECRET_KEY": os.environ.get("JWT_SECRET_KEY"),
        "JWT_ACCESS_TOKEN_EXPIRES": int(os.environ.get("JWT_ACCESS_TOKEN_EXPIRES", 900)),
        "JWT_REFRESH_TOKEN_EXPIRES": int(os.environ.get("JWT_REFRESH_TOKEN_EXPIRES", 30 * 86400)),
        "JWT_ALGORITHM": "HS256",
        "JWT_DECODE_ALGORITHMS": ["HS256"],
        "JWT_TOKEN_LOCATION": ["headers"],
        # Rate limits
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        # Flask-Limiter's own headers stay off: they cost two storage round trips per
        # limited request. A 429 always carries Retry-After and X-RateLimit-* (errors.py);
        # successful responses carry X-RateLimit-* only when this is on.
        "RATELIMIT_HEADERS_ENABLED": False,
        "RATELIMIT_HEADERS_ON_SUCCESS": _env_bool("RATELIMIT_HEADERS_ON_SUCCESS", False),
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_STRATEGY": os.environ.get("RATELIMIT_STRATEGY", "fixed-window"),
        "RATELIMIT_KEY_PREFIX": os.environ.get("RATELIMIT_KEY_PREFIX", "challenge"),
        "WRITE_LIMIT": os.environ.get("WRITE_LIMIT", "60 per minute"),
        "AUTH_LIMIT": os.environ.get("AUTH_LIMIT", "10 per minute"),
        # Analytics
        "ANALYTICS_EVENT_TYPES": _env_list("ANALYTICS_EVENT_TYPES", CLIENT_EVENT_TYPES),
        "REQUEST_LOG_ENABLED": _env_bool("REQUEST_LOG_ENABLED", True),
        "REQUEST_LOG_QUEUE_SIZE": int(os.environ.get("REQUEST_LOG_QUEUE_SIZE", 10000)),
        "REQUEST_LOG_FLUSH_INTERVAL": float(os.environ.get("REQUEST_LOG_FLUSH_INTERVAL", 0.5)),
        "REQUEST_LOG_BATCH_SIZE": int(os.environ.get("REQUEST_LOG_BATCH_SIZE", 500)),
        # Proxies
        "TRUSTED_PROXIES": int(os.environ.get("TRUSTED_PROXIES", 0)),
        # OpenAPI (flask-smorest)
        "API_TITLE": "Challenge API",
        "API_VERSION": "v2",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": "/api/docs/assets/",
    }
    config.update(overrides)

    if str(config["RATELIMIT_STORAGE_URI"]).startswith("redis"):
        # Bounded waits: a hung Redis must not hang requests (the memory fallback takes over).
        config.setdefault(
            "RATELIMIT_STORAGE_OPTIONS", {"socket_connect_timeout": 1.0, "socket_timeout": 2.0}
        )

    if config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": 30}}

    if not config.get("JWT_SECRET_KEY"):
        if config["APP_ENV"] == "production":
            raise ConfigError("JWT_SECRET_KEY must be set when APP_ENV=production")
        config["JWT_SECRET_KEY"] = _dev_secret(instance)
    return config
