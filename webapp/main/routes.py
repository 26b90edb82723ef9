from __future__ import annotations

from flask import jsonify, redirect, url_for

from ..services import health
from . import bp


@bp.get("/healthz")
def healthz():
    report = health.check()
    return jsonify(report), (200 if report["status"] == "ok" else 503)


@bp.get("/favicon.ico")
def favicon():
    return redirect(url_for("static", filename="favicon.svg"), 301)
