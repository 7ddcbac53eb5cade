"""The analytics store under test: `store_url` runs a test on the app database and on
chDB. chDB opens one data directory per process, so the session has one, and each test
its own database in it (dropped after)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from flask import current_app

from app.services.analytics_store import schema, store
from app.services.analytics_store.client import ChdbClient
from app.services.analytics_store.settings import parse_store


@pytest.fixture(scope="session")
def chdb_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("chdb"))


def chdb_url(chdb_dir: str) -> str:
    return f"chdb://{chdb_dir}?database=t_{uuid.uuid4().hex[:16]}"


def drop(url: str) -> None:
    spec = parse_store(url)
    assert spec is not None
    ChdbClient(spec).command(f"DROP DATABASE IF EXISTS {spec.database} SYNC")


@pytest.fixture(params=["app", "chdb"])
def store_url(request: pytest.FixtureRequest, chdb_dir: str) -> Iterator[str]:
    """ANALYTICS_STORE for the test: the app database, then a fresh chDB database."""
    if request.param == "app":
        yield "app"
        return
    url = chdb_url(chdb_dir)
    yield url
    drop(url)


def empty_store() -> None:
    """Empty the store (inside an app context), when the app has one: its database made
    anew, since TRUNCATE keeps the deduplication tokens of past inserts, and ids restart."""
    if "analytics_store" not in current_app.extensions or not store.active():
        return
    client = store.client()
    client.command(f"DROP DATABASE IF EXISTS {client.spec.database} SYNC")
    schema.migrate(client, request_log_days=None)


def store_config(store_url: str) -> dict[str, object]:
    """Config overrides for a store under test. No request-log TTL in ClickHouse: it counts
    from the real now, and the data sets live at a frozen date months ago."""
    return {"ANALYTICS_STORE": store_url, "REQUEST_LOG_RETENTION_DAYS": None}


@pytest.fixture
def store_app(app_factory, store_url):  # type: ignore[no-untyped-def]
    """An app whose reports read `store_url` (the app database, or chDB)."""
    return app_factory(**store_config(store_url))


@pytest.fixture
def chdb_app(app_factory, chdb_dir):  # type: ignore[no-untyped-def]
    """An app on chDB that ships only when told (no shipping before a report reads)."""
    url = chdb_url(chdb_dir)
    yield app_factory(**store_config(url), ANALYTICS_SHIP_ON_READ_SECONDS=0)
    drop(url)


def store_rows(sql: str, params: dict[str, object] | None = None) -> list[tuple[object, ...]]:
    """Rows of a query on the app's store ({db} is its database); in an app context."""
    client = store.client()
    return client.query(sql.replace("{db}", client.spec.database), params)
