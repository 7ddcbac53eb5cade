"""The revision chain, a full upgrade/downgrade round trip, and models == migrations."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from app.extensions import db
from app.services.request_logs.partitions import is_partition_name
from tests.conftest import MIGRATIONS
from tests.migration_support import (
    EVENTS,
    HEAD,
    LIKES,
    LOGS,
    app_on,
    current_revision,
    scratch_database,
    script,
    table_names,
)

INITIAL = "20251220_initial_schema"


@pytest.fixture(params=["sqlite", "postgresql"])
def scratch_url(request, tmp_path):
    yield from scratch_database(request, tmp_path)


def test_revision_ids_equal_file_stems():
    files = sorted(Path(MIGRATIONS, "versions").glob("*.py"))
    assert files
    for path in files:
        revision = script().get_revision(path.stem)
        assert revision is not None, f"{path.name}: no revision with id {path.stem!r}"
        assert Path(revision.path).resolve() == path.resolve()


def test_revisions_form_one_linear_chain_in_date_order():
    directory = script()
    assert directory.get_heads() == [HEAD]
    assert directory.get_bases() == [INITIAL]
    chain = [rev.revision for rev in directory.walk_revisions("base", "heads")][::-1]
    assert chain[:4] == [INITIAL, LIKES, EVENTS, LOGS]
    assert chain == sorted(path.stem for path in Path(MIGRATIONS, "versions").glob("*.py"))
    for rev in directory.walk_revisions():
        assert not rev.is_merge_point and not rev.is_branch_point, rev.revision
        assert rev.branch_labels == set() and not rev.dependencies, rev.revision
    assert len(chain) == len(list(Path(MIGRATIONS, "versions").glob("*.py")))


def test_empty_upgrade_downgrade_upgrade_round_trip(scratch_url):
    model_tables = set(db.metadata.tables)
    with app_on(scratch_url):
        assert table_names() == set()
        upgrade(directory=MIGRATIONS)
        assert current_revision() == HEAD
        assert table_names() == model_tables
        downgrade(directory=MIGRATIONS, revision="base")
        assert current_revision() is None
        assert table_names() == set()
        upgrade(directory=MIGRATIONS)
        assert current_revision() == HEAD
        assert table_names() == model_tables


def test_each_revision_downgrades_one_step(scratch_url):
    with app_on(scratch_url):
        upgrade(directory=MIGRATIONS)
        chain = [rev.revision for rev in script().walk_revisions("base", "heads")]
        for expected in chain[1:]:  # newest first, down to the initial schema
            downgrade(directory=MIGRATIONS, revision="-1")
            assert current_revision() == expected
        assert table_names() == {
            "users",
            "challenges",
            "videos",
            "plans",
            "enrollments",
            "completions",
            "revoked_tokens",
        }


def _include_name(name, type_, parent_names) -> bool:  # type: ignore[no-untyped-def]
    # The same filter as migrations/env.py: the models describe request_logs' parent only.
    return type_ != "table" or not is_partition_name(name)


def _schema_diff() -> list:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_name": _include_name,
            },
        )
        return compare_metadata(context, db.metadata)


def test_models_and_migrations_agree(scratch_url):
    with app_on(scratch_url):
        upgrade(directory=MIGRATIONS)
        assert _schema_diff() == []


def test_comparison_detects_a_schema_drift(scratch_url):
    # The check above must be able to fail: drop an index the models declare.
    with app_on(scratch_url):
        upgrade(directory=MIGRATIONS)
        with db.engine.begin() as conn:
            conn.execute(db.text("DROP INDEX idx_logs_user"))
        diff = _schema_diff()
    assert [(d[0], d[1].name) for d in diff] == [("add_index", "idx_logs_user")]
