"""The admin check of the team's own endpoints (dashboards, write keys)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask_jwt_extended import current_user

from app.errors import Forbidden
from app.routes._common import auth_required, problems

F = TypeVar("F", bound=Callable[..., Any])


def admins_only(what: str) -> Callable[[F], F]:
    """401 without a valid token, 403 problem+json ("<what> are for admins only.") for a
    user who is not an admin; both documented."""

    def decorator(func: F) -> F:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_admin:
                raise Forbidden(f"{what} are for admins only.")
            return func(*args, **kwargs)

        return auth_required()(problems(403)(wrapper))  # type: ignore[return-value]

    return decorator
