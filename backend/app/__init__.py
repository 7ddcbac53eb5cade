"""The app factory."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import event
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import load_config
from app.extensions import api, cors, db, jwt, limiter, migrate
from app.services.insights.sqlite_functions import register_sqlite_functions
from app.web.converters import BoundedIntConverter
from app.web.cors import cors_resources
from app.web.error_handlers import register_error_handlers


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.url_map.converters["int"] = BoundedIntConverter
    app.config.update(load_config(app.instance_path, config))
    configure_logging(app)
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_hooks(app)
    register_commands(app)
    register_middleware(app)
    if app.config["TRUSTED_PROXIES"] > 0:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0)  # type: ignore[method-assign]
    return app


def configure_logging(app: Flask) -> None:
    """Once per process (dictConfig): app and library records to stderr, with request ids."""
    from app.web.logging_setup import configure_logging as configure

    configure(app.config.get("LOG_LEVEL", "INFO"))


def register_middleware(app: Flask) -> None:
    """A chunked body gets a Content-Length, so the body limits answer 413 (not truncate)."""
    from app.routes.analytics_v2 import BATCH_MAX_BYTES
    from app.web.chunked_body import ChunkedBodyLimit

    cap = max(app.config["MAX_CONTENT_LENGTH"] or 0, BATCH_MAX_BYTES)
    app.wsgi_app = ChunkedBodyLimit(app.wsgi_app, max_bytes=cap)  # type: ignore[method-assign]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    register_sqlite_functions(dbapi_connection)


def register_extensions(app: Flask) -> None:
    from app import models  # noqa: F401 - every table on the metadata

    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)
    migrate.init_app(
        app,
        db,
        directory=app.config.get("MIGRATIONS_DIR") or _migrations_dir(app),
        render_as_batch=True,
        compare_type=True,
    )
    jwt.init_app(app)
    limiter.init_app(app)
    cors.init_app(app, resources=cors_resources(app.config["CORS_ORIGINS"]))
    api.init_app(app)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )

    from app.services.auth import service as auth_service
    from app.services.auth import token_cache
    from app.web.jwt_callbacks import register_jwt_callbacks

    # The token check answers from a per-process cache (bounds in auth/token_cache.py).
    user_for_token = token_cache.install(app, auth_service.get_user_for_token)
    register_jwt_callbacks(user_for_token=user_for_token, get_user=auth_service.get_user)


def _migrations_dir(app: Flask) -> str:
    from pathlib import Path

    return str(Path(app.root_path).parent / "migrations")


def register_blueprints(app: Flask) -> None:
    from app.routes import register_blueprints as register

    register(api, app)


def register_hooks(app: Flask) -> None:
    from app.services.analytics_store import store as analytics_store
    from app.services.insights.reader import register_reader
    from app.services.request_logs import capture
    from app.web.rate_limit_headers import register_rate_limit_headers
    from app.web.request_context import register_request_hooks
    from app.web.request_log_hook import register_request_logging

    register_request_hooks(app)
    register_rate_limit_headers(app)
    with app.app_context():
        request_logs = capture.install(app, db.engine, app.config)
    register_request_logging(app, request_logs.submit)
    register_reader(app)
    analytics_store.init_app(app)


def register_commands(app: Flask) -> None:
    from app.cli import register_cli

    register_cli(app)


