"""Tiny htmx helpers: one way to answer page-or-partial, one way to send events."""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from flask import Response, make_response, render_template, request


def is_htmx() -> bool:
    """A real htmx partial request: not boosted navigation and not a history restore."""
    h = request.headers
    return (
        h.get("HX-Request") == "true"
        and h.get("HX-Boosted") != "true"
        and h.get("HX-History-Restore-Request") != "true"
    )


def render_page_or_partial(page: str, partial: str, status: int = 200, **context: Any) -> Response:
    """Full page normally, only `partial` for htmx; caches must key on HX-Request."""
    template = partial if is_htmx() else page
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response


def trigger(response: Response, event: str, detail: object = None) -> Response:
    """Add a server-to-page event in the response's HX-Trigger header."""
    existing = response.headers.get("HX-Trigger")
    events = json.loads(existing) if existing else {}
    events[event] = detail if detail is not None else True
    response.headers["HX-Trigger"] = json.dumps(events)
    return response


def current_url(args: Mapping[str, object]) -> str:
    """This page's path with these query arguments (empty ones left out). Built from request.path, not url_for:
    a query argument named like one of url_for's own (endpoint, _external, _method, a view argument) must stay
    a query argument, never change the link's host or break the page."""
    kept = {k: v for k, v in args.items() if v not in (None, "")}
    return request.path + ("?" + urlencode(kept) if kept else "")

