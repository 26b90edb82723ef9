"""Security headers on every response (no inline scripts: htmx config lives in a meta tag), `Cache-Control:
no-store` on every private page, and the rules about hostile input that hold for every route and form: a NUL
byte anywhere is refused, integers stay within what a database integer holds, decimals are finite."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Flask, Response, abort, request
from flask_login import current_user
from werkzeug.routing import IntegerConverter, Map
from wtforms import DecimalField, IntegerField
from wtforms.form import BaseForm
from wtforms.validators import StopValidation

from .models.types import DB_INT_MAX, DB_INT_MIN

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'self'",
    "object-src 'none'",
])

# Blueprints that read JSON bodies themselves (signed provider events); and every path under /api/ (the JSON API).
JSON_BLUEPRINTS = frozenset({"webhooks"})
# Blueprints whose every page is about one person (or the shop's back office): never stored by a cache.
PRIVATE_BLUEPRINTS = frozenset({"account", "admin", "auth", "author", "cart", "checkout", "dev", "orders", "pay"})


class DatabaseIntConverter(IntegerConverter):
    """`<int:...>` in every route, bounded to what a database integer (every id column) holds: a 10- or 25-digit
    id is a 404, not an "integer out of range" or overflow error (500) in the query."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:  # Any: werkzeug's own converter arguments
        kwargs.setdefault("max", DB_INT_MAX)
        super().__init__(map, *args, **kwargs)


class _OneMessage:
    """A value that is not a number gets that one message, not also the range check's about the missing number."""

    process_errors: list[str]  # the field's, from WTForms

    def pre_validate(self, form: BaseForm) -> None:
        if self.process_errors:
            raise StopValidation()


class DatabaseIntegerField(_OneMessage, IntegerField):
    """An IntegerField for anything that reaches a query (ids above all): a number past what a database integer
    holds is a field error ("Not a valid integer value."), not an "integer out of range" or overflow error (500)
    in the query. The form twin of DatabaseIntConverter."""

    data: int | None

    def process_formdata(self, valuelist: list[str]) -> None:
        super().process_formdata(valuelist)
        if self.data is not None and not DB_INT_MIN <= self.data <= DB_INT_MAX:
            self.data = None
            raise ValueError(self.gettext("Not a valid integer value."))


class FiniteDecimalField(_OneMessage, DecimalField):
    """A DecimalField that takes numbers only: WTForms' own accepts "NaN", "sNaN" and "Infinity" (Python's Decimal
    reads them), which then break the first comparison (NumberRange: a 500) or the arithmetic after it. Every
    decimal field of the site's forms is one of these."""

    data: Decimal | None

    def process_formdata(self, valuelist: list[str]) -> None:
        if valuelist and not valuelist[0].strip():  # a box left empty is no value (Optional() then applies), not
            self.data = None  # "Not a valid decimal value": browsers always send the empty field
            return
        super().process_formdata(valuelist)
        if self.data is not None and not self.data.is_finite():
            self.data = None
            raise ValueError("Enter a number, like 12.50.")


def install(app: Flask) -> None:
    """Call before blueprints are registered (the converter is used as routes are added)."""
    app.url_map.converters["int"] = DatabaseIntConverter
    production = app.config["FOLIO_CONFIG"] == "production"

    @app.before_request
    def _no_nul_bytes() -> None:
        """A NUL byte in the path or in a query or form value is never a real person's input, and PostgreSQL
        refuses it in text: answer 400 once here rather than a 500 from whichever query meets it first (an order
        number, a genre slug, a payment session id...). (Uploaded files are not form values and are not
        affected.)"""
        if "\x00" in request.path:
            abort(400, description="The address contained a character that is not allowed (NUL).")
        for values in (request.args, request.form):
            for key, value in values.items(multi=True):
                if "\x00" in key or "\x00" in value:
                    abort(400, description="The request contained a character that is not allowed (NUL).")
        return None

    @app.before_request
    def _forms_take_form_data() -> None:
        """The site's forms read form data. A JSON body would reach them too (Flask-WTF reads it), with values of
        any type (numbers, lists, 1e999) and past the NUL check above: answer 415 once here instead. The webhook
        (signed JSON) and the JSON API have their own parsing."""
        if request.is_json and request.method in ("POST", "PUT", "PATCH", "DELETE") \
                and request.blueprint not in JSON_BLUEPRINTS and not request.path.startswith("/api/"):
            abort(415, description="This page takes form data, not JSON.")
        return None

    @app.after_request
    def _private_pages_are_not_stored(response: Response) -> Response:
        """`Cache-Control: no-store` on every private page, here once rather than per route: every page of the
        private blueprints (account, orders and receipts, checkout and the payment page, cart, admin, author,
        sign-in), and any page answered to a signed-in person (the catalog then shows their name, cart and
        holds). Public catalog pages for visitors stay cacheable, as do static files and what a view itself
        marks public (book covers, uploaded images)."""
        if request.endpoint == "static":
            return response
        if request.path == "/api" or request.path.startswith("/api/"):
            # The API: private unless the view said public (catalog reads). A 304 (If-None-Match matched) keeps
            # what it has: it carries no body, and its headers would replace the cached copy's Cache-Control.
            if not response.cache_control.public and response.status_code != 304:
                response.headers["Cache-Control"] = "no-store"
            return response
        if request.blueprint in PRIVATE_BLUEPRINTS or (
                not response.cache_control.public and current_user.is_authenticated):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.after_request
    def _headers(response: Response) -> Response:
        h = response.headers
        h.setdefault("Content-Security-Policy", CSP)
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if production:
            h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
