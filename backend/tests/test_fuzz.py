"""Schemathesis over the whole of /api/openapi.json, with every response check on.

Checks: no 5xx, every status documented, content types, response headers and bodies as
documented, and invalid (negative) data refused with a 4xx. Deterministic and bounded: a
fixed example budget per operation and generation mode, derandomized, one app per database.

Every case gets a fresh token, so operations that destroy credentials (logout revokes the
presented token, a password change bumps the token version) only ever destroy a throwaway
token. The insights and /admin operations run as an admin, /v1 with a server write key,
the rest as a user; an admin erasure drawn against either user erases a fresh victim
instead. Every other positive case is pointed at things that exist (ids, day 1, a
whitelisted event type, the user's password), so success paths are checked too.
The statuses a run seldom reaches (429, 413, 415, 503...) are in test_openapi_responses.
"""

from __future__ import annotations

import base64
from collections import Counter
from typing import Any

import schemathesis
from flask import Flask
from flask_jwt_extended import create_access_token, create_refresh_token
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from app.extensions import db
from app.models import Video
from app.services.auth import service as auth_service
from app.services.challenges import service as challenge_service
from app.services.demo import seed as seed_service
from app.services.write_keys import service as write_keys

# Examples per operation and mode, drawn derandomized: the run is bounded by this count
# (about 20 s a database on 2 cores), not by a clock that a loaded machine would miss.
EXAMPLES_PER_MODE = 15
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]
ADMIN_PREFIXES = ("/api/v2/insights/", "/api/v2/admin/")
# Query parameters left out of a case made valid: drawn values that rarely fit together.
DRAWN_ONLY = frozenset({"from", "to", "preset", "breakdown", "endpoint", "method", "cursor"})


class Identities:
    """The fuzz user and the admin, and fresh tokens for them."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        with app.app_context():
            result = seed_service.seed_demo()
            user = auth_service.create(
                email="fuzz@example.com", password="fuzz-password-1", display_name="Fuzz"
            )
            challenge_service.join(user=user, challenge_id=result.challenge.id)
            admin = auth_service.create(
                email="fuzz-admin@example.com",
                password="fuzz-password-1",
                display_name="Fuzz admin",
                is_admin=True,
            )
            self.user_id, self.admin_id = user.id, admin.id
            self.write_key = write_keys.create(source="server", name="fuzz").plaintext
            video_id = db.session.scalars(select(Video.id).order_by(Video.id)).first()
            self.known = {
                "challenge_id": result.challenge.id,
                "video_id": video_id,
                "day": 1,
                "user_id": user.id,
                "event_type": ["app_opened"],
                "start_event": "app_opened",
                "return_event": "app_opened",
                "tz": "UTC",
            }
        self.victims = 0

    def headers(self, path: str, *, refresh: bool) -> dict[str, str]:
        if path.startswith("/v1/"):
            basic = base64.b64encode(f"{self.write_key}:".encode()).decode()
            return {"Authorization": f"Basic {basic}"}
        user_id = self.admin_id if path.startswith(ADMIN_PREFIXES) else self.user_id
        with self.app.app_context():
            claims = {"ver": auth_service.get_user(user_id=user_id).token_version}
            make = create_refresh_token if refresh else create_access_token
            token = make(identity=str(user_id), additional_claims=claims)
        return {"Authorization": f"Bearer {token}"}

    def make_valid(self, case: Any) -> None:
        """Point a positive case at things that exist: ids, day 1, known event types.

        Drawn ids are almost never stored ones and drawn event types never whitelisted
        ones, so without this the run would see little but 404 and 422.
        """
        for name in case.path_parameters or {}:
            if name in self.known:
                case.path_parameters[name] = self.known[name]
        if case.query:
            for name in list(case.query):
                if name in self.known:
                    case.query[name] = self.known[name]
                elif name in DRAWN_ONLY:
                    del case.query[name]
        if isinstance(case.body, dict):
            _make_body_valid(case.body, top=not case.path.endswith("/batch"))

    def rejoin(self) -> None:
        with self.app.app_context():
            user = auth_service.get_user(user_id=self.user_id)
            challenge_service.join(user=user, challenge_id=self.known["challenge_id"])

    def victim(self) -> int:
        self.victims += 1
        with self.app.app_context():
            user = auth_service.create(
                email=f"victim-{self.victims}@example.com",
                password="fuzz-password-1",
                display_name="Victim",
            )
            return user.id


def test_fuzz_whole_document_with_every_check(app_factory) -> None:
    app = app_factory(
        WRITE_LIMIT="100000 per minute",
        AUTH_LIMIT="100000 per minute",
        EVENT_LIMIT="100000 per minute",
    )
    identities = Identities(app)
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    # The bearer token is ours (a fresh one per case), never a generated or removed header.
    schema.config.generation.update(with_security_parameters=False)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    failures: list[str] = []
    statuses: Counter[tuple[str, int]] = Counter()
    for operation in operations:
        for mode in MODES:
            _fuzz(identities, operation, mode, failures, statuses)

    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(failures[:60])
    # The run reached the operations' success paths, not only their refusals.
    succeeded = {label for label, status in statuses if status < 300}
    assert len(succeeded) >= len(operations) * 3 // 4, sorted(succeeded)


def _fuzz(
    identities: Identities,
    operation: Any,
    mode: GenerationMode,
    failures: list[str],
    statuses: Counter[tuple[str, int]],
) -> None:
    refresh = operation.path.endswith("/auth/refresh")
    erases_user = operation.method.upper() == "DELETE" and "{user_id}" in operation.path
    drawn = [0]

    @settings(
        max_examples=EXAMPLES_PER_MODE,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        drawn[0] += 1
        if mode is GenerationMode.POSITIVE and drawn[0] % 2:
            identities.make_valid(case)
        if erases_user and case.path_parameters.get("user_id") in (
            identities.user_id,
            identities.admin_id,
        ):
            case.path_parameters["user_id"] = identities.victim()
        headers = identities.headers(operation.path, refresh=refresh)
        response = case.call(headers=headers)
        statuses[(operation.label, response.status_code)] += 1
        if operation.path.endswith("/leave") and response.status_code == 200:
            identities.rejoin()  # the plan operations need the fuzz user enrolled
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (AssertionError, FailureGroup) as exc:  # every failure, not only the first
            sent = f"path={case.path_parameters} query={case.query} body={str(case.body)[:200]}"
            failures.append(f"[{mode.value}] {operation.label} ({sent}): {_describe(exc)}")

    try:
        run()
    except Unsatisfiable:
        # Nothing of the operation can be made invalid (no parameters, no body).
        assert mode is GenerationMode.NEGATIVE, operation.label


def _describe(exc: BaseException) -> str:
    parts = exc.exceptions if isinstance(exc, BaseExceptionGroup) else (exc,)
    return " | ".join(
        f"{getattr(part, 'title', type(part).__name__)}: {str(part)[:400]}" for part in parts
    )


# Body values made valid: the fuzz user's credentials (login; a password change keeps the
# same password), a whitelisted event type, no event data or step filter.
BODY_KNOWN = {
    "email": "fuzz@example.com",
    "password": "fuzz-password-1",
    "current_password": "fuzz-password-1",
    "new_password": "fuzz-password-1",
    "event_type": "app_opened",
    "event_data": {},
    "where": {},
}


def _make_body_valid(body: dict[str, Any], *, top: bool) -> None:
    if "current_password" not in body and "email" not in body:
        body.pop("password", None)  # DELETE /me: erasing the fuzz user would end the run
    for name, value in BODY_KNOWN.items():
        if name in body and not (name == "password" and "email" not in body):
            body[name] = value
    if top:  # a single event: drawn client times are usually far off (refused, 422)
        body.pop("occurred_at", None)
        body.pop("sent_at", None)
    for step in body.get("steps") or []:
        if isinstance(step, dict):
            _make_body_valid(step, top=False)
