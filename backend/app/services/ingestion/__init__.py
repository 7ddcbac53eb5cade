"""Client events in: pure checks (whitelist, storability, per-type JSON Schemas, client
time), the exactly-once batch path (dedupe by the unique constraint), and the rejected-event
store.

May import models, app-wide modules, services.database and app.web.json_codec (pure).
"""
