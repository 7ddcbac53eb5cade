"""20260120_partition_request_logs: a table full of rows partitioned by month and back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from app import clock
from app.extensions import db
from tests.conftest import MIGRATIONS
from tests.migration_support import app_on
from tests.partition_support import (
    BEFORE,
    expected_partition,
    insert_logs,
    migrate,
    partition_names,
    placement,
    rows,
    scratch_url,
    tables_like_partitions,
    utc,
)

NOW = utc(2026, 3, 15, 10, 0)
MONTHS = {f"request_logs_p{m}" for m in ("202512", "202601", "202602", "202603", "202604",
                                         "202605", "202606")}
# Several months of traffic, both sides of month boundaries, and rows far outside:
# before the 24 months the migration prepares, and years ahead.
STAMPS = [
    *(utc(2025, 12, 5) + timedelta(hours=7 * i) for i in range(40)),
    *(utc(2026, 1, 20) + timedelta(hours=13 * i) for i in range(60)),
    utc(2026, 1, 31, 23, 59, 59, 999999),
    utc(2026, 2, 1),
    utc(2026, 3, 15, 9, 59),
    utc(2019, 6, 1, 12),
    utc(2031, 1, 1),
]


@pytest.fixture
def pg_url(request, tmp_path):
    request.param = "postgresql"
    yield from scratch_url(request, tmp_path)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_url(request, tmp_path):
    yield from scratch_url(request, tmp_path)


def _next_id(engine) -> int:
    insert_logs(engine, [NOW])
    with engine.connect() as conn:
        return conn.execute(text("SELECT max(id) FROM request_logs")).scalar_one()


def _fill_before_the_migration(url: str) -> None:
    migrate(url, now=NOW, revision=BEFORE)
    with app_on(url):
        insert_logs(db.engine, STAMPS, user_id=7)
        with db.engine.begin() as conn:  # gaps in the ids, as prune leaves them
            conn.execute(text("DELETE FROM request_logs WHERE id IN (3, 50, 51)"))


def test_upgrade_partitions_rows_by_month_and_downgrade_restores_the_plain_table(pg_url):
    _fill_before_the_migration(pg_url)
    with app_on(pg_url) as app:
        before = rows(db.engine)
        assert len(before) == len(STAMPS) - 3
        with db.engine.connect() as conn:
            last_id = conn.execute(text("SELECT last_value FROM request_logs_id_seq")).scalar()

        clock.set_clock(lambda: NOW)
        upgrade(directory=MIGRATIONS)
        engine = db.engine
        with engine.connect() as conn:
            kind = conn.execute(
                text("SELECT relkind FROM pg_class WHERE relname = 'request_logs'")
            ).scalar()
        assert kind == "p"
        assert partition_names(engine) == MONTHS | {"request_logs_default"}
        assert rows(engine) == before
        where = placement(engine)
        assert {row[0]: expected_partition(row[-1], MONTHS) for row in before} == where
        assert sorted(where.values()).count("request_logs_default") == 2  # 2019 and 2031
        inspector = inspect(engine)
        assert inspector.get_pk_constraint("request_logs") | {"comment": None} == {
            "name": "pk_request_logs",
            "constrained_columns": ["id", "created_at"],
            "comment": None,
            "dialect_options": {"postgresql_include": []},
        }
        assert {ix["name"]: ix["column_names"] for ix in inspector.get_indexes("request_logs")} == {
            "idx_logs_endpoint": ["endpoint"],
            "idx_logs_user": ["user_id"],
        }
        # The writer inserts without an id: the sequence goes on where it was.
        assert _next_id(engine) == last_id + 1
        assert placement(engine)[last_id + 1] == "request_logs_p202603"
        runner = app.test_cli_runner()
        verify = runner.invoke(args=["analytics", "verify"])
        assert verify.exit_code == 0, verify.output
        check = runner.invoke(args=["db", "check"])
        assert check.exit_code == 0, check.output
        after_upgrade = rows(engine)

        downgrade(directory=MIGRATIONS, revision=BEFORE)
        inspector = inspect(engine)
        assert tables_like_partitions(engine) == set()  # the partitions went with the parent
        assert rows(engine) == after_upgrade
        assert inspector.get_pk_constraint("request_logs")["name"] == "pk_request_logs"
        assert inspector.get_pk_constraint("request_logs")["constrained_columns"] == ["id"]
        assert {ix["name"]: ix["column_names"] for ix in inspector.get_indexes("request_logs")} == {
            "idx_logs_endpoint": ["endpoint"],
            "idx_logs_user": ["user_id"],
        }
        assert _next_id(engine) == last_id + 2
        with engine.connect() as conn:
            kind = conn.execute(
                text("SELECT relkind FROM pg_class WHERE relname = 'request_logs'")
            ).scalar()
        assert kind == "r"


def test_upgrade_of_an_empty_table_prepares_the_current_and_next_months(pg_url):
    migrate(pg_url, now=utc(2026, 11, 30, 23, 59))
    with app_on(pg_url):
        assert partition_names(db.engine) == {
            "request_logs_p202611",
            "request_logs_p202612",
            "request_logs_p202701",
            "request_logs_p202702",
            "request_logs_default",
        }


def test_migration_keeps_every_row_on_both_databases(any_url):
    _fill_before_the_migration(any_url)
    with app_on(any_url):
        before = rows(db.engine)
        upgrade(directory=MIGRATIONS)
        assert rows(db.engine) == before
        downgrade(directory=MIGRATIONS, revision=BEFORE)
        assert rows(db.engine) == before


def test_db_check_ignores_partitions_but_still_sees_a_drift(any_url):
    migrate(any_url, now=NOW)
    with app_on(any_url) as app:
        runner = app.test_cli_runner()
        check = runner.invoke(args=["db", "check"])
        assert check.exit_code == 0, check.output
        with db.engine.begin() as conn:
            conn.execute(text("DROP INDEX idx_logs_user"))
        drifted = runner.invoke(args=["db", "check"])
    assert drifted.exit_code != 0
    assert "idx_logs_user" in str(drifted.exception) + drifted.output
