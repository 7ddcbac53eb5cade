"""Write keys of the /v1 ingestion: created, listed and revoked (the CLI), and checked on
every /v1 request. A key is stored as its SHA-256 only and shown once, at creation.

May import models and app-wide modules.
"""
