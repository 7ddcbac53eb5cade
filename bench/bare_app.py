"""The floor: a bare Flask + flask-jwt-extended app, one @jwt_required GET.

bench/run.py serves it with the same gunicorn command and settings as the real app
(`gunicorn -c gunicorn.conf.py ... 'bare_app:app'`, run from backend/ with bench/ on
PYTHONPATH), so the ratios it prints are against what Flask and a JWT check cost alone.
"""

from __future__ import annotations

import os

from flask import Flask
from flask_jwt_extended import JWTManager, get_jwt_identity, jwt_required

app = Flask(__name__)
app.config["JWT_SECRET_KEY"] = os.environ["JWT_SECRET_KEY"]
JWTManager(app)


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/bare/me")
@jwt_required()
def me() -> dict[str, str]:
    return {"id": get_jwt_identity()}
