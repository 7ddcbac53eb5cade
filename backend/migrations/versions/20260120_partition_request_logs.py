"""Partition request_logs by month on PostgreSQL (SQLite: nothing to do).

The table is rebuilt with its rows: renamed aside, a parent partitioned by RANGE (created_at)
created under the old name, one partition per UTC month (request_logs_pYYYYMM) from the
oldest month with data (at most HISTORY_MONTHS back) to MONTHS_AHEAD months after the
current one, a DEFAULT partition for every other row, the rows copied, the old table dropped.
The primary key becomes (id, created_at), as PostgreSQL requires of a partitioned table; the
id sequence is kept (re-owned by the new table), so ids and the next id are unchanged. The
seed's index names stay on the parent (partitioned indexes). Downgrade does the reverse into
a plain table with pk_request_logs (id), keeping every row and id.

Kept self-contained on purpose (no app imports but the clock, which tests freeze): the app's
partition code (app/services/partitions.py) may change, this revision must not.

Revision ID: 20260120_partition_request_logs
Revises: 20260115_add_privacy
Create Date: 2026-01-20
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from app import clock

revision = "20260120_partition_request_logs"
down_revision = "20260115_add_privacy"
branch_labels = None
depends_on = None

HISTORY_MONTHS = 24
MONTHS_AHEAD = 3
COLUMNS = "id, endpoint, method, status, latency_ms, user_id, ip_address, created_at"
COLUMN_DDL = """
    id BIGINT NOT NULL DEFAULT nextval('{sequence}'::regclass),
    endpoint VARCHAR(255) NOT NULL,
    method VARCHAR(10) NOT NULL,
    status INTEGER NOT NULL,
    latency_ms DOUBLE PRECISION NOT NULL,
    user_id INTEGER,
    ip_address VARCHAR(45),
    created_at TIMESTAMP WITH TIME ZONE NOT NULL
"""


def _month(moment: datetime) -> datetime:
    utc = moment.astimezone(UTC)
    return datetime(utc.year, utc.month, 1, tzinfo=UTC)


def _add_months(month: datetime, count: int) -> datetime:
    index = month.year * 12 + month.month - 1 + count
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def _literal(moment: datetime) -> str:
    return f"'{moment.isoformat()}'"


def _sequence(bind: sa.engine.Connection, table: str) -> str:
    name = bind.execute(sa.text(f"SELECT pg_get_serial_sequence('{table}', 'id')")).scalar()
    if name is None:  # an id without a sequence (hand-made table): give it one
        name = "request_logs_id_seq"
        op.execute(f"CREATE SEQUENCE {name}")
        op.execute(
            f"SELECT setval('{name}', (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
        )
    return name


def _rename_aside(table: str, suffix: str) -> str:
    aside = f"{table}_{suffix}"
    op.execute(f"ALTER TABLE {table} RENAME TO {aside}")
    op.execute(f"ALTER TABLE {aside} RENAME CONSTRAINT pk_request_logs TO pk_request_logs_{suffix}")
    for index in ("idx_logs_endpoint", "idx_logs_user"):
        op.execute(f"ALTER INDEX {index} RENAME TO {index}_{suffix}")
    return aside


def _months_to_create(bind: sa.engine.Connection, source: str) -> list[datetime]:
    current = _month(clock.now())
    first = _add_months(current, -HISTORY_MONTHS)
    last = _add_months(current, MONTHS_AHEAD)
    oldest = bind.execute(
        sa.text(f"SELECT min(created_at) FROM {source} WHERE created_at >= :first"),
        {"first": first},
    ).scalar()
    start = min(_month(oldest), current) if oldest is not None else current
    months = []
    while start <= last:
        months.append(start)
        start = _add_months(start, 1)
    return months


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    sequence = _sequence(bind, "request_logs")
    old = _rename_aside("request_logs", "unpartitioned")
    op.execute(
        f"CREATE TABLE request_logs ({COLUMN_DDL.format(sequence=sequence)}) "
        "PARTITION BY RANGE (created_at)"
    )
    # The sequence follows the new table, so dropping the old one keeps it.
    op.execute(f"ALTER SEQUENCE {sequence} OWNED BY request_logs.id")
    for month in _months_to_create(bind, old):
        name = f"request_logs_p{month.year:04d}{month.month:02d}"
        op.execute(
            f"CREATE TABLE {name} PARTITION OF request_logs FOR VALUES "
            f"FROM ({_literal(month)}) TO ({_literal(_add_months(month, 1))})"
        )
    op.execute("CREATE TABLE request_logs_default PARTITION OF request_logs DEFAULT")
    op.execute(f"INSERT INTO request_logs ({COLUMNS}) SELECT {COLUMNS} FROM {old}")
    op.execute(f"DROP TABLE {old}")
    # Keys and indexes after the copy: one build per partition instead of row by row.
    op.execute(
        "ALTER TABLE request_logs ADD CONSTRAINT pk_request_logs PRIMARY KEY (id, created_at)"
    )
    op.execute("CREATE INDEX idx_logs_endpoint ON request_logs (endpoint)")
    op.execute("CREATE INDEX idx_logs_user ON request_logs (user_id)")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    sequence = _sequence(bind, "request_logs")
    old = _rename_aside("request_logs", "partitioned")
    op.execute(f"CREATE TABLE request_logs ({COLUMN_DDL.format(sequence=sequence)})")
    op.execute(f"ALTER SEQUENCE {sequence} OWNED BY request_logs.id")
    op.execute(f"INSERT INTO request_logs ({COLUMNS}) SELECT {COLUMNS} FROM {old}")
    op.execute(f"DROP TABLE {old}")  # and its partitions
    op.execute("ALTER TABLE request_logs ADD CONSTRAINT pk_request_logs PRIMARY KEY (id)")
    op.execute("CREATE INDEX idx_logs_endpoint ON request_logs (endpoint)")
    op.execute("CREATE INDEX idx_logs_user ON request_logs (user_id)")
