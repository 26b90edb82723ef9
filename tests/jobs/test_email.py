import smtplib
from datetime import timedelta

import pytest
from sqlalchemy import select

from jobs.email import deliver_email
from webapp.models import OutboundEmail, utcnow
from webapp.services.platform import mail


def _message(db, message_id):
    db.session.expire_all()
    return db.session.get(OutboundEmail, message_id)


def test_email_is_enqueued_after_commit_and_lands_in_the_outbox(app, db, run_jobs):
    queue = app.extensions["folio_queues"]["email"]
    message_id = mail.send("reader@example.com", "Your receipt", "Thanks!").id
    assert queue.count == 0  # nothing leaves before the transaction commits
    db.session.commit()
    assert queue.count == 1
    run_jobs()
    stored = _message(db, message_id)
    assert stored.status == "outbox" and stored.attempts == 1 and stored.sent_at is not None


def test_rolled_back_email_is_never_enqueued(app, db):
    mail.send("reader@example.com", "Never", "Rolled back")
    db.session.rollback()
    assert app.extensions["folio_queues"]["email"].count == 0
    assert db.session.scalars(select(OutboundEmail)).all() == []


class RecordingSMTP:
    sent: list = []
    fail_times = 0

    def __init__(self, host, port, timeout=None):
        self.host, self.port = host, port

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def starttls(self, context=None):
        pass

    def login(self, user, password):
        self.user = user

    def send_message(self, message):
        if RecordingSMTP.fail_times:
            RecordingSMTP.fail_times -= 1
            raise smtplib.SMTPServerDisconnected("connection lost")
        RecordingSMTP.sent.append(message)


@pytest.fixture
def smtp(app, monkeypatch):
    RecordingSMTP.sent = []
    RecordingSMTP.fail_times = 0
    monkeypatch.setattr(smtplib, "SMTP", RecordingSMTP)
    monkeypatch.setitem(app.config, "MAIL_SERVER", "smtp.example.test")
    return RecordingSMTP


def test_smtp_delivery_when_mail_server_is_set(app, db, run_jobs, smtp):
    message_id = mail.send("reader@example.com", "Hello", "Plain body", "<p>HTML body</p>").id
    db.session.commit()
    run_jobs()
    assert len(smtp.sent) == 1
    sent = smtp.sent[0]
    assert sent["To"] == "reader@example.com" and sent["Subject"] == "Hello"
    assert "Plain body" in sent.get_body(("plain",)).get_content()
    assert "HTML body" in sent.get_body(("html",)).get_content()
    assert _message(db, message_id).status == "sent"


def test_failed_delivery_is_recorded_retried_and_finally_marked_failed(app, db, smtp, monkeypatch):
    smtp.fail_times = 1
    message_id = mail.send("reader@example.com", "Retry me", "Body").id
    db.session.commit()
    with pytest.raises(smtplib.SMTPServerDisconnected):
        mail.deliver(message_id)  # an attempt with retries left
    stored = _message(db, message_id)
    assert stored.status == "queued" and stored.attempts == 1 and "connection lost" in stored.last_error
    deliver_email(message_id)  # the retry succeeds
    stored = _message(db, message_id)
    assert stored.status == "sent" and stored.attempts == 2 and stored.last_error is None

    smtp.fail_times = 1
    doomed_id = mail.send("reader@example.com", "Doomed", "Body").id
    db.session.commit()
    with pytest.raises(smtplib.SMTPServerDisconnected):
        mail.deliver(doomed_id, final_attempt=True)
    assert _message(db, doomed_id).status == "failed"


def test_rq_retries_a_failing_job(app, db, run_jobs, smtp):
    smtp.fail_times = 1
    message_id = mail.send("reader@example.com", "Eventually", "Body").id
    db.session.commit()
    run_jobs()  # first attempt fails; RQ schedules a retry
    assert _message(db, message_id).status == "queued"
    registry = app.extensions["folio_queues"]["email"].scheduled_job_registry
    assert registry.count == 1


def test_delivery_is_idempotent(app, db, run_jobs):
    message_id = mail.send("reader@example.com", "Once", "Body").id
    db.session.commit()
    run_jobs()
    assert deliver_email(message_id) == "outbox"
    assert _message(db, message_id).attempts == 1


def test_stale_queued_mail_is_requeued(app, db):
    message = OutboundEmail(recipient="x@example.com", subject="Stuck", body_text="b",
                            created_at=utcnow() - timedelta(hours=1))
    db.session.add(message)
    db.session.commit()
    assert mail.requeue_stale() == 1
    assert app.extensions["folio_queues"]["email"].count == 1
    assert mail.requeue_stale() == 0  # not re-sent again straight away
