"""Conditional GET for catalog pages: an ETag from what the page depends on, and 304 when the browser has it.

Why from versions and not from the body: a 304 then costs no SQL and no rendering. The page embeds more than
the catalog: the header (who is signed in, their role, whether their email is confirmed, the cart's count),
the session's CSRF token, flashed messages, the htmx partial or the whole page. All of that is in the validator,
so one visitor's page is never confirmed to another, and there is no validator while flashes are pending
(they show once), nor while the versions are unknown (Redis did not answer: every version would read the same
through the outage, so a changed page would be confirmed). Pages are `private, no-cache`: the browser keeps them and asks each time (security.py
still sends `no-store` to signed-in people, which wins).
"""
from __future__ import annotations

import hashlib

from flask import Response, current_app, request, session
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from .. import cart_store
from ..htmx import is_htmx
from ..services.platform import cache
from .fragments import RENDER_SALT


def etag(*parts: object) -> tuple[str | None, int]:
    """(the validator for this request and `parts` (versions and the like) or None, the cart's count)."""
    count = cart_store.count()
    if session.get("_flashes") or any(isinstance(part, cache.Unknown) for part in parts):
        return None, count
    generate_csrf()  # the page embeds the session's token: make sure it exists before naming it
    raw_token = session.get(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), "")
    who = ""
    if current_user.is_authenticated:
        who = f"{current_user.get_id()}|{current_user.is_verified}|{current_user.is_admin}|{current_user.role}"
    text = "\x1f".join(map(str, (RENDER_SALT, request.full_path, is_htmx(), who, count,
                                 hashlib.sha1(str(raw_token).encode()).hexdigest(), *parts)))
    return hashlib.sha1(text.encode()).hexdigest(), count


def not_modified(tag: str | None) -> Response | None:
    """A 304 when the browser's copy has this validator."""
    if tag is None or not request.if_none_match.contains(tag):
        return None
    response = current_app.response_class(status=304)
    finish(response, tag)
    return response


def finish(response: Response, tag: str | None) -> Response:
    if tag is not None:
        response.set_etag(tag)
    response.headers["Cache-Control"] = "private, no-cache"
    response.vary.add("HX-Request")
    response.vary.add("Cookie")
    return response
