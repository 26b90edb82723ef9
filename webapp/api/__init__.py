"""The JSON API: /api/v1, its OpenAPI 3.1 description at /api/openapi.json and the docs at /api/docs.

Built with flask-smorest: its blueprints are Flask blueprints (the shape of the rest of the site), and one
marshmallow schema per body both validates the request (422 with the field's message) and writes the OpenAPI
document, so the description cannot drift from the code. Its ETag support serves the catalog reads.

Every route calls the same services as the website; no rule of the shop lives here. Errors keep one shape
(webapp.errors.api_error). Tokens: webapp.api.auth and services.people.api_tokens."""
from __future__ import annotations

from typing import Any

from flask import Flask, render_template
from flask_cors import CORS
from flask_smorest import Api

from ..extensions import csrf
from . import (
    account,
    admin_catalog,
    admin_orders,
    admin_people,
    author,
    catalog,
    circulation,
    limits,
    membership,
    orders,
    shopping,
    tokens,
)
from .schemas import ErrorSchema

AREAS = (tokens, account, catalog, shopping, orders, circulation, membership, author, admin_catalog, admin_orders,
         admin_people)


class FolioApi(Api):  # type: ignore[misc]  # flask-smorest ships no type information
    """flask-smorest's Api, but errors are answered by webapp.errors for the whole app (its own handler would
    answer every page of the site in JSON), in Folio's error shape."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        return None


SPEC: dict[str, Any] = {
    "info": {"description": "Folio's JSON API: the catalog, your cart, checkout, orders, rentals, holds, plan and "
                            "wallet; staff and author areas. Amounts are integer cents with their currency. "
                            "Errors: {\"error\": {\"code\", \"message\", \"fields\"}}. Sign in at POST "
                            "/api/v1/auth/token, then send 'Authorization: Bearer <access_token>'."},
    "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
}


def init_app(app: Flask) -> None:
    app.config.setdefault("API_TITLE", "Folio API")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.1.0")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    api = FolioApi(app, spec_kwargs=SPEC)
    for area in AREAS:
        limits.apply(area.blp)
        csrf.exempt(area.blp)  # bearer tokens, never cookies: nothing for a forged cross-site request to ride on
        api.register_blueprint(area.blp)
    if app.config.get("API_CORS_ORIGINS"):
        CORS(app, resources={r"/api/*": {"origins": app.config["API_CORS_ORIGINS"]}},
             allow_headers=["Authorization", "Content-Type", "If-None-Match"], expose_headers=["ETag", "Retry-After"],
             supports_credentials=False, max_age=600)

    @app.get("/api/docs")
    def api_docs() -> str:
        """The API's reference, from the vendored Swagger UI (no CDN) reading /api/openapi.json."""
        return render_template("api/docs.html")
