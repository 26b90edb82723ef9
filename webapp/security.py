"""Security headers on every response. No inline scripts: htmx config lives in a meta tag."""
from __future__ import annotations

from flask import Flask, abort, request
from werkzeug.routing import IntegerConverter

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


class DatabaseIntConverter(IntegerConverter):
    """`<int:...>` in every route, bounded to what a database integer holds: a 25-digit id is a 404, not an
    overflow error (500) in the query."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(map, *args, **kwargs)


def install(app: Flask) -> None:
    """Call before blueprints are registered (the converter is used as routes are added)."""
    app.url_map.converters["int"] = DatabaseIntConverter
    production = app.config["FOLIO_CONFIG"] == "production"

    @app.before_request
    def _no_nul_bytes():
        """A NUL byte in a query or form value is never a real person's input, and PostgreSQL refuses it in
        text: answer 400 once here rather than a 500 from whichever query meets it first. (Uploaded files are
        not form values and are not affected.)"""
        for values in (request.args, request.form):
            for key, value in values.items(multi=True):
                if "\x00" in key or "\x00" in value:
                    abort(400, description="The request contained a character that is not allowed (NUL).")
        return None

    @app.after_request
    def _headers(response):
        h = response.headers
        h.setdefault("Content-Security-Policy", CSP)
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if production:
            h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
