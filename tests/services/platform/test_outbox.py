"""The outbox: written with the change, delivered after commit, retried with backoff, never lost, given up
(and shown to staff) only after OUTBOX_MAX_ATTEMPTS."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from webapp.models import OutboxMessage, PaymentIssue, utcnow
from webapp.services.commerce import payment_issues, payments, test_gateway  # noqa: F401  (register handlers)
from webapp.services.platform import outbox

CALLS: list[dict] = []
GIVEN_UP: list[tuple[str, int, str]] = []


@outbox.handler("test_echo", gave_up=payment_issues.outbox_gave_up)  # as the payment handlers do
def _echo(payload: dict) -> None:
    CALLS.append(payload)
    if payload.get("fail_times", 0) >= len([c for c in CALLS if c.get("n") == payload.get("n")]):
        raise RuntimeError("provider unavailable")
    if payload.get("permanent"):
        raise outbox.PermanentFailure("no such payment")


def _note_given_up(message: OutboxMessage, error: str) -> None:
    GIVEN_UP.append((message.key, message.attempts, error))


@outbox.handler("test_quiet", gave_up=_note_given_up)
def _quiet(payload: dict) -> None:
    raise RuntimeError(f"down {payload['n']}")


@outbox.handler("test_no_callback")
def _no_callback(payload: dict) -> None:
    raise outbox.PermanentFailure("never")


@pytest.fixture(autouse=True)
def _reset():
    CALLS.clear()
    GIVEN_UP.clear()
    yield
    CALLS.clear()
    GIVEN_UP.clear()


def _message(db, key):
    db.session.expire_all()
    return db.session.scalars(select(OutboxMessage).where(OutboxMessage.key == key)).one()


def test_a_message_is_written_once_per_key_and_dropped_with_its_transaction(app, db):
    assert outbox.add("test_echo", "k1", {"n": 1})
    assert not outbox.add("test_echo", "k1", {"n": 2})  # the same work asked twice: once
    db.session.rollback()  # the change that needed it did not happen: neither does the work
    assert db.session.scalars(select(OutboxMessage)).all() == []
    outbox.add("test_echo", "k1", {"n": 1})
    db.session.commit()
    assert _message(db, "k1").status == "pending"


def test_delivered_after_commit_by_the_worker(app, db, run_jobs):
    outbox.add("test_echo", "k2", {"n": 2})
    db.session.commit()
    run_jobs()
    assert CALLS == [{"n": 2}]
    message = _message(db, "k2")
    assert message.status == "delivered" and message.attempts == 1 and message.delivered_at is not None
    assert outbox.deliver(message.id) == "not_due"  # delivered messages are not delivered again
    assert len(CALLS) == 1


def test_failures_are_retried_with_backoff_then_delivered(app, db):
    outbox.add("test_echo", "k3", {"n": 3, "fail_times": 2})
    db.session.commit()
    message_id = _message(db, "k3").id
    now = utcnow()
    assert outbox.deliver(message_id, now) == "retry"
    first = _message(db, "k3")
    assert first.attempts == 1 and "provider unavailable" in first.last_error
    wait = first.next_attempt_at - now
    assert timedelta(seconds=25) < wait < timedelta(seconds=40)  # OUTBOX_RETRY_BASE_SECONDS, then doubling
    assert outbox.dispatch_due(now) == {}  # not due yet
    assert outbox.dispatch_due(now + timedelta(seconds=31)) == {"retry": 1}
    second = _message(db, "k3")
    assert second.next_attempt_at - (now + timedelta(seconds=31)) > timedelta(seconds=55)
    assert outbox.dispatch_due(now + timedelta(minutes=5)) == {"delivered": 1}
    assert _message(db, "k3").attempts == 3 and len(CALLS) == 3


def test_a_delivery_whose_worker_died_is_due_again_when_its_lease_ends(app, db):
    outbox.add("test_echo", "k4", {"n": 4})
    db.session.commit()
    message = _message(db, "k4")
    now = utcnow()
    assert outbox._claim(message.id, now)  # a worker took it ... and was killed before finishing
    assert outbox.dispatch_due(now + timedelta(seconds=60)) == {}  # still leased
    lease = app.config["OUTBOX_LEASE_SECONDS"]
    assert outbox.dispatch_due(now + timedelta(seconds=lease + 1)) == {"delivered": 1}
    assert _message(db, "k4").attempts == 2 and CALLS == [{"n": 4}]


def test_giving_up_raises_a_payment_issue_for_staff(app, db, monkeypatch):
    monkeypatch.setitem(app.config, "OUTBOX_MAX_ATTEMPTS", 2)
    outbox.add("test_echo", "k5", {"n": 5, "fail_times": 99, "order_number": None})
    db.session.commit()
    now = utcnow()
    assert outbox.dispatch_due(now) == {"retry": 1}
    assert outbox.dispatch_due(now + timedelta(hours=1)) == {"failed": 1}
    assert _message(db, "k5").status == "failed"
    issue = db.session.scalars(select(PaymentIssue)).one()
    assert issue.kind == "outbox_failed" and issue.reference == "k5" and "provider unavailable" in issue.message
    assert outbox.dispatch_due(now + timedelta(days=1)) == {}
    assert outbox.summary()["failed"] == 1


def test_a_permanent_failure_stops_at_once(app, db):
    outbox.add("test_echo", "k6", {"n": 6, "permanent": True})
    db.session.commit()
    assert outbox.dispatch_due() == {"failed": 1}
    assert db.session.scalars(select(PaymentIssue)).one().reference == "k6"


def test_giving_up_calls_the_handlers_own_callback_once(app, db, monkeypatch):
    """The outbox knows nothing of payments: what giving up means is said by whoever registered the kind."""
    monkeypatch.setitem(app.config, "OUTBOX_MAX_ATTEMPTS", 2)
    outbox.add("test_quiet", "k7", {"n": 7})
    db.session.commit()
    now = utcnow()
    assert outbox.dispatch_due(now) == {"retry": 1}
    assert GIVEN_UP == []  # a retry is not giving up
    assert outbox.dispatch_due(now + timedelta(hours=1)) == {"failed": 1}
    assert GIVEN_UP == [("k7", 2, "RuntimeError: down 7")]
    assert outbox.dispatch_due(now + timedelta(days=1)) == {}
    assert len(GIVEN_UP) == 1
    assert db.session.scalars(select(PaymentIssue)).all() == []


def test_giving_up_without_a_callback_only_marks_the_message_failed(app, db):
    outbox.add("test_no_callback", "k8", {"n": 8})
    db.session.commit()
    assert outbox.dispatch_due() == {"failed": 1}
    assert _message(db, "k8").status == "failed"
    assert db.session.scalars(select(PaymentIssue)).all() == []


def test_the_payment_handlers_raise_a_payment_issue_when_given_up(app):
    kinds = ("refund", "expire_session", "test_gateway_event")
    assert {kind: outbox._GAVE_UP.get(kind) for kind in kinds} == dict.fromkeys(kinds, payment_issues.outbox_gave_up)
