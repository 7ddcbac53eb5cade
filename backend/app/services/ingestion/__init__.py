"""Client events in: pure checks (whitelist, storability, per-type JSON Schemas, client
time), the exactly-once batch path (dedupe by the unique constraint), the rejected-event
store, and Segment's messages (/v1: segment, segment_context, segment_store).

May import models, app-wide modules, services.database, services.identity and
app.web.json_codec (pure).
"""
