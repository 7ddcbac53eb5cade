"""flask-smorest's Api, documenting our problem+json errors instead of its own format."""

from __future__ import annotations

import http
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_smorest import Api
from flask_smorest.utils import prepare_response

from app.schemas.common import ProblemRead

PROBLEM_CONTENT_TYPE = "application/problem+json"

# The docs page, its Swagger UI assets and the document: only our own origin, no inline
# script (the page's set-up is a file), never framed; as the /admin pages are.
DOCS_PATHS = ("/api/docs", "/api/openapi.json")
INIT_SCRIPT = "swagger-init.js"  # in static/openapi/, served beside Swagger UI's assets
DOCS_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def set_docs_headers(response: Response) -> Response:
    """DOCS_HEADERS on every response under DOCS_PATHS."""
    if request.path.startswith(DOCS_PATHS):
        for name, value in DOCS_HEADERS.items():
            response.headers.setdefault(name, value)
    return response


def _header(description: str, kind: str = "string") -> dict[str, Any]:
    return {"description": description, "schema": {"type": kind}}


RETRY_AFTER = _header("Seconds to wait before retrying", "integer")
RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": _header("Requests allowed in the window", "integer"),
    "X-RateLimit-Remaining": _header("Requests left in the window", "integer"),
    "X-RateLimit-Reset": _header("When the window resets (Unix time, seconds)", "number"),
}

# What each error status means in this API, and the headers sent with it.
PROBLEMS: dict[int, dict[str, Any]] = {
    400: {"description": "Bad request: a body that is not JSON, or text or numbers no column "
          "can store (NUL, lone surrogates, beyond a double) in the body or query string"},
    401: {"description": "No valid token: problem types unauthorized, token-expired, "
          "token-revoked, token-invalid",
          "headers": {"WWW-Authenticate": _header("The Bearer challenge")}},
    403: {"description": "Forbidden for this user"},
    404: {"description": "No such resource"},
    405: {"description": "Method not allowed", "headers": {"Allow": _header("Allowed methods")}},
    409: {"description": "Conflicts with stored data"},
    413: {"description": "The body is larger than this operation accepts"},
    415: {"description": "The body is not sent as application/json"},
    422: {"description": "Invalid fields: errors names each field and what is wrong"},
    429: {"description": "Rate limit exceeded",
          "headers": {"Retry-After": RETRY_AFTER, **RATE_LIMIT_HEADERS}},
    503: {"description": "A store (the database) is unavailable: retry after Retry-After",
          "headers": {"Retry-After": RETRY_AFTER}},
}
BODY_METHODS = frozenset({"post", "put", "patch", "delete"})


def problem_statuses(
    operation: dict[str, Any], *, method: str, rate_limited: bool, has_path_params: bool
) -> set[int]:
    """The error statuses any operation of this API can answer, from what it declares.

    Every one may meet the database down (503). A bearer token: 401. Parsed arguments
    (body or query): the JSON layer's 400 and the schemas' 422; a JSON body: 413 too.
    Any body method under /api/ refuses a non-JSON body (415). Path parameters: 404 for
    an id that is not there (or not an id). A rate limit: 429.
    """
    statuses = {503}
    if operation.get("security"):
        statuses.add(401)
    if operation.get("parameters") or operation.get("requestBody"):
        statuses |= {400, 422}
    if operation.get("requestBody"):
        statuses.add(413)
    if method in BODY_METHODS:
        statuses.add(415)
    if has_path_params:
        statuses.add(404)
    if rate_limited:
        statuses.add(429)
    return statuses


class ProblemApi(Api):
    ERROR_SCHEMA = ProblemRead
    # Every operation lists each status it answers (PROBLEMS): no catch-all "default".
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            known = PROBLEMS.get(status.value, {})
            response: dict[str, object] = {"description": known.get("description", status.phrase)}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            if "headers" in known:
                response["headers"] = known["headers"]
            prepare_response(response, self.spec, PROBLEM_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)

    def init_app(self, app: Flask, *, spec_kwargs: dict[str, Any] | None = None) -> None:
        super().init_app(app, spec_kwargs=spec_kwargs)
        app.after_request(set_docs_headers)

    def _register_swagger_ui_rule(self, blueprint: Blueprint) -> None:
        super()._register_swagger_ui_rule(blueprint)
        # A static rule: Werkzeug prefers it to the assets' <path:filename> rule.
        blueprint.add_url_rule(
            f"{self.config['OPENAPI_SWAGGER_UI_URL'].removeprefix('/api')}{INIT_SCRIPT}",
            endpoint="swagger_init",
            view_func=self._swagger_init,
        )

    def _swagger_init(self) -> Response:
        folder = f"{current_app.static_folder}/openapi"
        return send_from_directory(folder, INIT_SCRIPT, max_age=3600)

    def _openapi_swagger_ui(self) -> str:
        """Swagger UI without inline script (flask-smorest's page has one), for the CSP."""
        return render_template(
            "openapi/swagger_ui.html",
            title=self.spec.title,
            spec_url=url_for(f"{self._make_doc_blueprint_name()}.openapi_json"),
            swagger_ui_url=self._swagger_ui_url,
        )
