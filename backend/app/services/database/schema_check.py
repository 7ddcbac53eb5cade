"""Checks that the connected database holds the analytics schema ("verify on PROD")."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import inspect

from app.extensions import db

# column -> accepted type names (lower case, as the dialects report them)
EXPECTED_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "analytics_events": {
        "id": ("bigint", "integer"),
        "user_id": ("integer", "bigint"),
        "event_type": ("varchar(64)",),
        "event_data": ("jsonb", "json"),
        "created_at": ("timestamp with time zone", "datetime"),
    },
    "request_logs": {
        "id": ("bigint", "integer"),
        "endpoint": ("varchar(255)",),
        "method": ("varchar(10)",),
        "status": ("integer",),
        "latency_ms": ("double precision", "float"),
        "user_id": ("integer", "bigint"),
        "ip_address": ("varchar(45)",),
        "created_at": ("timestamp with time zone", "datetime"),
    },
}
EXPECTED_INDEXES: dict[str, dict[str, tuple[str, ...]]] = {
    "analytics_events": {
        "idx_events_user": ("user_id",),
        "idx_events_type_date": ("event_type", "created_at"),
    },
    "request_logs": {
        "idx_logs_endpoint": ("endpoint",),
        "idx_logs_user": ("user_id",),
    },
}


@dataclass
class SchemaReport:
    ok: bool = True
    lines: list[str] = field(default_factory=list)

    def found(self, text: str) -> None:
        self.lines.append(f"  ok       {text}")

    def missing(self, text: str) -> None:
        self.ok = False
        self.lines.append(f"  MISSING  {text}")


def _type_name(column_type: object) -> str:
    if getattr(column_type, "timezone", False):
        return "timestamp with time zone"
    return str(column_type).lower()


def verify_analytics_schema() -> SchemaReport:
    inspector = inspect(db.engine)
    report = SchemaReport()
    report.lines.append(f"database: {db.engine.url.render_as_string(hide_password=True)}")
    tables = set(inspector.get_table_names())
    for table, columns in EXPECTED_COLUMNS.items():
        if table not in tables:
            report.missing(f"table {table}")
            continue
        report.found(f"table {table}")
        actual = {c["name"]: _type_name(c["type"]) for c in inspector.get_columns(table)}
        for name, accepted in columns.items():
            if name not in actual:
                report.missing(f"column {table}.{name}")
            elif not any(actual[name].startswith(t) for t in accepted):
                found = actual[name]
                report.missing(f"column {table}.{name} of type {accepted[0]} (found {found})")
            else:
                report.found(f"column {table}.{name} {actual[name]}")
        indexes = {ix["name"]: tuple(ix["column_names"]) for ix in inspector.get_indexes(table)}
        for name, cols in EXPECTED_INDEXES[table].items():
            if indexes.get(name) == cols:
                report.found(f"index {name} ({', '.join(cols)})")
            else:
                report.missing(f"index {name} ({', '.join(cols)})")
    return report
