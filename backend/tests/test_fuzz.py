"""Schemathesis against /api/openapi.json, authenticated: no 5xx, responses match the schema.

Deterministic: a fixed example budget per operation and derandomized generation.
Every case gets a fresh token minted for the fuzz user, so operations that destroy
credentials (logout revokes the presented token, a password change bumps the token
version) only ever destroy a throwaway token, and the rest of the run keeps working.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask_jwt_extended import create_access_token, create_refresh_token
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from app.services.auth import service as auth_service
from app.services.challenges import service as challenge_service
from app.services.demo import seed as seed_service

EXAMPLES_PER_MODE = 12


def _fuzz_user(app: Flask) -> dict[str, Any]:
    with app.app_context():
        result = seed_service.seed_demo()
        user = auth_service.create(
            email="fuzz@example.com", password="fuzz-password-1", display_name="Fuzz"
        )
        challenge_service.join(user=user, challenge_id=result.challenge.id)
        return {"id": user.id, "version": user.token_version}


def _headers(app: Flask, user: dict[str, Any], *, refresh: bool) -> dict[str, str]:
    with app.app_context():
        claims = {"ver": auth_service.get_user(user_id=user["id"]).token_version}
        make = create_refresh_token if refresh else create_access_token
        token = make(identity=str(user["id"]), additional_claims=claims)
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_fuzz_api_has_no_server_errors_and_matches_schema(app_factory, mode) -> None:
    app = app_factory(WRITE_LIMIT="100000 per minute", AUTH_LIMIT="100000 per minute")
    user = _fuzz_user(app)
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    failures: list[str] = []

    for operation in operations:
        _fuzz_operation(app, user, operation, mode, failures)

    assert not failures, "\n\n".join(failures[:10])


def _fuzz_operation(
    app: Flask, user: dict[str, Any], operation: Any, mode: Any, failures: list[str]
) -> None:
    refresh = operation.path.endswith("/auth/refresh")

    @settings(
        max_examples=EXAMPLES_PER_MODE,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(headers=_headers(app, user, refresh=refresh))
        try:
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance]
            )
        except Exception as exc:  # noqa: BLE001 - schemathesis failure groups; report all
            failures.append(f"{case.method} {case.path}: {str(exc)[:600]}")

    run()
