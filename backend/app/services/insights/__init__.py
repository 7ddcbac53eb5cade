"""Insights reports: one module per report, parameters in, a typed result out.

Every report computes in the database with select() (see sql.py for the few
expressions that differ between PostgreSQL and SQLite) and only post-processes the
aggregated rows in Python (zero-filling, shares, cumulative sums).
"""
