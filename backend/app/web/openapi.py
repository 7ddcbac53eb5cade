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


class ProblemApi(Api):
    ERROR_SCHEMA = ProblemRead

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, object] = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Error (RFC 9457 problem document)", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_CONTENT_TYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)

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
