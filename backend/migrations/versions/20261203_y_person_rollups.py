"""Rollups keyed by person (issue 15): links in the order they were made, and 64-bit keys.

anonymous_identities gets an `id` (BIGINT, autoincrement) as its primary key, in the order
links are made; anonymous_id stays unique (uq_anonymous_identities_anonymous_id), so "the
first link stands" is still decided by a constraint. The rollups fold links by that id,
with a watermark, as they fold events (services/insights/rollups/activity.py).
activity_user_days.user_id and user_event_spans.user_id become BIGINT: they hold a
person's key, a user id or the negative 60-bit key of an unlinked anonymous id.

The activity rollups and the event spans are emptied and their watermarks reset: they
left anonymous events out, and the next reports rebuild them with persons (a first build,
in chunks, reading raw rows meanwhile: docs/ARCHITECTURE.md). They are derived data.

PostgreSQL: the emptied rollup tables change type instantly; anonymous_identities (small,
new today) gets its column and keys in place. SQLite rebuilds both tables (batch mode).
Downgrade empties the rollups again (a 60-bit key does not fit the old INTEGER) and
restores anonymous_id as the primary key.

Revision ID: 20261203_y_person_rollups
Revises: 20261203_x_saved_dashboards
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "20261203_y_person_rollups"
down_revision = "20261203_x_saved_dashboards"
branch_labels = None
depends_on = None

LINKS = "anonymous_identities"
ROLLUPS = ("activity_user_days", "activity_day_counts", "activity_type_counts", "user_event_spans")
KEYED = ("activity_user_days", "user_event_spans")
UNIQUE = "uq_anonymous_identities_anonymous_id"


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _empty_rollups() -> None:
    for table in ROLLUPS:
        op.execute(sa.text(f"DELETE FROM {table}"))
    op.execute(
        sa.text(
            "UPDATE rollup_state SET folded_id = 0 "
            "WHERE name LIKE 'activity:%' OR name = 'event_spans'"
        )
    )
    op.execute(
        sa.text(
            "DELETE FROM rollup_state WHERE name LIKE 'activity-links:%' "
            "OR name = 'event_spans:links'"
        )
    )


def _key_type(new: sa.types.TypeEngine, old: sa.types.TypeEngine) -> None:
    for table in KEYED:
        if _postgres():
            op.alter_column(table, "user_id", type_=new, existing_type=old, existing_nullable=False)
        else:
            with op.batch_alter_table(table) as batch:
                batch.alter_column("user_id", type_=new, existing_type=old, existing_nullable=False)


def _links_table(name: str, *, with_id: bool) -> sa.Table:
    columns = [
        sa.Column("anonymous_id", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("linked_by", sa.String(length=16), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_anonymous_identities_user_id_users"),
            ondelete="CASCADE",
        ),
    ]
    if with_id:
        columns = [
            sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
            *columns,
            sa.PrimaryKeyConstraint("id", name=op.f("pk_anonymous_identities")),
            sa.UniqueConstraint("anonymous_id", name=op.f(UNIQUE)),
        ]
    else:
        columns.append(
            sa.PrimaryKeyConstraint("anonymous_id", name=op.f("pk_anonymous_identities"))
        )
    return op.create_table(name, *columns)


def _sqlite_rebuild_links(*, with_id: bool) -> None:
    """SQLite: a new table in place of the old (its ids in the order of linked_at)."""
    op.drop_index("idx_anonymous_identities_user", table_name=LINKS)
    op.rename_table(LINKS, "anonymous_identities_old")
    _links_table(LINKS, with_id=with_id)
    op.execute(
        sa.text(
            f"INSERT INTO {LINKS} (anonymous_id, user_id, linked_by, linked_at) "
            "SELECT anonymous_id, user_id, linked_by, linked_at FROM anonymous_identities_old "
            "ORDER BY linked_at, anonymous_id"
        )
    )
    op.drop_table("anonymous_identities_old")
    op.create_index("idx_anonymous_identities_user", LINKS, ["user_id"])


def upgrade() -> None:
    _empty_rollups()
    _key_type(sa.BigInteger(), sa.Integer())
    if not _postgres():
        _sqlite_rebuild_links(with_id=True)
        return
    op.add_column(LINKS, sa.Column("id", sa.BigInteger(), nullable=True))
    op.execute(sa.text(f"CREATE SEQUENCE {LINKS}_id_seq OWNED BY {LINKS}.id"))
    op.execute(
        sa.text(
            f"UPDATE {LINKS} SET id = numbered.n FROM (SELECT anonymous_id, nextval("
            f"'{LINKS}_id_seq') AS n FROM (SELECT anonymous_id FROM {LINKS} "
            "ORDER BY linked_at, anonymous_id) AS ordered) AS numbered "
            f"WHERE {LINKS}.anonymous_id = numbered.anonymous_id"
        )
    )
    op.execute(
        sa.text(
            f"ALTER TABLE {LINKS} ALTER COLUMN id SET DEFAULT nextval('{LINKS}_id_seq'), "
            "ALTER COLUMN id SET NOT NULL"
        )
    )
    op.drop_constraint("pk_anonymous_identities", LINKS, type_="primary")
    op.create_primary_key("pk_anonymous_identities", LINKS, ["id"])
    op.create_unique_constraint(UNIQUE, LINKS, ["anonymous_id"])


def downgrade() -> None:
    _empty_rollups()
    _key_type(sa.Integer(), sa.BigInteger())
    if not _postgres():
        _sqlite_rebuild_links(with_id=False)
        return
    op.drop_constraint(UNIQUE, LINKS, type_="unique")
    op.drop_constraint("pk_anonymous_identities", LINKS, type_="primary")
    op.create_primary_key("pk_anonymous_identities", LINKS, ["anonymous_id"])
    op.drop_column(LINKS, "id")
