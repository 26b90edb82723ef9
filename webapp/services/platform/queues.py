"""Background work: Redis connection, RQ queues, and enqueue-after-commit.

Jobs that read rows written by the current transaction must only be enqueued once
that transaction has committed; `enqueue_after_commit` defers the enqueue to the
session's after_commit event and drops it on rollback.
"""
from __future__ import annotations

import logging

from flask import Flask, current_app
from rq import Queue, Retry
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
_PENDING = "folio_pending_jobs"


def init_app(app: Flask) -> None:
    url = app.config.get("REDIS_URL")
    if url:
        import redis

        connection = redis.Redis.from_url(url, socket_connect_timeout=3)
    elif app.config.get("TESTING"):
        import fakeredis

        connection = fakeredis.FakeRedis()
    else:
        connection = __import__("redis").Redis.from_url("redis://127.0.0.1:6379/0")
    app.extensions["folio_redis"] = connection
    app.extensions["folio_queues"] = {
        name: Queue(name, connection=connection) for name in app.config["RQ_QUEUES"]
    }


def queue(name: str = "default") -> Queue:
    return current_app.extensions["folio_queues"][name]


def enqueue(func, *args, queue_name: str = "default", retry: Retry | None = None, **kwargs):
    """Enqueue now. Returns the job, or None (logged) when Redis cannot be reached;
    callers keep a DB row for every piece of work so a sweeper can re-enqueue it."""
    try:
        return queue(queue_name).enqueue(func, *args, retry=retry, **kwargs)
    except Exception:  # Redis down: the DB row stays queued and the sweeper retries it
        log.exception("could not enqueue %s%r on %s", getattr(func, "__name__", func), args, queue_name)
        return None


def enqueue_after_commit(session: Session, func, *args, queue_name: str = "default",
                         retry: Retry | None = None, **kwargs) -> None:
    session.info.setdefault(_PENDING, []).append((func, args, queue_name, retry, kwargs))


@event.listens_for(Session, "after_commit")
def _run_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    for func, args, queue_name, retry, kwargs in pending or ():
        enqueue(func, *args, queue_name=queue_name, retry=retry, **kwargs)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
