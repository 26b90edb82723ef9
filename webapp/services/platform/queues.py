"""The RQ wrapper: Redis connection, the app's queues, and enqueue-after-commit.

Jobs are named by their dotted path ("jobs.email.deliver_email"), never imported: the job functions live in
`jobs/`, which calls the services, so a service importing a job would close an import cycle. RQ stores the
name and the worker imports it when it runs the job.

Jobs that read rows written by the current transaction must only be enqueued once that transaction has
committed; `enqueue_after_commit` defers the enqueue to the session's after_commit event and drops it on
rollback.

A job enqueued while a request id is bound (a request, or a job enqueueing another) carries that id in its
`meta`, so the worker's log lines for the job share the request's id (jobs.job binds it again).
"""
from __future__ import annotations

import logging
from typing import TypeVar

import redis
from flask import Flask, current_app
from rq import Queue, Retry
from rq.job import Job
from sqlalchemy import event
from sqlalchemy.orm import Session, scoped_session

from . import request_ids

log = logging.getLogger(__name__)
_PENDING = "folio_pending_jobs"
_DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
S = TypeVar("S", bound=Session)


def init_app(app: Flask) -> None:
    url = app.config.get("REDIS_URL")
    connection: redis.Redis
    if url:
        connection = redis.Redis.from_url(url, socket_connect_timeout=3)
    elif app.config.get("TESTING"):
        # fakeredis is a development dependency: imported only by a test app that was given no Redis.
        import fakeredis

        connection = fakeredis.FakeRedis()
    else:
        connection = redis.Redis.from_url(_DEFAULT_REDIS)
    app.extensions["folio_redis"] = connection
    app.extensions["folio_queues"] = {
        name: Queue(name, connection=connection) for name in app.config["RQ_QUEUES"]
    }


def connection() -> redis.Redis:
    """The app's Redis connection (fakeredis in-process when testing without TEST_REDIS_URL)."""
    found: redis.Redis = current_app.extensions["folio_redis"]
    return found


def queue(name: str = "default") -> Queue:
    queues: dict[str, Queue] = current_app.extensions["folio_queues"]
    return queues[name]


def enqueue(job: str, *args: object, queue_name: str = "default", retry: Retry | None = None,
            **kwargs: object) -> Job | None:
    """Enqueue the job named `job` ("jobs.email.deliver_email") now. Returns the job, or None (logged) when
    Redis cannot be reached; callers keep a DB row for every piece of work so a sweeper can re-enqueue it."""
    request_id = request_ids.current()
    meta = {request_ids.META_KEY: request_id} if request_id else None
    try:
        return queue(queue_name).enqueue(job, *args, retry=retry, meta=meta, **kwargs)
    except Exception:  # Redis down: the DB row stays queued and the sweeper retries it
        log.exception("could not enqueue %s%r on %s", job, args, queue_name)
        return None


def enqueue_after_commit(session: Session | scoped_session[S], job: str, *args: object, queue_name: str = "default",
                         retry: Retry | None = None, **kwargs: object) -> None:
    """Enqueue the job named `job` once `session` commits; nothing happens if it rolls back. The job carries the
    request id bound now (the commit may happen where none is bound)."""
    session.info.setdefault(_PENDING, []).append((job, args, queue_name, retry, kwargs, request_ids.current()))


@event.listens_for(Session, "after_commit")
def _run_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    for job, args, queue_name, retry, kwargs, request_id in pending or ():
        with request_ids.bound(request_id or request_ids.current()):
            enqueue(job, *args, queue_name=queue_name, retry=retry, **kwargs)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
