"""Long-running staff work (CSV imports, reports): one row per run, executed by an RQ worker.

A feature registers a runner for its kind:

    @background.runner("report:sales")
    def build(task: BackgroundTask, progress: Progress) -> Outcome: ...

`start()` creates the row and enqueues `jobs.background.run_task(task_id)` after commit; the worker calls
`execute()`, which marks the row running, calls the runner (which reports progress through `progress()`,
committed at once so the polling page sees it) and stores its outcome, or the failure, on the row.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select, update

from ...extensions import db
from ...models import BackgroundTask, utcnow
from ...models.background import TaskStatus
from . import dml, queues

log = logging.getLogger(__name__)
RUN_JOB = "jobs.background.run_task"  # by name: jobs call the services, never the other way round


@dataclass
class Outcome:
    """What a finished task produced."""

    message: str
    result: dict[str, Any] | None = None
    csv: str | None = None
    charts: dict[str, str] | None = None  # name -> inline SVG, stored as BackgroundTask.output_charts


class Progress:
    """Reports progress from inside a runner. Each call COMMITS the session (so the polling page sees it):
    call it between units of work that are complete on their own (a batch of imported rows, a finished
    query), never in the middle of one."""

    def __init__(self, task_id: int) -> None:
        self.task_id = task_id

    def __call__(self, done: int, total: int | None = None, message: str | None = None) -> None:
        values: dict[str, object] = {"progress": max(0, done)}
        if total is not None:
            values["total"] = max(0, total)
        if message is not None:
            values["message"] = message[:300]
        db.session.execute(update(BackgroundTask).where(BackgroundTask.id == self.task_id).values(**values)
                           .execution_options(synchronize_session=False))
        db.session.commit()


Runner = Callable[[BackgroundTask, Progress], Outcome]
_RUNNERS: dict[str, Runner] = {}
# Runners register themselves with @runner when their module is imported; importing webapp.services imports
# every module that has one (webapp/services/__init__.py), so every process (web, worker) knows every kind.


def runner(kind: str) -> Callable[[Runner], Runner]:
    """Register the decorated function as the runner of tasks of `kind`."""
    def register(func: Runner) -> Runner:
        _RUNNERS[kind] = func
        return func

    return register


def start(kind: str, title: str, *, params: dict[str, Any] | None = None, user_id: int | None = None,
          input_text: str | None = None, queue_name: str = "reports") -> BackgroundTask:
    """Create the task row and enqueue it once the caller's transaction commits."""
    if kind not in _RUNNERS:
        raise ValueError(f"no runner registered for {kind!r}")
    task = BackgroundTask(kind=kind, title=title[:200], params=params or {}, requested_by_id=user_id,
                          input_text=input_text, status=TaskStatus.QUEUED)
    db.session.add(task)
    db.session.flush()
    queues.enqueue_after_commit(db.session, RUN_JOB, task.id, queue_name=queue_name,
                               job_timeout=current_app.config.get("BACKGROUND_TASK_TIMEOUT", 1800))
    return task


def execute(task_id: int) -> str:
    """Run one task (the worker's side). Idempotent: a finished or failed task is not run again, and two
    workers cannot both claim a queued task."""
    claimed = dml.changed(
        update(BackgroundTask).where(BackgroundTask.id == task_id, BackgroundTask.status == TaskStatus.QUEUED)
        .values(status=TaskStatus.RUNNING, started_at=utcnow(), message="Started.")
        .execution_options(synchronize_session=False))
    db.session.commit()
    if not claimed:
        return "skipped"
    task = db.session.get(BackgroundTask, task_id)
    if task is None:  # claimed a moment ago, and tasks are never deleted: cannot happen
        raise LookupError(f"background task {task_id} vanished after its claim")
    func = _RUNNERS.get(task.kind)
    try:
        if func is None:
            raise RuntimeError(f"no runner for {task.kind}")
        outcome = func(task, Progress(task.id))
        db.session.commit()  # whatever the runner wrote
    except Exception as exc:  # recorded on the row for the person waiting; the traceback goes to the log
        db.session.rollback()
        log.exception("background task %s (%s) failed", task_id, getattr(task, "kind", "?"))
        db.session.execute(update(BackgroundTask).where(BackgroundTask.id == task_id).values(
            status=TaskStatus.FAILED, finished_at=utcnow(), input_text=None,
            message=f"Failed: {exc}"[:300] if isinstance(exc, ValueError) else "Failed: an unexpected error; "
                                                                               "the details are in the worker log."))
        db.session.commit()
        return TaskStatus.FAILED
    db.session.execute(update(BackgroundTask).where(BackgroundTask.id == task_id).values(
        status=TaskStatus.FINISHED, finished_at=utcnow(), message=outcome.message[:300], result=outcome.result,
        output_csv=outcome.csv, output_charts=outcome.charts, input_text=None,
        progress=BackgroundTask.total))
    db.session.commit()
    return TaskStatus.FINISHED


def get(task_id: int) -> BackgroundTask | None:
    return db.session.get(BackgroundTask, task_id)


def recent(kind_prefix: str, limit: int = 20) -> list[BackgroundTask]:
    """The latest tasks whose kind starts with `kind_prefix` ("report:", "import:books")."""
    return list(db.session.scalars(
        select(BackgroundTask).where(BackgroundTask.kind.startswith(kind_prefix, autoescape=True))
        .order_by(BackgroundTask.created_at.desc(), BackgroundTask.id.desc()).limit(limit)))


def requeue_stale(older_than_minutes: int = 15) -> int:
    """Tasks still queued long after they were created (Redis was down at enqueue time): enqueue again."""
    now = utcnow()
    cutoff = now - timedelta(minutes=older_than_minutes)
    ids = db.session.scalars(select(BackgroundTask.id).where(BackgroundTask.status == TaskStatus.QUEUED,
                                                             BackgroundTask.created_at < cutoff)).all()
    for task_id in ids:
        queues.enqueue(RUN_JOB, task_id, queue_name="reports")
    # Running far past the job timeout: the worker died under it (deploy, out of memory). Say so, so the page
    # stops waiting; an import can be run again safely (known ISBNs are updated, not duplicated).
    limit = now - timedelta(seconds=current_app.config.get("BACKGROUND_TASK_TIMEOUT", 1800)) - timedelta(minutes=5)
    db.session.execute(update(BackgroundTask).where(BackgroundTask.status == TaskStatus.RUNNING,
                                                    BackgroundTask.started_at < limit)
                       .values(status=TaskStatus.FAILED, finished_at=now, input_text=None,
                               message="Interrupted: the worker stopped while running this. Start it again.")
                       .execution_options(synchronize_session=False))
    db.session.commit()
    return len(ids)
