"""Registers every blueprint on the API."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from app.routes import (
    analytics_v2,
    auth_v2,
    challenges_v2,
    plans_v2,
    privacy_v2,
    segment_v1,
    videos_v2,
    write_keys_v2,
)
from app.routes.admin_dashboard import bp as admin_dashboard_bp
from app.routes.health import health_bp
from app.routes.insights_dashboards import blp as dashboards_blp
from app.routes.insights_v2 import blp as insights_blp
from app.routes.prometheus import register_metrics


def register_blueprints(api: Api, app: Flask) -> None:
    for module in (auth_v2, challenges_v2, plans_v2, videos_v2, analytics_v2, privacy_v2):
        api.register_blueprint(module.blp)
    api.register_blueprint(insights_blp)
    api.register_blueprint(dashboards_blp)
    api.register_blueprint(segment_v1.blp)
    api.register_blueprint(write_keys_v2.blp)
    segment_v1.document_security(api)
    app.register_blueprint(health_bp)
    app.register_blueprint(admin_dashboard_bp)
    register_metrics(app)
