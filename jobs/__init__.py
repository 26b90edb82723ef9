"""RQ job functions: the entry points of background work. Each takes ids, builds (or reuses) the app context and
calls a service. Services never import jobs: they enqueue a job by its dotted name
(`services.platform.queues.enqueue("jobs.email.deliver_email", ...)`), so jobs sit above everything in webapp.

The worker (`flask --app wsgi worker`) runs jobs inside its app context; a plain `rq worker` process builds the
app once from the environment config. Either way a job runs with the request id it was enqueued under (RQ's
job.meta, put there by services.platform.queues) bound again, so its log lines carry the request's id.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import Flask, has_app_context
from rq import get_current_job

from webapp import create_app
from webapp.extensions import db
from webapp.services.platform import request_ids

P = ParamSpec("P")
R = TypeVar("R")
_app: Flask | None = None


def _worker_app() -> Flask:
    global _app
    if _app is None:
        _app = create_app()
    return _app


def job(func: Callable[P, R]) -> Callable[P, R]:
    """Run `func` inside an app context and always hand the DB session back clean."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if has_app_context():
            return _run(func, *args, **kwargs)
        with _worker_app().app_context():
            return _run(func, *args, **kwargs)

    return wrapper


def _run(func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    with request_ids.bound(job_request_id()):
        try:
            return func(*args, **kwargs)
        except Exception:
            db.session.rollback()
            raise
        finally:
            db.session.remove()


def job_request_id() -> str | None:
    """The id this job's log lines carry (request_ids.for_job); outside RQ (a direct call), whatever is bound."""
    current = get_current_job()
    return request_ids.current() if current is None else request_ids.for_job(current.meta, current.id)
