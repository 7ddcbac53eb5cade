"""Emails are compared in one canonical form (issue 13): NFKC case folding of the whole
address, so case variants and compatibility lookalikes are one account; the migration
rewrites stored addresses and settles collisions."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from flask_migrate import upgrade
from sqlalchemy import MetaData, Table, insert, select
from sqlalchemy.engine import make_url

from app.extensions import db
from app.models.user import normalize_email
from tests.conftest import MIGRATIONS, PG_URL
from tests.migration_support import app_on, scratch_database

REGISTER = "/api/v2/auth/register"
LOGIN = "/api/v2/auth/login"
BEFORE = "20260203_add_cohort_indexes"
REVISION = "20261203_normalize_user_emails"


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        (" Ann.Lee@Example.COM ", "ann.lee@example.com"),
        ("ａｎｎ@ｅｘａｍｐｌｅ.com", "ann@example.com"),  # fullwidth letters
        ("ﬁona@example.com", "fiona@example.com"),  # the fi ligature
        ("STRASSE@Bücher.DE", "strasse@bücher.de"),
        ("Straße@example.com", "strasse@example.com"),
        ("ann@EXAMPLE.com", "ann@example.com"),
    ],
)
def test_normalize_email(typed, canonical):
    assert normalize_email(typed) == canonical
    assert normalize_email(canonical) == canonical


def test_letters_of_another_script_stay_distinct():
    assert normalize_email("аnn@example.com") != "ann@example.com"  # Cyrillic а


def _register(client, email: str):  # type: ignore[no-untyped-def]
    body = {"email": email, "password": "long enough pw", "display_name": "Ann"}
    return client.post(REGISTER, json=body)


@pytest.mark.parametrize(
    "variant",
    ["ANN@EXAMPLE.COM", "Ann@example.com", "ａｎｎ@ｅｘａｍｐｌｅ.ｃｏｍ", " ann@Example.com"],
)
def test_case_variants_and_lookalikes_cannot_register_twice(client, variant):
    first = _register(client, "ann@example.com")
    assert first.status_code == 201 and first.get_json()["email"] == "ann@example.com"
    r = _register(client, variant)
    assert r.status_code == 409, r.get_json()


def test_an_address_is_stored_in_its_canonical_form(client):
    r = _register(client, "Ann.Lee@Example.COM")
    assert r.status_code == 201
    assert r.get_json()["email"] == "ann.lee@example.com"


@pytest.mark.parametrize(
    "typed", ["ann@example.com", "ANN@EXAMPLE.COM", "ann@Example.Com", "ａｎｎ@example.com"]
)
def test_login_works_with_any_case_of_the_address(client, typed):
    assert _register(client, "Ann@Example.com").status_code == 201
    r = client.post(LOGIN, json={"email": typed, "password": "long enough pw"})
    assert r.status_code == 200, r.get_json()


@pytest.fixture(params=["sqlite", "postgresql"])
def scratch_url(request, tmp_path):
    yield from scratch_database(request, tmp_path, name=f"{make_url(PG_URL).database}_emails")


def _add_users(emails: list[str]) -> None:
    users = Table("users", MetaData(), autoload_with=db.engine)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with db.engine.begin() as conn:
        for email in emails:
            conn.execute(insert(users).values(
                email=email, password_hash="x", display_name="U", timezone="UTC",
                is_admin=False, token_version=0, created_at=now,
            ))


def _emails() -> list[tuple[int, str]]:
    users = Table("users", MetaData(), autoload_with=db.engine)
    with db.engine.connect() as conn:
        return list(conn.execute(select(users.c.id, users.c.email).order_by(users.c.id)))


class _Records(logging.Handler):
    """The migration's warnings (alembic's fileConfig replaces the root's handlers)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_the_migration_normalises_stored_emails_and_settles_collisions(scratch_url):
    with app_on(scratch_url):
        upgrade(directory=MIGRATIONS, revision=BEFORE)
        _add_users([
            "Bob@Example.com",  # 1: alone, rewritten
            "ｃａｒｏｌ@example.com",  # 2: takes carol@ (the oldest of its group)
            "CAROL@example.com",  # 3: keeps its address (collides with 2)
            "Dan@example.com",  # 4: keeps its address: 5 already holds the canonical form
            "dan@example.com",  # 5
            "erin@example.com",  # 6: already canonical
        ])
        records, logger = _Records(), logging.getLogger(f"migrations.{REVISION}")
        logger.addHandler(records)
        try:
            upgrade(directory=MIGRATIONS, revision=REVISION)
        finally:
            logger.removeHandler(records)
        assert _emails() == [
            (1, "bob@example.com"),
            (2, "carol@example.com"),
            (3, "CAROL@example.com"),
            (4, "Dan@example.com"),
            (5, "dan@example.com"),
            (6, "erin@example.com"),
        ]
        assert records.messages == [
            "users [3] keep their stored email: it normalises to the address of user 2",
            "users [4] keep their stored email: it normalises to the address of user 5",
        ]
        upgrade(directory=MIGRATIONS)  # to head


def test_the_migration_downgrades_keeping_the_canonical_addresses(scratch_url):
    from flask_migrate import downgrade

    with app_on(scratch_url):
        upgrade(directory=MIGRATIONS, revision=BEFORE)
        _add_users(["Bob@Example.com"])
        upgrade(directory=MIGRATIONS, revision=REVISION)
        downgrade(directory=MIGRATIONS, revision=BEFORE)
        assert _emails() == [(1, "bob@example.com")]
        upgrade(directory=MIGRATIONS, revision=REVISION)
        assert _emails() == [(1, "bob@example.com")]
