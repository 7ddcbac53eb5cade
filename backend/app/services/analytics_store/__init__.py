"""ClickHouse as the analytics store (ANALYTICS_STORE): where reports read events and
request logs when the app database is not enough. Owns the store's settings, its client
(chDB embedded or clickhouse-connect), schema and migrations, the shipper from the app
database, erasure there, and the ClickHouse queries of the reports it serves (reports/).
Imports models and insights' shared plumbing (params, sql); never a report module.
"""
