"""Error pages: HTML for people, JSON for API clients. The session is rolled back first."""
from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError, SecurityError

from .extensions import db

log = logging.getLogger(__name__)

TITLES = {
    400: "Bad request", 403: "Not allowed", 404: "Page not found", 405: "Method not allowed",
    413: "Upload too large", 429: "Too many requests", 500: "Something went wrong", 503: "Unavailable",
}


def wants_json() -> bool:
    if request.path.startswith("/api/") or request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def install(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if isinstance(exc, SecurityError):  # a Host outside TRUSTED_HOSTS: no URL can be built, so no page
            return Response("Bad request: unknown host.\n", 400, mimetype="text/plain")
        if exc.code == 429 and not wants_json():
            from .auth.routes import retry_message, too_many_attempts

            page = too_many_attempts()
            if page is not None:
                return page
            return _render(429, retry_message())
        return _render(exc.code or 500, exc.description)

    @app.errorhandler(Exception)
    def _unhandled(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _render(500, InternalServerError.description)


def _render(code: int, description: str | None):
    db.session.rollback()
    title = TITLES.get(code, "Error")
    if wants_json():
        slug = title.lower().replace(" ", "_")
        return jsonify(error={"code": slug, "status": code, "message": description or title}), code
    return render_template("errors/error.html", code=code, title=title, description=description), code
