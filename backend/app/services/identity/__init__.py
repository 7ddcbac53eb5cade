"""Identity: anonymous ids (a device or a browser) linked to the user they turned out to be.

One anonymous id belongs to at most one user, and the first link stands: a client cannot
move a history that is already someone's to itself. Callers decide who may link (the /v1
ingestion: a secret server key, or a public key with that user's access token).

May import models and app-wide modules.
"""
