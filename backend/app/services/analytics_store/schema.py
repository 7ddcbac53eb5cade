"""The store's tables, as numbered migrations applied in order and recorded in
`schema_migrations` (version, name, applied_at).

Each migration is a list of statements that are safe to run twice (IF NOT EXISTS), so two
processes migrating at once, or a crash between a statement and its record, only repeat
work. A landed migration is never edited; a change is a new number.

Events: ReplacingMergeTree keyed by (event_type, UTC date, user, id): shipping an event id
again replaces it (reads use FINAL, so a double is never counted even before the merge),
and the reports' filters (type, time range) prune by the key's prefix. Request logs: the
same, keyed by route; their TTL follows REQUEST_LOG_RETENTION_DAYS (applied at migrate).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.services.analytics_store.client import Client, table

# Event columns shipped from analytics_events, in order (the store's names are the same).
EVENT_COLUMNS = (
    "id",
    "user_id",
    "anonymous_id",
    "event_type",
    "event_data",
    "occurred_at",
    "created_at",
    "event_id",
    "session_id",
    "platform",
    "os_name",
    "os_version",
    "app_version",
    "app_build",
    "device_model",
    "locale",
    "timezone",
    "library_name",
    "library_version",
    "browser_name",
    "browser_version",
)
LOG_COLUMNS = (
    "id",
    "endpoint",
    "method",
    "status",
    "latency_ms",
    "user_id",
    "ip_address",
    "created_at",
)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]  # "{db}" is the store's database


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "events and request logs",
        (
            """CREATE TABLE IF NOT EXISTS {db}.events (
                id UInt64,
                user_id Nullable(Int64),
                anonymous_id Nullable(String),
                event_type LowCardinality(String),
                event_data String,
                occurred_at DateTime64(6, 'UTC'),
                created_at DateTime64(6, 'UTC'),
                event_id Nullable(UUID),
                session_id Nullable(String),
                platform LowCardinality(Nullable(String)),
                os_name LowCardinality(Nullable(String)),
                os_version Nullable(String),
                app_version LowCardinality(Nullable(String)),
                app_build Nullable(String),
                device_model Nullable(String),
                locale LowCardinality(Nullable(String)),
                timezone LowCardinality(Nullable(String)),
                library_name LowCardinality(Nullable(String)),
                library_version Nullable(String),
                browser_name LowCardinality(Nullable(String)),
                browser_version Nullable(String),
                shipped_at DateTime64(3, 'UTC') DEFAULT now64(3)
            )
            ENGINE = ReplacingMergeTree
            PARTITION BY toYYYYMM(occurred_at)
            ORDER BY (event_type, toDate(occurred_at), ifNull(user_id, 0), id)
            SETTINGS non_replicated_deduplication_window = 1000""",
            """CREATE TABLE IF NOT EXISTS {db}.request_logs (
                id UInt64,
                endpoint LowCardinality(String),
                method LowCardinality(String),
                status UInt16,
                latency_ms Float64,
                user_id Nullable(Int64),
                ip_address Nullable(String),
                created_at DateTime64(6, 'UTC'),
                shipped_at DateTime64(3, 'UTC') DEFAULT now64(3)
            )
            ENGINE = ReplacingMergeTree
            PARTITION BY toYYYYMM(created_at)
            ORDER BY (endpoint, method, toDate(created_at), id)
            SETTINGS non_replicated_deduplication_window = 1000""",
        ),
    ),
)
DATA_TABLES = ("events", "request_logs")


def migrate(client: Client, *, request_log_days: int | None) -> list[int]:
    """Create the database and apply every migration not yet recorded; the versions applied.
    Then set the request logs' TTL from the configuration (none: kept for ever)."""
    db = client.spec.database
    client.command(f"CREATE DATABASE IF NOT EXISTS {db}")
    client.command(
        f"""CREATE TABLE IF NOT EXISTS {table(client.spec, 'schema_migrations')} (
            version UInt32, name String, applied_at DateTime DEFAULT now()
        ) ENGINE = MergeTree ORDER BY version"""
    )
    done = {row[0] for row in client.query(f"SELECT version FROM {db}.schema_migrations")}
    applied = []
    for migration in MIGRATIONS:
        if migration.version in done:
            continue
        for statement in migration.statements:
            client.command(statement.replace("{db}", db))
        client.insert(
            f"{db}.schema_migrations", ("version", "name"), [(migration.version, migration.name)]
        )
        applied.append(migration.version)
    _set_log_ttl(client, request_log_days)
    return applied


def _set_log_ttl(client: Client, days: int | None) -> None:
    logs = table(client.spec, "request_logs")
    if days is None:
        if _has_ttl(client):
            client.command(f"ALTER TABLE {logs} REMOVE TTL")
        return
    # materialize_ttl_after_modify = 0: a changed TTL applies at the next merges, not as a
    # mutation rewriting every part now (the default would, on a large table).
    client.command(
        f"ALTER TABLE {logs} MODIFY TTL toDateTime(created_at) + toIntervalDay({int(days)})",
        settings={"materialize_ttl_after_modify": 0},
    )


def _has_ttl(client: Client) -> bool:
    rows = client.query(
        "SELECT engine_full FROM system.tables"
        " WHERE database = {db:String} AND name = 'request_logs'",
        {"db": client.spec.database},
    )
    return bool(rows) and " TTL " in rows[0][0]


def applied_versions(client: Client) -> list[int]:
    rows = client.query(f"SELECT version FROM {client.spec.database}.schema_migrations ORDER BY 1")
    return [row[0] for row in rows]
