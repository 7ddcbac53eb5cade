"""Stored emails in their canonical form: NFKC case folding of the whole address (issue 13).

Registration and login compare the canonical form (app.models.user.normalize_email), so a
stored address in another form could not log in and would let a lookalike register beside
it. This rewrites `users.email` to that form; the existing unique constraint
(uq_users_email) is then the unique index on the normalised form.

Collisions (several rows whose addresses normalise to the same): the row already stored in
the canonical form keeps it, or else the oldest (lowest id) takes it. The others keep their
stored address unchanged, and their ids are logged as a warning: logins of that address
reach the row that holds the canonical form, so an operator merges or re-addresses them.

Downgrade keeps the rewritten addresses (the original spellings are not stored): they are
valid addresses for the code before, which compared lower-cased emails.

Revision ID: 20261203_normalize_user_emails
Revises: 20260203_add_cohort_indexes
Create Date: 2026-12-03
"""

import logging
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "20261203_normalize_user_emails"
down_revision = "20260203_add_cohort_indexes"
branch_labels = None
depends_on = None

# Not under "alembic": env.py's fileConfig resets the handlers of alembic's loggers.
log = logging.getLogger(f"migrations.{revision}")

_users = sa.table("users", sa.column("id", sa.Integer), sa.column("email", sa.String))


def _canonical(address: str) -> str:
    """A frozen copy of app.models.user.normalize_email as of this revision."""
    folded = unicodedata.normalize("NFKC", address.strip()).casefold()
    return unicodedata.normalize("NFKC", folded)


def upgrade() -> None:
    conn = op.get_bind()
    groups: dict[str, list[tuple[int, str]]] = {}
    for user_id, email in conn.execute(sa.select(_users.c.id, _users.c.email)):
        groups.setdefault(_canonical(email), []).append((user_id, email))
    for canonical, rows in groups.items():
        if len(rows) == 1 and rows[0][1] == canonical:
            continue
        holder = next((row for row in rows if row[1] == canonical), None)
        if holder is None:
            holder = min(rows)
            conn.execute(
                sa.update(_users).where(_users.c.id == holder[0]).values(email=canonical)
            )
        left = sorted(user_id for user_id, _ in rows if user_id != holder[0])
        if left:
            log.warning(
                "users %s keep their stored email: it normalises to the address of user %s",
                left,
                holder[0],
            )


def downgrade() -> None:
    """Nothing to undo: the canonical addresses are valid for the previous code."""
