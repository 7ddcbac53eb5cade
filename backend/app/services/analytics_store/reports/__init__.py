"""ClickHouse queries of the reports the store serves, one module per report. Each returns
the rows the report's own module (services/insights/reports/) turns into its result, so
zero-filling, rounding and ordering are shared and the answers are the same."""
