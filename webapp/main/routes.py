"""Pages that belong to no area: the health and readiness checks, the favicon, and uploaded images."""
from __future__ import annotations

import hmac

from flask import abort, current_app, jsonify, redirect, request, send_from_directory, url_for

from ..services.platform import health, uploads
from . import bp


@bp.get("/healthz")
def healthz():
    report = health.check()
    return jsonify(report), (200 if report["status"] == "ok" else 503)


@bp.get("/readyz")
def readyz():
    """For the load balancer: 200 while this instance can serve (database and Redis answer), else 503; the
    status is "ok", "degraded" (a backlog is old: see health.readiness) or "unavailable". Depths and ages are
    operational data: shown only to a probe on this machine that did not come through a proxy, or to a monitor
    with `Authorization: Bearer <READYZ_TOKEN>`; everyone else sees the status alone."""
    report = health.readiness()
    code = 200 if report["ready"] else 503
    body = report if _may_see_readiness_details() else {"status": report["status"]}
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response, code


def _may_see_readiness_details() -> bool:
    """A loopback client with no X-Forwarded-For (so not nginx passing on a visitor, whatever TRUSTED_PROXIES
    says), or the configured bearer token (compared in constant time)."""
    token = current_app.config.get("READYZ_TOKEN")
    given = request.headers.get("Authorization", "")
    if token and given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), token.encode()):
        return True
    return request.remote_addr in ("127.0.0.1", "::1") and "X-Forwarded-For" not in request.headers


@bp.get("/favicon.ico")
def favicon():
    return redirect(url_for("static", filename="favicon.svg"), 301)


@bp.get("/media/<kind>/<name>")
def media(kind: str, name: str):
    """Uploaded images (re-encoded JPEGs with random names; see services.platform.uploads)."""
    path = uploads.path_for(f"{kind}/{name[:32]}") if kind in uploads.SIZES and uploads.FILE_NAME.match(name) else None
    if path is None:
        abort(404)
    response = send_from_directory(path.parent, name, max_age=86400 * 30)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
