"""Bodies sent without a Content-Length (Transfer-Encoding: chunked) get one.

Werkzeug limits such a stream to MAX_CONTENT_LENGTH by cutting it short, silently: a
70 KiB JSON body became 64 KiB of broken JSON and a 400, where a declared length gets 413.
This middleware reads a chunked body up to the largest size any route accepts, plus one
byte, and hands the app a Content-Length: the app's per-route limits then answer 413
problem+json exactly as for a declared length. A body over the cap is not read further
(gunicorn closes the connection after the 413).

Behind nginx (deploy/nginx.conf) this never runs: nginx buffers the whole body and sends
a Content-Length to gunicorn.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ChunkedBodyLimit:
    def __init__(self, app: WSGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if environ.get("wsgi.input_terminated") and (chunked or not environ.get("CONTENT_LENGTH")):
            body = _read_at_most(environ["wsgi.input"], self.max_bytes + 1)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            environ["wsgi.input_terminated"] = False
            # Werkzeug ignores Content-Length while the request says "chunked".
            environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.app(environ, start_response)


def _read_at_most(stream: Any, limit: int) -> bytes:
    parts: list[bytes] = []
    left = limit
    while left > 0:
        chunk = stream.read(min(left, 64 * 1024))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)
