-- ClickHouse cluster DDL for the analytics store (docs/CLICKHOUSE.md, "A cluster").
-- NOT TESTED HERE: written against ClickHouse's documentation (Replicated*MergeTree,
-- Distributed, ON CLUSTER, macros). The suite runs the single-node tables of
-- backend/app/services/analytics_store/schema.py on chDB. {cluster}, {shard} and {replica}
-- are the servers' macros (config.xml <macros>); `analytics` is ANALYTICS_STORE's database.
-- The app's migration runner does not run this file: create these first, then record the
-- versions it covers so the runner skips them:
--   INSERT INTO analytics.schema_migrations (version, name) VALUES (1, 'events and request logs');

CREATE DATABASE IF NOT EXISTS analytics ON CLUSTER '{cluster}';

CREATE TABLE IF NOT EXISTS analytics.schema_migrations ON CLUSTER '{cluster}' (
    version UInt32, name String, applied_at DateTime DEFAULT now()
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/analytics/schema_migrations', '{replica}')
ORDER BY version;

-- Each shard's replicated part. Same columns, key and partitions as the single node's
-- `events`; replicated_deduplication_window keeps the shipper's insert tokens.
CREATE TABLE IF NOT EXISTS analytics.events_local ON CLUSTER '{cluster}' (
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/analytics/events', '{replica}')
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (event_type, toDate(occurred_at), ifNull(user_id, 0), id);

-- The table the app reads and writes: sharded by the event's own actor, the user or else
-- the anonymous id. Every copy of one event id lands on one shard, so FINAL (per shard)
-- still collapses a repeat. A person whose anonymous history was linked to their user
-- later spans two shards: see docs/CLICKHOUSE.md for what that means for per-person
-- reports (GLOBAL IN / JOIN, or re-shipping the linked history).
CREATE TABLE IF NOT EXISTS analytics.events ON CLUSTER '{cluster}' AS analytics.events_local
ENGINE = Distributed('{cluster}', analytics, events_local,
                     cityHash64(ifNull(toString(user_id), ifNull(anonymous_id, ''))));

CREATE TABLE IF NOT EXISTS analytics.request_logs_local ON CLUSTER '{cluster}' (
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/analytics/request_logs', '{replica}')
PARTITION BY toYYYYMM(created_at)
ORDER BY (endpoint, method, toDate(created_at), id)
TTL toDateTime(created_at) + toIntervalDay(90);

-- Request logs by id: no per-person computation reads them (erasure's UPDATE of user_id
-- runs ON CLUSTER through the Distributed table's shards: ALTER TABLE ... ON CLUSTER).
CREATE TABLE IF NOT EXISTS analytics.request_logs ON CLUSTER '{cluster}'
AS analytics.request_logs_local
ENGINE = Distributed('{cluster}', analytics, request_logs_local, id);
