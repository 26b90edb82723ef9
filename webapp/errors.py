"""Error pages: HTML for people, JSON for API clients. The session is rolled back first.

A blueprint that answers an error its own way (the sign-in forms show themselves again on 429) registers
its handler on the blueprint and hands every other case back to `http_error`.
"""
from __future__ import annotations

import logging
import math
import time

from flask import Flask, Response, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, InternalServerError, SecurityError

from .extensions import db, limiter

log = logging.getLogger(__name__)

TITLES = {
    400: "Bad request", 403: "Not allowed", 404: "Page not found", 405: "Method not allowed",
    413: "Upload too large", 429: "Too many requests", 500: "Something went wrong", 503: "Unavailable",
}


def wants_json() -> bool:
    """API paths, JSON bodies, and clients that prefer JSON to HTML get JSON errors."""
    if request.path.startswith("/api/") or request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def retry_message() -> str:
    """'Try again in N minutes' for the limit that was just hit."""
    current = limiter.current_limit
    seconds = max(0.0, current.reset_at - time.time()) if current is not None else 60
    minutes = max(1, math.ceil(seconds / 60))
    return f"Too many attempts. Please try again in {minutes} minute{'s' if minutes != 1 else ''}."


def http_error(exc: HTTPException) -> ResponseReturnValue:
    """The site's answer to an HTTP error (404, 429 ...): the error page, or JSON."""
    if isinstance(exc, SecurityError):  # a Host outside TRUSTED_HOSTS: no URL can be built, so no page
        return Response("Bad request: unknown host.\n", 400, mimetype="text/plain")
    if exc.code == 429 and not wants_json():
        return _render(429, retry_message())
    return _render(exc.code or 500, exc.description)


def install(app: Flask) -> None:
    app.register_error_handler(HTTPException, http_error)

    @app.errorhandler(Exception)
    def _unhandled(exc: Exception) -> ResponseReturnValue:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _render(500, InternalServerError.description)


def _render(code: int, description: str | None) -> ResponseReturnValue:
    db.session.rollback()
    title = TITLES.get(code, "Error")
    if wants_json():
        slug = title.lower().replace(" ", "_")
        return jsonify(error={"code": slug, "status": code, "message": description or title}), code
    return render_template("errors/error.html", code=code, title=title, description=description), code
