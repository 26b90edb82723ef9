"""Liveness of the database and Redis, for /healthz and monitoring."""
from __future__ import annotations

import time

from sqlalchemy import text

from ..extensions import db, get_redis


def _probe(fn) -> dict:
    started = time.perf_counter()
    try:
        fn()
    except Exception as exc:  # any failure means "down"; the message says why
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}


def check() -> dict:
    database = _probe(lambda: db.session.execute(text("SELECT 1")))
    if not database["ok"]:
        db.session.rollback()
    redis_status = _probe(lambda: get_redis().ping())
    ok = database["ok"] and redis_status["ok"]
    return {"status": "ok" if ok else "unavailable", "database": database, "redis": redis_status}
