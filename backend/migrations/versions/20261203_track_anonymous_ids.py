"""Anonymous visitors, device and app context, write keys and identity links (issue 15).

analytics_events: user_id becomes nullable; new nullable columns anonymous_id, session_id and
the context columns (platform, os_name, os_version, app_version, app_build, device_model,
locale, timezone, library_name, library_version, browser_name, browser_version); a partial
unique index uq_events_anonymous_event_id (anonymous_id, event_id) WHERE user_id IS NULL,
the exactly-once key of anonymous events. New tables write_keys and anonymous_identities.

On PostgreSQL this runs on a live table without long locks:
- DROP NOT NULL and ADD COLUMN of nullable columns without a default change the catalog
  only (no rewrite, no scan); they take the table's ACCESS EXCLUSIVE lock for an instant.
  lock_timeout (5 s) keeps them from queueing every writer behind a long transaction:
  if it expires the migration fails with nothing changed, and is simply run again.
- The index is built with CREATE INDEX CONCURRENTLY in an autocommit block (writes go on
  while it is built). If that build fails it leaves an INVALID index: the statement is
  preceded by DROP INDEX CONCURRENTLY IF EXISTS, so running the upgrade again repairs it.
SQLite rebuilds the table in batch mode (a copy; SQLite has no concurrent writers to spare).

Downgrade deletes the anonymous events (user_id IS NULL: the old schema cannot hold them),
then drops what upgrade added and makes user_id NOT NULL again.

Revision ID: 20261203_track_anonymous_ids
Revises: 20261203_normalize_user_emails
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "20261203_track_anonymous_ids"
down_revision = "20261203_normalize_user_emails"
branch_labels = None
depends_on = None

INDEX = "uq_events_anonymous_event_id"
CONTEXT_COLUMNS: tuple[tuple[str, int], ...] = (
    ("anonymous_id", 200),
    ("session_id", 200),
    ("platform", 16),
    ("os_name", 64),
    ("os_version", 64),
    ("app_version", 64),
    ("app_build", 64),
    ("device_model", 128),
    ("locale", 64),
    ("timezone", 64),
    ("library_name", 64),
    ("library_version", 64),
    ("browser_name", 64),
    ("browser_version", 64),
)


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _create_tables() -> None:
    op.create_table(
        "write_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("key_prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "source IN ('ios', 'android', 'web', 'server')",
            name=op.f("ck_write_keys_source_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_write_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_write_keys_key_hash")),
    )
    op.create_table(
        "anonymous_identities",
        sa.Column("anonymous_id", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("linked_by", sa.String(length=16), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_anonymous_identities_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("anonymous_id", name=op.f("pk_anonymous_identities")),
    )
    op.create_index("idx_anonymous_identities_user", "anonymous_identities", ["user_id"])


def upgrade() -> None:
    _create_tables()
    columns = [sa.Column(name, sa.String(length=n), nullable=True) for name, n in CONTEXT_COLUMNS]
    if not _postgres():
        with op.batch_alter_table("analytics_events") as batch:
            batch.alter_column("user_id", existing_type=sa.Integer(), nullable=True)
            for column in columns:
                batch.add_column(column)
        op.create_index(
            INDEX, "analytics_events", ["anonymous_id", "event_id"], unique=True,
            sqlite_where=sa.text("user_id IS NULL"),
        )
        return
    op.execute("SET LOCAL lock_timeout = '5s'")
    # One ALTER TABLE: the lock is taken once, for a catalog change only.
    additions = ", ".join(f"ADD COLUMN {name} VARCHAR({n})" for name, n in CONTEXT_COLUMNS)
    op.execute(f"ALTER TABLE analytics_events ALTER COLUMN user_id DROP NOT NULL, {additions}")
    with op.get_context().autocommit_block():
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
        op.execute(
            f"CREATE UNIQUE INDEX CONCURRENTLY {INDEX} ON analytics_events"
            " (anonymous_id, event_id) WHERE user_id IS NULL"
        )


def downgrade() -> None:
    op.execute("DELETE FROM analytics_events WHERE user_id IS NULL")
    if _postgres():
        with op.get_context().autocommit_block():
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
        op.execute("SET LOCAL lock_timeout = '5s'")
        drops = ", ".join(f"DROP COLUMN {name}" for name, _ in CONTEXT_COLUMNS)
        # SET NOT NULL scans the table (under the lock) to check it: a deliberate step back.
        op.execute(f"ALTER TABLE analytics_events {drops}, ALTER COLUMN user_id SET NOT NULL")
    else:
        op.drop_index(INDEX, table_name="analytics_events")
        with op.batch_alter_table("analytics_events") as batch:
            for name, _ in reversed(CONTEXT_COLUMNS):
                batch.drop_column(name)
            batch.alter_column("user_id", existing_type=sa.Integer(), nullable=False)
    op.drop_index("idx_anonymous_identities_user", table_name="anonymous_identities")
    op.drop_table("anonymous_identities")
    op.drop_table("write_keys")
