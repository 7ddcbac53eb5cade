"""The check behind `flask analytics verify`: is this database the schema the code expects?

Three questions, each answered by the tool that owns it:
- revision: the database's Alembic revision (alembic_version) is the head of the
  migrations directory; otherwise every migration not applied is named;
- schema: Alembic's autogenerate comparison (compare_metadata, as `flask db check` runs it)
  of the database against the models' metadata finds nothing to change: every table,
  column (type, nullability, server default), named index (idx_events_user,
  idx_events_type_date, idx_logs_endpoint, idx_logs_user among them), unique constraint
  and foreign key. Partitions of request_logs are left out, as in migrations/env.py;
- partitions (PostgreSQL): request_logs is partitioned by range of created_at and has
  its default partition.
Anything missing, extra or different is one line; the report fails if there is any.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Dialect, Index, MetaData, Table, text

from app.extensions import db
from app.services.request_logs import partitions

PARTITION_KEY = "RANGE (created_at)"


@dataclass
class SchemaReport:
    ok: bool = True
    lines: list[str] = field(default_factory=list)

    def found(self, text: str) -> None:
        self.lines.append(f"  ok       {text}")

    def missing(self, text: str) -> None:
        self._fail("MISSING", text)

    def extra(self, text: str) -> None:
        self._fail("EXTRA", text)

    def differs(self, text: str) -> None:
        self._fail("DIFFERS", text)

    def _fail(self, word: str, text: str) -> None:
        self.ok = False
        self.lines.append(f"  {word:<8} {text}")


def verify_schema(migrations_dir: str) -> SchemaReport:
    """Compare the app's database with the migrations' head and the models."""
    report = SchemaReport()
    report.lines.append(f"database: {db.engine.url.render_as_string(hide_password=True)}")
    metadata = db.metadata
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_name": _include_name,
            },
        )
        _check_revision(report, context, ScriptDirectory(migrations_dir))
        diffs = compare_metadata(context, metadata)
        _check_schema(report, metadata, diffs, conn.dialect)
        if conn.dialect.name == "postgresql":
            _check_partitions(report, conn)
    return report


def _include_name(name: str | None, type_: str, _parents: dict[str, Any]) -> bool:
    # The same filter as migrations/env.py: the models describe request_logs' parent only.
    return type_ != "table" or not partitions.is_partition_name(name)


def _check_revision(
    report: SchemaReport, context: MigrationContext, script: ScriptDirectory
) -> None:
    heads = set(script.get_heads())
    current = set(context.get_current_heads())
    head_text = ", ".join(sorted(heads))
    if current == heads:
        report.found(f"revision {head_text} (head)")
        return
    if not current:
        report.missing(f"revision: the database has no Alembic revision; head is {head_text}")
    else:
        report.missing(f"revision: the database is at {', '.join(sorted(current))}; "
                       f"head is {head_text}")
    known = {rev.revision for rev in script.walk_revisions()}
    unknown = current - known
    if unknown:
        report.differs(f"revision {', '.join(sorted(unknown))} is not in the migrations directory")
        return
    lower = tuple(current) if current else None
    pending = list(script.iterate_revisions(tuple(heads), lower or "base"))
    for rev in reversed(pending):
        summary = (rev.doc or "").splitlines()[0] if rev.doc else ""
        report.missing(f"migration {rev.revision}: {summary}")


def _columns(table: str, columns: Iterable[Any]) -> str:
    return f"{table}({', '.join(c if isinstance(c, str) else c.name for c in columns)})"


def _describe(report: SchemaReport, diff: Any, dialect: Dialect) -> str | None:
    """Report one autogenerate difference; returns the table it concerns (if any)."""
    if isinstance(diff, list):  # column modifications come grouped
        for item in diff:
            _describe_modify(report, item)
        return diff[0][2] if diff else None
    kind, obj = diff[0], diff[-1]
    action, _, what = kind.partition("_")
    say = report.missing if action == "add" else report.extra
    if what == "table":
        say(f"table {obj.name}")
        return str(obj.name)
    if what == "column":
        say(f"column {diff[2]}.{obj.name} {obj.type.compile(dialect=dialect)}")
        return str(diff[2])
    if what == "index":
        unique = "unique index" if obj.unique else "index"
        say(f"{unique} {obj.name} on {_columns(obj.table.name, obj.expressions)}")
        return str(obj.table.name)
    if what == "constraint":
        say(f"constraint {obj.name} on {_columns(obj.table.name, obj.columns)}")
        return str(obj.table.name)
    if what == "fk":
        target = obj.elements[0].target_fullname.rsplit(".", 1)[0] if obj.elements else "?"
        say(f"foreign key {_columns(obj.parent.name, obj.columns)} -> {target}")
        return str(obj.parent.name)
    report.differs(f"{kind}: {diff[1:]}")
    return None


def _describe_modify(report: SchemaReport, item: tuple[Any, ...]) -> None:
    kind, _schema, table, column, _existing, found, expected = item
    what = kind.removeprefix("modify_")
    found_text = getattr(found, "arg", found)
    expected_text = getattr(expected, "arg", expected)
    report.differs(
        f"column {table}.{column} {what}: the database has {found_text}, "
        f"the models want {expected_text}"
    )


def _check_schema(
    report: SchemaReport, metadata: MetaData, diffs: list[Any], dialect: Dialect
) -> None:
    troubled = {_describe(report, diff, dialect) for diff in diffs}
    for table in sorted(metadata.tables.values(), key=lambda t: t.name):
        if table.name not in troubled:
            report.found(_table_summary(table))


def _table_summary(table: Table) -> str:
    named: list[Index | Any] = sorted(
        (ix for ix in table.indexes if ix.name), key=lambda ix: str(ix.name)
    )
    text_ = f"table {table.name} ({len(table.columns)} columns"
    if named:
        text_ += "; indexes " + ", ".join(str(ix.name) for ix in named)
    return text_ + ")"


def _check_partitions(report: SchemaReport, conn: Connection) -> None:
    parent = partitions.PARENT
    key = conn.execute(
        text(
            "SELECT pg_get_partkeydef(c.oid) FROM pg_class c "
            "WHERE c.oid = to_regclass(:name) AND c.relkind = 'p'"
        ),
        {"name": parent},
    ).scalar()
    if key is None:
        report.missing(f"partitioning: {parent} is not a partitioned table "
                       f"(migration 20260120_partition_request_logs)")
        return
    if key.upper() != PARTITION_KEY.upper():
        report.differs(f"partitioning: {parent} is partitioned by {key}, not {PARTITION_KEY}")
    else:
        report.found(f"partitioning {parent} by {PARTITION_KEY}")
    attached = partitions.attached_partitions(conn)
    default = partitions.DEFAULT_PARTITION
    if default in attached:
        report.found(f"partition {default}")
    else:
        report.missing(f"partition {default} (run `flask analytics partitions`)")
    monthly = sorted(name for name in attached if name != default)
    report.lines.append(f"  info     {len(monthly)} monthly partition(s)"
                        + (f": {monthly[0]} .. {monthly[-1]}" if monthly else ""))
