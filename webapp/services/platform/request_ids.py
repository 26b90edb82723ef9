"""The request id: one short string that ties together every log line of a request and of the jobs it enqueued.

It lives in a context variable, not in Flask's `g`, so that code with no request (a job in the worker, a CLI
command) can carry one too, and so that `queues.enqueue` can copy it into the job's metadata without importing
anything from the web layer. The worker side (`jobs.job`) binds the carried id again before the job runs.

Every log record gets the current id as `record.request_id` from a log-record factory rather than from a filter
on one handler: a filter only decorates the records that reach its own handler (and, on Python 3.11, only after
handlers before it have seen them), while the factory stamps each record where it is made, in the context that
logged it, for every handler: the JSON one in production, pytest's caplog, gunicorn's error log.
"""
from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token

# What an id from outside (nginx's $request_id, a load balancer's) may look like: short, and nothing that could
# forge a second field or a line in a log.
ACCEPTED = re.compile(r"[A-Za-z0-9._-]{8,64}")
HEADER = "X-Request-ID"
META_KEY = "request_id"  # where queues.enqueue puts it in an RQ job's meta

_current: ContextVar[str | None] = ContextVar("folio_request_id", default=None)


def accept(candidate: str | None) -> str:
    """`candidate` when it looks like an id a proxy would set, else a new random one: a client must not be able
    to put text of its choosing into every log line of its request."""
    if candidate and ACCEPTED.fullmatch(candidate):
        return candidate
    return new()


def new() -> str:
    return uuid.uuid4().hex


def current() -> str | None:
    """The id bound in this context (a request, a job), or None."""
    return _current.get()


def bind(request_id: str | None) -> Token[str | None]:
    """Bind `request_id` to this context; returns the token `unbind` needs to restore the previous one."""
    return _current.set(request_id)


def unbind(token: Token[str | None]) -> None:
    _current.reset(token)


@contextmanager
def bound(request_id: str | None) -> Iterator[None]:
    """Run a block (a job) with `request_id` bound, restoring what was bound before."""
    token = bind(request_id)
    try:
        yield
    finally:
        unbind(token)


def for_job(meta: Mapping[str, object], job_id: str) -> str:
    """The id a job's log lines carry: the one of the request (or job) that enqueued it, from the job's meta;
    for a job nobody's request enqueued (the scheduler's), its own RQ job id."""
    carried = meta.get(META_KEY)
    return carried if isinstance(carried, str) and ACCEPTED.fullmatch(carried) else job_id


def install_record_factory() -> None:
    """Make every log record carry `request_id` (None outside a request or job). Safe to call again: the
    factory is wrapped once per process."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "folio_request_id", False):
        return

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.request_id = _current.get()
        return record

    factory.folio_request_id = True  # type: ignore[attr-defined]  # the marker checked above
    logging.setLogRecordFactory(factory)
