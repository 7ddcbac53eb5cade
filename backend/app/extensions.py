"""Extensions, created once and bound to an app with init_app()."""

from __future__ import annotations

from flask_cors import CORS
from flask_limiter import Limiter
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from app.models.base import Base
from app.web.openapi import ProblemApi
from app.web.rate_limit_keys import user_or_ip_key
from app.web.verified_tokens import CachingJWTManager

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
jwt = CachingJWTManager()
limiter = Limiter(key_func=user_or_ip_key, default_limits=[])
api = ProblemApi()
cors = CORS()
