"""The JSON API: /api/v1, its OpenAPI 3.1 description at /api/openapi.json and the docs at /api/docs.

Built with flask-smorest: its blueprints are Flask blueprints (the shape of the rest of the site), and one
marshmallow schema per body both validates the request (422 with the field's message) and writes the OpenAPI
document, so the description cannot drift from the code. Its ETag support serves the catalog reads.

Every route calls the same services as the website; no rule of the shop lives here. Errors keep one shape
(webapp.errors.api_error). Tokens: webapp.api.auth and services.people.api_tokens.

Here, for every area at once: each body is checked before any route reads it (_json_bodies_only: JSON, at most
1 MiB, parseable, not absurdly nested, no NUL or lone surrogate), the document lists the errors every operation
can answer (ErrorResponsesPlugin) and gives each schema a name of its own (SchemaNames)."""
from __future__ import annotations

import http
import json
from typing import Any

from apispec import BasePlugin
from apispec.ext.marshmallow import MarshmallowPlugin, resolver
from apispec.ext.marshmallow.common import make_schema_key, resolve_schema_instance
from flask import Flask, abort, render_template, request
from flask_cors import CORS
from flask_smorest import Api, Blueprint
from flask_smorest.utils import prepare_response
from werkzeug.routing import Rule

from ..extensions import csrf
from . import (
    account,
    admin_catalog,
    admin_orders,
    admin_people,
    author,
    cart,
    catalog,
    circulation,
    fees,
    limits,
    membership,
    orders,
    shopping,
    tokens,
)
from .errors import fail
from .schemas import ErrorSchema

AREAS = (tokens, account, catalog, cart, shopping, orders, circulation, fees, membership, author, admin_catalog, admin_orders,
         admin_people)


ERROR_HEADERS: dict[int, dict[str, Any]] = {
    429: {"Retry-After": {"description": "Seconds to wait before trying again.", "required": True,
                          "schema": {"type": "integer", "minimum": 1}}},
    401: {"WWW-Authenticate": {"description": "The bearer scheme (RFC 6750), with the error when a token was sent.",
                               "required": True, "schema": {"type": "string"}}},
}


class FolioApi(Api):
    """flask-smorest's Api, but errors are answered by webapp.errors for the whole app (its own handler would
    answer every page of the site in JSON), in Folio's error shape."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        return None

    def _register_responses(self) -> None:
        """flask-smorest's response per status (registered lazily: listed once a route names it), in our error
        shape, with the headers that always come with them: Retry-After on 429, WWW-Authenticate on 401."""
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not 100 <= status < 200 and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            if status in ERROR_HEADERS:
                response["headers"] = ERROR_HEADERS[status]
            prepare_response(response, self.spec, self.DEFAULT_RESPONSE_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Any other error, in the same shape.", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, self.DEFAULT_RESPONSE_CONTENT_TYPE)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)

    def register_blueprint(self, blp: Blueprint, **options: Any) -> None:
        """flask-smorest's, with a tag that reads well ("Admin catalog", not "api_admin_catalog"): the Flask
        blueprint keeps its name (endpoints, url_for), only the document's tag changes."""
        self._app.extensions["flask-smorest"]["blp_name_to_api"][blp.name] = self
        self._app.register_blueprint(blp, **options)
        blp.register_views_in_doc(self, self._app, self.spec, name=blp.name, parameters=None)
        self.spec.tag({"name": tag_name(blp.name), "description": blp.description})


class SchemaNames:
    """The document's name for each schema: "AddressSchema" -> "Address", as flask-smorest's default, but two
    different schemas of that name (one per area, or one schema with `partial`/`only`) get names of their own,
    "Shopping" + "Address", instead of apispec's "Address1" and a warning. First come, first named: the areas
    are registered in a fixed order, so the names do not change from one start to the next."""

    def __init__(self) -> None:
        self.names: dict[Any, str] = {}

    def __call__(self, schema: Any) -> str:
        key = make_schema_key(resolve_schema_instance(schema))
        if key in self.names:
            return self.names[key]
        cls = type(resolve_schema_instance(schema))
        base = resolver(cls)
        area = "".join(part.capitalize() for part in str(cls.__module__).rsplit(".", 1)[-1].split("_"))
        taken = set(self.names.values())
        name = next(n for n in (base, f"{area}{base}", *(f"{area}{base}{i}" for i in range(2, 100)))
                    if n not in taken)
        self.names[key] = name
        return name


def tag_name(blueprint_name: str) -> str:
    """"api_admin_catalog" -> "Admin catalog": the tag an area's operations are listed under."""
    return blueprint_name.removeprefix("api_").replace("_", " ").capitalize()


class ErrorResponsesPlugin(BasePlugin):
    """Completes every operation's error responses the same way, so no area can forget one: 429 everywhere
    (every route is rate limited), 404 where the path names something (an id that is not there, or not
    yours), 400 and 415 where a body is read (not JSON, or not parseable), and our error body on any error
    response a route documented with a description only. Operations are tagged with the readable tag."""

    def operation_helper(self, path: str | None = None, operations: dict[str, Any] | None = None,
                         **kwargs: Any) -> None:
        rule: Rule | None = kwargs.get("rule")
        for operation in (operations or {}).values():
            operation["tags"] = [tag_name(t) for t in operation.get("tags", [])]
            responses = operation.setdefault("responses", {})
            have = {str(code) for code in responses}
            extra = {"429": "TOO_MANY_REQUESTS"}
            if rule is not None and rule.arguments:
                extra["404"] = "NOT_FOUND"
            if "requestBody" in operation:
                extra.update({"400": "BAD_REQUEST", "413": "REQUEST_ENTITY_TOO_LARGE",
                              "415": "UNSUPPORTED_MEDIA_TYPE"})
            for code, name in extra.items():
                if code not in have:
                    responses[code] = name
            for code, response in responses.items():
                if str(code).startswith(("4", "5")) and isinstance(response, dict) \
                        and "content" not in response and "$ref" not in response:
                    response["content"] = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


SPEC: dict[str, Any] = {
    "info": {"description": "Folio's JSON API: the catalog, your cart, checkout, orders, rentals, holds, plan and "
                            "wallet; staff and author areas. Amounts are integer cents with their currency. "
                            "Errors: {\"error\": {\"code\", \"message\", \"fields\"}}. Sign in at POST "
                            "/api/v1/auth/token, then send 'Authorization: Bearer <access_token>'."},
    "components": {"securitySchemes": {"bearerAuth": {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "The access_token of POST /api/v1/auth/token (15 minutes; renew it at /api/v1/auth/refresh)."}}},
}

# An API body is JSON of at most this size (the site's MAX_CONTENT_LENGTH is for uploads), nested at most this deep
# (our bodies nest two or three levels; Python's parser would run out of stack on a few thousand).
MAX_BODY_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 20


def _refused_content(value: Any) -> str | None:
    """Why a parsed JSON body is refused, walked without recursion: nested too deep, a NUL character (as in a
    query or form value, webapp.security: PostgreSQL refuses it in text) or a lone surrogate ("\\ud800": valid
    JSON, but no database stores it), either of which would fail the first query that meets it (the sign-in
    limit's key looks the login up before the route even runs)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                return f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep."
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(item, str):
            if "\x00" in item:
                return "The body contains a character that is not allowed (NUL)."
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "The JSON body contains text that is not valid Unicode (a lone surrogate)."
    return None


def _json_bodies_only() -> None:
    """Every body sent to the API is JSON (415 otherwise), parseable (400) and of a sane size and shape (413,
    400), checked once here before any route, rate limit key or webargs reads it: a malformed body is always
    the client's error in our error shape, never a 500 from the parser."""
    if not request.path.startswith("/api/"):
        return None
    request.max_content_length = min(MAX_BODY_BYTES, request.max_content_length or MAX_BODY_BYTES)
    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return None
    body = request.get_data(cache=True)
    if not body:
        return None
    if not request.is_json:
        abort(415, description="Send the body as JSON, with 'Content-Type: application/json'.")
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        fail(400, "invalid_json", "The body is not valid JSON.")
    problem = _refused_content(parsed)
    if problem:
        fail(400, "bad_request", problem)
    return None


def init_app(app: Flask) -> None:
    app.config.setdefault("API_TITLE", "Folio API")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.1.0")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    api = FolioApi(app, spec_kwargs={**SPEC, "extra_plugins": [ErrorResponsesPlugin()],
                                     "marshmallow_plugin": MarshmallowPlugin(schema_name_resolver=SchemaNames())})
    # First of all hooks: before the rate limits' keys (the sign-in limit reads the login from the body).
    app.before_request_funcs.setdefault(None, []).insert(0, _json_bodies_only)
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
