"""Registers every blueprint on the API."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from app.routes import analytics_v2, auth_v2, challenges_v2, plans_v2, videos_v2
from app.routes.health import health_bp


def register_blueprints(api: Api, app: Flask) -> None:
    for module in (auth_v2, challenges_v2, plans_v2, videos_v2, analytics_v2):
        api.register_blueprint(module.blp)
    app.register_blueprint(health_bp)
