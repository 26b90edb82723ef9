"""Pages that belong to no area: the health check, the favicon, and uploaded images."""
from __future__ import annotations

from flask import abort, jsonify, redirect, send_from_directory, url_for

from ..services.platform import health, uploads
from . import bp


@bp.get("/healthz")
def healthz():
    report = health.check()
    return jsonify(report), (200 if report["status"] == "ok" else 503)


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
