"""Liveness of the database and Redis (/healthz), and readiness with the backlogs behind it (/readyz).

The answer names each dependency and says "up" or "down", never why: both pages are public, and an exception's
text tells an attacker the database host, driver and versions. The reason goes to the server's log.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis
from flask import current_app
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job
from sqlalchemy import func, select, text

from ...extensions import db
from ...models.mail import EmailStatus, OutboundEmail
from ...models.payments import OutboxMessage, OutboxStatus
from ...models.types import utcnow
from . import queues

log = logging.getLogger(__name__)
PROBE_TIMEOUT = 1.0  # seconds: a Redis that answers slower than this is down, as far as a load balancer cares


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
    redis_status = _probe("redis", lambda: _redis().ping())
    failing = [name for name, probe in (("database", database), ("redis", redis_status)) if not probe["ok"]]
    return {"status": "unavailable" if failing else "ok", "failing": failing, "database": database,
            "redis": redis_status}


def readiness() -> dict[str, Any]:
    """Can this instance serve, and how far behind is the work behind it? For /readyz.

    Ready means the database and Redis answer: without them no page works, so a load balancer should send the
    traffic elsewhere. The backlogs (each RQ queue's depth and oldest waiting job, failed jobs, the oldest email
    not yet sent, the oldest outbox row not yet delivered) are reported, and past READYZ_*_MAX_AGE_SECONDS they
    make the status "degraded", but they never make the instance unready: every instance shares the same
    queues and tables, so a slow mail server would take every instance out of the load balancer at once and
    stop the shop for a problem only the workers have. Degraded is for a person to look at.

    Payment-provider events are applied while their webhook request is answered; what a payment still has to
    cause elsewhere (a refund, the test gateway's webhook delivery) is an outbox row, so "outbox" is the
    payments' backlog. Each section is measured on its own; one that fails says "unknown" (logged), never a 500.
    """
    live = check()
    now = utcnow()
    report: dict[str, Any] = {"status": live["status"], "ready": not live["failing"], "failing": live["failing"],
                              "warnings": [], "database": live["database"], "redis": live["redis"],
                              "queues": None, "email": None, "outbox": None}
    config = current_app.config
    if live["redis"]["ok"]:
        report["queues"] = _section(report, "queues", lambda: _queue_backlogs(now))
        for name, backlog in (report["queues"] or {}).items():
            _warn_if_old(report, f"queue:{name}", backlog, config["READYZ_QUEUE_MAX_AGE_SECONDS"])
    if live["database"]["ok"]:
        report["email"] = _section(report, "email", lambda: _table_backlog(
            OutboundEmail, EmailStatus.QUEUED, EmailStatus.FAILED, now))
        report["outbox"] = _section(report, "outbox", lambda: _table_backlog(
            OutboxMessage, OutboxStatus.PENDING, OutboxStatus.FAILED, now))
        _warn_if_old(report, "email", report["email"], config["READYZ_EMAIL_MAX_AGE_SECONDS"])
        _warn_if_old(report, "outbox", report["outbox"], config["READYZ_OUTBOX_MAX_AGE_SECONDS"])
    if report["ready"] and report["warnings"]:
        report["status"] = "degraded"
    return report


def _redis() -> redis.Redis:
    """The app's Redis with short timeouts and no retries, for the probes. Why not the app's own connection: it
    waits 3 s to connect and redis-py's default 5 s for each answer (RQ's blocking reads need that), so a Redis
    that accepts connections and never answers held /readyz, and the sync worker serving it, for 5 s and more,
    while the load balancer's probe had long given up. Built once per connection (tests swap it); an in-process
    fake answers at once and is used as it is."""
    connection = queues.connection()
    if type(connection) is not redis.Redis:
        return connection
    found = current_app.extensions.get("folio_health_redis")
    if found is None or found[0] is not connection:
        pool = connection.connection_pool
        settings = {k: v for k, v in pool.connection_kwargs.items() if not k.startswith(("orig_", "maint_"))}
        settings.update(socket_timeout=PROBE_TIMEOUT, socket_connect_timeout=PROBE_TIMEOUT, retry=Retry(NoBackoff(), 0))
        found = (connection, redis.Redis(connection_pool=redis.ConnectionPool(
            connection_class=pool.connection_class, **settings)))
        current_app.extensions["folio_health_redis"] = found
    probe: redis.Redis = found[1]
    return probe


def _section(report: dict[str, Any], name: str, measure: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
    """`measure()`, or None with the warning "<name>:unknown" when it fails (logged)."""
    try:
        return measure()
    except Exception:  # one backlog that cannot be measured must not hide the others, nor answer a 500
        log.error("readiness: could not measure %s", name, exc_info=True)
        if name != "queues":
            db.session.rollback()
        report["warnings"].append(f"{name}:unknown")
        return None


def _age(now: datetime, then: datetime | None) -> float | None:
    if then is None:
        return None
    if then.tzinfo is None:  # stored as UTC without a zone (SQLite, RQ before 2.0)
        then = then.replace(tzinfo=UTC)
    return round(max((now - then).total_seconds(), 0.0), 1)


def _queue_backlogs(now: datetime) -> dict[str, Any]:
    """Per RQ queue: jobs waiting, the age of the one waiting longest, jobs running now, jobs failed (kept in
    RQ's failed registry until their TTL; `rq requeue` or the admin retries them)."""
    backlogs: dict[str, Any] = {}
    for name in current_app.config["RQ_QUEUES"]:
        queue = Queue(name, connection=_redis())
        oldest = None
        for job_id in queue.get_job_ids(0, 1):  # the head of the list is the next to run: the oldest
            try:
                oldest = Job.fetch(job_id, connection=queue.connection).enqueued_at
            except NoSuchJobError:  # run or deleted since the list was read
                oldest = None
        backlogs[name] = {"depth": queue.count, "oldest_age_s": _age(now, oldest),
                          "started": queue.started_job_registry.count, "failed": queue.failed_job_registry.count}
    return backlogs


def _table_backlog(model: type[OutboundEmail] | type[OutboxMessage], waiting: str, failed: str,
                   now: datetime) -> dict[str, Any]:
    """Rows waiting (count, oldest's age by created_at) and rows given up on, in one query on the status
    index."""
    rows = db.session.execute(
        select(model.status, func.count(), func.min(model.created_at))
        .where(model.status.in_((waiting, failed))).group_by(model.status)).all()
    found = {status: (count, oldest) for status, count, oldest in rows}
    count, oldest = found.get(waiting, (0, None))
    return {"waiting": count, "oldest_age_s": _age(now, oldest), "failed": found.get(failed, (0, None))[0]}


def _warn_if_old(report: dict[str, Any], name: str, backlog: dict[str, Any] | None, limit: int) -> None:
    age = backlog.get("oldest_age_s") if backlog else None
    if age is not None and age > limit:
        report["warnings"].append(name)
