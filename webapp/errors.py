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


# The JSON API's stable error codes by status, when the error itself names none (webapp.api.errors.ApiError does).
API_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "validation_failed",
    429: "rate_limited", 500: "internal_error", 503: "unavailable",
}


API_MESSAGES = {
    404: "There is nothing at this address: the API's operations are listed in /api/openapi.json.",
    405: "This address does not take that method (the Allow header lists those it takes).",
    413: "The body is too large.",
}


def is_api() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def api_error(status: int, message: str | None, *, code: str | None = None,
              fields: dict[str, list[str]] | None = None, headers: dict[str, str] | None = None) -> Response:
    """The JSON API's one error shape: {"error": {"code", "message", "fields"}}, never an HTML page."""
    body = {"error": {"code": code or API_CODES.get(status, "error"),
                      "message": message or TITLES.get(status, "Error"), "fields": fields or {}}}
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _fields(messages: object, prefix: str = "") -> dict[str, list[str]]:
    """webargs' nested validation messages ({"json": {"items": {"0": {"quantity": [...]}}}}) as flat field
    names ("items.0.quantity"), dropping the location ("json", "query") the client did not name."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = str(key) if key not in ("json", "query", "form", "path", "headers", "files") or prefix else ""
            if name == "_schema":
                name = ""
            joined = ".".join(p for p in (prefix, name) if p)
            out.update(_fields(value, joined) if isinstance(value, dict) else
                       {joined: [str(m) for m in (value if isinstance(value, list) else [value])]})
    return out


def _not_modified() -> Response:
    """flask-smorest's ETag check answers "not modified" by raising 304: no body, and the ETag that matched (the
    one strong tag sent; a cache keeps its stored Cache-Control, webapp.security adds none to a 304)."""
    response = Response(status=304)
    tags = request.if_none_match.as_set()
    if len(tags) == 1 and not request.if_none_match.star_tag:
        response.set_etag(next(iter(tags)))
    return response


def _api_http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status == 304:
        return _not_modified()
    data = getattr(exc, "data", None) or {}
    fields = getattr(exc, "fields", None) or (_fields(data.get("messages")) if "messages" in data else None)
    headers = dict(data.get("headers") or {})
    for name, value in exc.get_headers():  # Allow on 405, for one
        if name.lower() != "content-type":
            headers.setdefault(name, value)
    message = exc.description
    if getattr(exc, "error_code", None) is None and status in API_MESSAGES:  # werkzeug's words are for pages
        message = API_MESSAGES[status]
    if status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="folio"')
    if status in (400, 422) and fields and "messages" in data:
        message = "Some of the values sent are not valid: " + "; ".join(
            f"{name or 'body'}: {' '.join(msgs)}" for name, msgs in list(fields.items())[:5])
    if status == 429:
        current = limiter.current_limit
        seconds = max(1, math.ceil(current.reset_at - time.time())) if current is not None else 60
        headers.setdefault("Retry-After", str(seconds))
        message = f"Too many requests. Please try again in {seconds} second{'s' if seconds != 1 else ''}."
    return api_error(status, message, code=getattr(exc, "error_code", None), fields=fields, headers=headers)


def http_error(exc: HTTPException) -> ResponseReturnValue:
    """The site's answer to an HTTP error (404, 429 ...): the error page, or JSON."""
    if isinstance(exc, SecurityError):  # a Host outside TRUSTED_HOSTS: no URL can be built, so no page
        return Response("Bad request: unknown host.\n", 400, mimetype="text/plain")
    if is_api():
        db.session.rollback()
        return _api_http_error(exc)
    if exc.code == 429 and not wants_json():
        return _render(429, retry_message())
    return _render(exc.code or 500, exc.description)


def install(app: Flask) -> None:
    app.register_error_handler(HTTPException, http_error)

    @app.errorhandler(Exception)
    def _unhandled(exc: Exception) -> ResponseReturnValue:
        log.exception("unhandled error on %s %s", request.method, request.path)
        if is_api():
            db.session.rollback()
            return api_error(500, "Something went wrong on our side. It has been logged; please try again.")
        return _render(500, InternalServerError.description)


def _render(code: int, description: str | None) -> ResponseReturnValue:
    db.session.rollback()
    title = TITLES.get(code, "Error")
    if wants_json():
        slug = title.lower().replace(" ", "_")
        return jsonify(error={"code": slug, "status": code, "message": description or title}), code
    return render_template("errors/error.html", code=code, title=title, description=description), code
