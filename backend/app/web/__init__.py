"""HTTP plumbing every request passes: request id and receive time, the request-log hook,
rate-limit keys and headers, JWT callbacks and the verified-token cache, the JSON codec and
body parsing, URL converters, the OpenAPI wrapper and the error handlers.

May import app.errors, app.extensions, app.metrics, app.clock and app.models; never a
service (what the hooks need from services is handed to them by the app factory).
"""
