"""Liveness of the database and Redis, for /healthz and monitoring.

The answer names each dependency and says "up" or "down", never why: /healthz is public, and an exception's text
tells an attacker the database host, driver and versions. The reason goes to the server's log.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import text

from ...extensions import db
from . import queues

log = logging.getLogger(__name__)


def _probe(name: str, fn: Callable[[], object]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        fn()
    except Exception:  # any failure means "down"; the log says why
        log.error("health check: %s is down", name, exc_info=True)
        return {"ok": False, "state": "down"}
    return {"ok": True, "state": "up", "ms": round((time.perf_counter() - started) * 1000, 1)}


def check() -> dict[str, Any]:
    database = _probe("database", lambda: db.session.execute(text("SELECT 1")))
    if not database["ok"]:
        db.session.rollback()
    redis_status = _probe("redis", lambda: queues.connection().ping())
    failing = [name for name, probe in (("database", database), ("redis", redis_status)) if not probe["ok"]]
    return {"status": "unavailable" if failing else "ok", "failing": failing, "database": database,
            "redis": redis_status}
