"""Request logs: the background writer and its parts (queue, bulk insert, on-disk spool)
and the monthly partitions of request_logs on PostgreSQL.

May import models, app-wide modules and services.privacy (IP masking, opt-out).
"""
