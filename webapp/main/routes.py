from __future__ import annotations

from flask import jsonify

from ..services import health
from . import bp


@bp.get("/healthz")
def healthz():
    report = health.check()
    return jsonify(report), (200 if report["status"] == "ok" else 503)
