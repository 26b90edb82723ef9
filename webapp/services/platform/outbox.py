"""The outbox: work that a change must cause elsewhere (a refund at the payment provider, the offline
gateway's webhook delivery), written as a row in the same transaction as the change and delivered from
there. If the transaction rolls back, the work never happened; if it commits, the work will happen.

Redis only hurries a message along (a job is enqueued after commit); the record is the row. The
sweeper (`dispatch_due`, every minute) delivers whatever is due, so a Redis outage or a killed worker
delays a message and loses none. Delivery is at least once: every handler must be idempotent (the
webhook counts each event id once; refunds carry an idempotency key).

`next_attempt_at` is both the retry time and the lease of a delivery in progress: claiming a message
moves it LEASE seconds ahead, so a worker killed mid-delivery leaves a message that falls due again.

A message given up (OUTBOX_MAX_ATTEMPTS failures, or a PermanentFailure) is marked failed and kept; the
handler's owner says what else must happen then through `gave_up` (the payment handlers record a payment
issue for staff), so the outbox needs to know nothing about the work it carries.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select, update

from ...extensions import db
from ...models import OutboxMessage, utcnow
from ...models.payments import OutboxStatus
from . import dml, queues, upsert

log = logging.getLogger(__name__)

Payload = dict[str, Any]
Handler = Callable[[Payload], None]
GaveUp = Callable[[OutboxMessage, str], None]
_HANDLERS: dict[str, Handler] = {}
_GAVE_UP: dict[str, GaveUp] = {}
# Handlers register themselves with @handler when their module is imported; importing webapp.services imports
# every module that has one (webapp/services/__init__.py), so every process knows every kind.
DELIVER_JOB = "jobs.outbox.deliver_message"  # by name: jobs call the services, never the other way round


class PermanentFailure(Exception):
    """The work can never succeed (e.g. the provider says the payment does not exist): stop retrying."""


def handler(kind: str, *, gave_up: GaveUp | None = None) -> Callable[[Handler], Handler]:
    """Register the decorated function as the deliverer of messages of `kind`. `gave_up(message, error)` is
    called when a message of that kind is given up, in the transaction that marks it failed."""
    def register(func: Handler) -> Handler:
        _HANDLERS[kind] = func
        if gave_up is not None:
            _GAVE_UP[kind] = gave_up
        else:
            _GAVE_UP.pop(kind, None)
        return func
    return register


def _handler_for(kind: str) -> Handler:
    return _HANDLERS[kind]


def exists(key: str) -> bool:
    return db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.key == key[:160])) is not None


def add(kind: str, key: str, payload: Payload) -> bool:
    """Write a message in the caller's transaction, once per `key` (False if that key exists already, even
    when a twin writer is racing for it). It is handed to a worker when the transaction commits."""
    message_id = upsert.insert_once(OutboxMessage, OutboxMessage.id, kind=kind, key=key[:160], payload=payload,
                                    status=OutboxStatus.PENDING, attempts=0, next_attempt_at=utcnow(), created_at=utcnow())
    if message_id is None:
        return False
    queues.enqueue_after_commit(db.session, DELIVER_JOB, message_id, queue_name="default")
    return True


def _retry_delay(attempts: int) -> timedelta:
    base = current_app.config["OUTBOX_RETRY_BASE_SECONDS"]
    return timedelta(seconds=min(base * 2 ** max(0, attempts - 1), 6 * 3600))


def _claim(message_id: int, now: datetime) -> bool:
    """Take the message for LEASE seconds if it is due; only one deliverer wins."""
    lease = timedelta(seconds=current_app.config["OUTBOX_LEASE_SECONDS"])
    claimed = dml.changed(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.PENDING,
               OutboxMessage.next_attempt_at <= now)
        .values(next_attempt_at=now + lease, attempts=OutboxMessage.attempts + 1)
        .execution_options(synchronize_session=False))
    db.session.commit()  # the lease is visible before any work starts; no lock is held during it
    return bool(claimed)


def deliver(message_id: int, now: datetime | None = None) -> str:
    """Deliver one message if it is due: "delivered", "retry", "failed" or "not_due". Safe to call
    many times at once (the claim lets one through)."""
    now = now or utcnow()
    if not _claim(message_id, now):
        return "not_due"
    message = db.session.get(OutboxMessage, message_id)
    if message is None:  # claimed a moment ago, and messages are never deleted: cannot happen
        raise LookupError(f"outbox message {message_id} vanished after its claim")
    kind, payload, attempts = message.kind, dict(message.payload), message.attempts
    db.session.rollback()  # the handler runs outside any transaction of ours
    try:
        _handler_for(kind)(payload)
    except Exception as exc:  # recorded on the row and retried; never lost
        db.session.rollback()
        return _failed(message_id, kind, attempts, exc, now, permanent=isinstance(exc, PermanentFailure))
    db.session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id)
                       .values(status=OutboxStatus.DELIVERED, delivered_at=utcnow(), last_error=None)
                       .execution_options(synchronize_session=False))
    db.session.commit()
    return OutboxStatus.DELIVERED


def _failed(message_id: int, kind: str, attempts: int, exc: Exception, now: datetime, *, permanent: bool) -> str:
    error = f"{type(exc).__name__}: {exc}"[:2000]
    give_up = permanent or attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"]
    values: dict[str, object] = {"last_error": error}
    if give_up:
        values["status"] = OutboxStatus.FAILED
    else:
        values["next_attempt_at"] = now + _retry_delay(attempts)
    db.session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.PENDING)
                       .values(**values).execution_options(synchronize_session=False))
    callback = _GAVE_UP.get(kind) if give_up else None
    message = db.session.get(OutboxMessage, message_id) if callback is not None else None
    if callback is not None and message is not None:
        callback(message, error)
    db.session.commit()
    log.warning("outbox %s (%s) attempt %s failed%s: %s", message_id, kind, attempts,
                " for good" if give_up else "", error)
    return "failed" if give_up else "retry"


def dispatch_due(now: datetime | None = None, limit: int = 200) -> dict[str, int]:
    """The sweeper: deliver every message that is due (new ones Redis never carried, retries, and
    deliveries whose worker died). Returns counts by outcome."""
    now = now or utcnow()
    ids = db.session.scalars(select(OutboxMessage.id)
                             .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now)
                             .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit)).all()
    db.session.rollback()
    counts: dict[str, int] = {}
    for message_id in ids:
        outcome = deliver(message_id, now)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def summary() -> dict[str, Any]:
    """Pending and failed messages, and when the oldest pending one was written (for the admin panel)."""
    rows = db.session.execute(select(OutboxMessage.status, func.count(), func.min(OutboxMessage.created_at))
                              .where(OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.FAILED)))
                              .group_by(OutboxMessage.status)).all()
    found = {status: (count, oldest) for status, count, oldest in rows}
    return {"pending": found.get("pending", (0, None))[0], "oldest_pending": found.get("pending", (0, None))[1],
            "failed": found.get("failed", (0, None))[0]}
