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


def _env_days(name: str, default: int | None) -> int | None:
    """A number of days from the environment; "", "keep" or "0" means keep for ever."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    raw = raw.strip().lower()
    if raw in {"", "keep", "0", "none"}:
        return None
    return int(raw)


IP_MODES = ("mask", "hash", "full")


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


def _normalize_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _replica_bind(url: str) -> dict[str, Any]:
    """Engine options for the insights replica: every transaction is read-only."""
    if url.startswith("postgresql"):
        return {
            "url": url,
            "pool_pre_ping": True,
            "connect_args": {"options": "-c default_transaction_read_only=on"},
        }
    return {"url": url, "connect_args": {"timeout": 30}}


def load_config(instance_path: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the app's configuration: defaults, then environment, then overrides."""
    overrides = dict(overrides or {})
    instance = Path(instance_path)
    app_env = overrides.get("APP_ENV", os.environ.get("APP_ENV", "development"))
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance / 'app.db'}"
    database_url = _normalize_url(database_url)

    config: dict[str, Any] = {
        "APP_ENV": app_env,
        "SQLALCHEMY_DATABASE_URI": database_url,
        # No pre-ping round trip per checkout: connections are replaced after
        # DATABASE_POOL_RECYCLE seconds, and a connection found dead is retried once where
        # nothing was written yet, else answered 503 (web/error_handlers.py).
        "SQLALCHEMY_ENGINE_OPTIONS": {
            "pool_recycle": int(os.environ.get("DATABASE_POOL_RECYCLE", 1800))
        },
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
        # How long a process answers a token's revocation and user from memory: another
        # process's logout or password change is seen within this (auth/token_cache.py).
        "TOKEN_CACHE_SECONDS": float(os.environ.get("TOKEN_CACHE_SECONDS", 2.0)),
        "AUTH_LIMIT": os.environ.get("AUTH_LIMIT", "10 per minute"),
        # Failed logins (401) per account (normalized email) and client: only the guessing
        # client is held back, never the account's owner elsewhere. Successes never count.
        "AUTH_EMAIL_LIMIT": os.environ.get("AUTH_EMAIL_LIMIT", "5 per 15 minutes"),
        # Failed logins per client over every account (password spraying).
        "AUTH_CLIENT_FAILURE_LIMIT": os.environ.get(
            "AUTH_CLIENT_FAILURE_LIMIT", "30 per 15 minutes"
        ),
        # Password reset (services/auth/reset_links.py): requests per address (any
        # address, so the limit tells nothing), the link's lifetime and form, the sender.
        "PASSWORD_RESET_LIMIT": os.environ.get("PASSWORD_RESET_LIMIT", "3 per hour"),
        "PASSWORD_RESET_TOKEN_EXPIRES": int(os.environ.get("PASSWORD_RESET_TOKEN_EXPIRES", 3600)),
        # The token goes in the fragment: browsers never send it, so no access log holds it.
        "PASSWORD_RESET_URL": os.environ.get(
            "PASSWORD_RESET_URL", "http://127.0.0.1:5000/admin/reset-password#token={token}"
        ),
        "PASSWORD_RESET_SENDER": os.environ.get(
            "PASSWORD_RESET_SENDER", "none" if app_env == "production" else "console"
        ),
        # Analytics
        "ANALYTICS_EVENT_TYPES": _env_list("ANALYTICS_EVENT_TYPES", CLIENT_EVENT_TYPES),
        # Events per user, counted beside WRITE_LIMIT (a batch of n events costs n).
        "EVENT_LIMIT": os.environ.get("EVENT_LIMIT", "6000 per minute"),
        # Requests per write key on /v1 (Segment-compatible ingestion), all its routes together.
        "WRITE_KEY_LIMIT": os.environ.get("WRITE_KEY_LIMIT", "1000 per second"),
        # A directory of <event_type>.json JSON Schemas replacing or adding to the shipped ones.
        "EVENT_SCHEMAS_DIR": os.environ.get("EVENT_SCHEMAS_DIR") or None,
        "REQUEST_LOG_ENABLED": _env_bool("REQUEST_LOG_ENABLED", True),
        "REQUEST_LOG_QUEUE_SIZE": int(os.environ.get("REQUEST_LOG_QUEUE_SIZE", 10000)),
        "REQUEST_LOG_FLUSH_INTERVAL": float(os.environ.get("REQUEST_LOG_FLUSH_INTERVAL", 0.5)),
        "REQUEST_LOG_BATCH_SIZE": int(os.environ.get("REQUEST_LOG_BATCH_SIZE", 500)),
        # Where request logs wait while the database is down (bounded; past it, counted drops).
        "REQUEST_LOG_SPOOL_DIR": os.environ.get("REQUEST_LOG_SPOOL_DIR")
        or str(instance / "request-log-spool"),
        "REQUEST_LOG_SPOOL_MAX_BYTES": int(
            os.environ.get("REQUEST_LOG_SPOOL_MAX_BYTES", 50 * 1024 * 1024)
        ),
        # Observability: /metrics answers loopback clients, or anyone with this bearer token.
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN") or None,
        # The app's own loggers (app.*); libraries log WARNING and up (web/logging_setup.py).
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        # Privacy (docs/OPERATIONS.md): how client addresses are stored, how long rows live.
        "IP_MODE": os.environ.get("IP_MODE", "mask").strip().lower(),
        # Optional pepper mixed into the daily keys of IP_MODE=hash (the keys live in the
        # database; the pepper does not, so a database dump alone cannot test addresses).
        "IP_HASH_SECRET": os.environ.get("IP_HASH_SECRET") or None,
        "REQUEST_LOG_RETENTION_DAYS": _env_days("REQUEST_LOG_RETENTION_DAYS", 90),
        "EVENT_RETENTION_DAYS": _env_days("EVENT_RETENTION_DAYS", None),
        "REJECTED_EVENT_RETENTION_DAYS": _env_days("REJECTED_EVENT_RETENTION_DAYS", 14),
        "PRUNE_BATCH_SIZE": int(os.environ.get("PRUNE_BATCH_SIZE", 5000)),
        # API health: exact percentiles up to this many requests in the period, the
        # latency histogram rollup (within 1.99%) above it (docs/ARCHITECTURE.md).
        "API_HEALTH_EXACT_MAX_REQUESTS": int(
            os.environ.get("API_HEALTH_EXACT_MAX_REQUESTS", 100_000)
        ),
        # Sessions report: a gap this long (or longer) between a person's events starts a
        # new session (docs/REPORTS.md, Sessions).
        "SESSION_GAP_MINUTES": int(os.environ.get("SESSION_GAP_MINUTES", 30)),
        # Where reports read events and request logs: "app" (this database), chdb:///path or
        # clickhouse://user:password@host:port/db (docs/CLICKHOUSE.md).
        "ANALYTICS_STORE": os.environ.get("ANALYTICS_STORE", "app"),
        # Seconds a report may spend shipping new rows to ClickHouse before it reads.
        "ANALYTICS_SHIP_ON_READ_SECONDS": float(
            os.environ.get("ANALYTICS_SHIP_ON_READ_SECONDS", 2.0)
        ),
        "INTERNAL_EMAIL_DOMAINS": tuple(
            d.lower().lstrip("@") for d in _env_list("INTERNAL_EMAIL_DOMAINS", ())
        ),
        "EXPORT_CHUNK_ROWS": int(os.environ.get("EXPORT_CHUNK_ROWS", 1000)),
        # Web front ends on other origins allowed to call /api (web/cors.py); none by default.
        "CORS_ORIGINS": _env_list("CORS_ORIGINS", ()),
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

    insights_url = config.get("INSIGHTS_DATABASE_URL", os.environ.get("INSIGHTS_DATABASE_URL"))
    if insights_url:
        # Report queries go to this read replica; writes never do (see insights/reader.py).
        config["INSIGHTS_DATABASE_URL"] = _normalize_url(insights_url)
        config.setdefault("SQLALCHEMY_BINDS", {})["insights"] = _replica_bind(
            config["INSIGHTS_DATABASE_URL"]
        )

    if config["IP_MODE"] not in IP_MODES:
        modes = ", ".join(IP_MODES)
        raise ConfigError(f"IP_MODE must be one of {modes}, not {config['IP_MODE']!r}")
    if config["IP_MODE"] == "hash" and not config["IP_HASH_SECRET"] and app_env == "production":
        log.warning("IP_MODE=hash without IP_HASH_SECRET: the daily keys alone protect the hashes")

    if not config.get("JWT_SECRET_KEY"):
        if config["APP_ENV"] == "production":
            raise ConfigError("JWT_SECRET_KEY must be set when APP_ENV=production")
        config["JWT_SECRET_KEY"] = _dev_secret(instance)
    return config
