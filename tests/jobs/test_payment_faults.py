"""Fault injection on the payment path: a payment is never lost and never applied twice.

1. Redis outage: the customer pays while Redis is down (the job that would deliver the gateway's event cannot
   be enqueued) and closes the tab. Once Redis is back, the cron's outbox sweeper and a worker deliver the
   event: the order is paid (or the wallet credited) exactly once, and running them again changes nothing.
2. Worker killed mid-delivery: a real worker process is SIGKILLed while it delivers the gateway's event, after
   the webhook applied it (or before). When the lease runs out, the sweeper and a new worker deliver it again:
   the webhook counts it once.

Each test runs its own redis-server on a spare port (it is stopped for real) and a second app bound to the
suite's database but to that Redis, so it runs on PostgreSQL + Redis and on SQLite + fakeredis alike.
"""
from __future__ import annotations

import logging
import re
import time
from datetime import timedelta

import pytest
from rq import SimpleWorker
from rq.registry import FailedJobRegistry
from sqlalchemy import func, select

from jobs.outbox import deliver_due
from tests.checkout_helpers import pay, shopper, start
from tests.factories import make_book
from tests.faults import RedisServer, Workers, dispose, second_app
from webapp.extensions import db
from webapp.models import (
    Book,
    Charge,
    Inventory,
    Order,
    OrderEvent,
    OutboundEmail,
    OutboxMessage,
    PaymentEvent,
    StockMovement,
    User,
    WalletEntry,
    utcnow,
)
from webapp.services.circulation import wallet
from webapp.services.commerce import charges
from webapp.services.platform import mail, outbox

LEASE_SECONDS = 2  # the outbox lease of a delivery in progress (120 s in production): short, so a test can outlive it


@pytest.fixture
def spare_redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def shop(app, spare_redis):
    """The system under test: an app on the suite's database and the spare Redis. (`app` builds and empties the
    database.)"""
    application = second_app(spare_redis.url, OUTBOX_LEASE_SECONDS=LEASE_SECONDS)
    yield application
    dispose(application)


@pytest.fixture
def workers(app, spare_redis, tmp_path):
    started = Workers(tmp_path, app.config["SQLALCHEMY_DATABASE_URI"], spare_redis.url, LEASE_SECONDS)
    yield started
    started.kill_all()


# ---- helpers ----

def pay_by_card(client, session_id: str):
    """The customer on the offline gateway's page: load it, submit the card form (CSRF token included)."""
    url = f"/pay/test/{session_id}"
    page = client.get(url)
    assert page.status_code == 200, page.get_data(as_text=True)[:500]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    return client.post(url, data={"csrf_token": token, "card_number": "4242424242424242", "exp_month": 12,
                                  "exp_year": 2099, "cvc": "123", "name": "Ann Reader"})


def run_worker(application) -> None:
    """A real RQ worker on the spare Redis, in this process (burst: until every queue is empty)."""
    with application.app_context():
        queues = list(application.extensions["folio_queues"].values())
        SimpleWorker(queues, connection=application.extensions["folio_redis"]).work(burst=True)
    for queue in application.extensions["folio_queues"].values():
        assert FailedJobRegistry(queue=queue).count == 0, f"a job failed on {queue.name}"


def cron_tick(application) -> None:
    """What the scheduler does: enqueue the outbox sweeper (every minute) and re-enqueue mail stuck in "queued"."""
    with application.app_context():
        application.extensions["folio_queues"]["default"].enqueue(deliver_due)
        mail.requeue_stale(timedelta(0))


def recover(application) -> None:
    cron_tick(application)
    run_worker(application)


def outbox_row(key: str) -> OutboxMessage:
    db.session.rollback()  # a fresh snapshot: other processes and contexts write meanwhile
    return db.session.scalars(select(OutboxMessage).where(OutboxMessage.key == key)).one()


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def state() -> dict:
    """Everything a payment can change, to show that a second recovery run changes nothing."""
    db.session.rollback()

    def rows(model, *columns):
        return sorted(tuple(getattr(row, c) for c in columns) for row in db.session.scalars(select(model)))

    return {
        "orders": rows(Order, "number", "status", "paid_at", "payment_intent_id"),
        "order_events": rows(OrderEvent, "id", "order_id", "status"),
        "inventory": rows(Inventory, "book_id", "on_hand", "reserved"),
        "stock_movements": rows(StockMovement, "id", "on_hand_delta", "reserved_delta"),
        "payment_events": rows(PaymentEvent, "id"),
        "outbox": rows(OutboxMessage, "key", "status", "attempts", "delivered_at"),
        "emails": rows(OutboundEmail, "id", "subject", "status", "attempts"),
        "charges": rows(Charge, "reference", "status", "paid_at"),
        "wallet": rows(WalletEntry, "id", "amount_cents", "reason", "reference"),
        "balances": rows(User, "id", "wallet_balance_cents"),
    }


# ---- 1. Redis outage ----

def _pay_during_outage(shop, spare_redis, caplog, session_id: str, success_url: str) -> str:
    """Stop Redis, pay on the gateway page, close the tab. Returns the outbox key of the gateway's event."""
    spare_redis.stop()
    caplog.set_level(logging.ERROR, logger="webapp.services.platform.queues")
    response = pay_by_card(shop.test_client(), session_id)
    assert response.status_code == 303, response.get_data(as_text=True)[:500]  # the customer saw no error
    assert response.headers["Location"] == success_url  # ... and is not taken there: the tab is closed
    # The fault was real: the job that would have delivered the event could not be enqueued.
    assert any(r.getMessage().startswith("could not enqueue jobs.outbox.deliver_message") for r in caplog.records)
    key = f"event-completed-{session_id}"
    message = outbox_row(key)
    assert (message.status, message.attempts, message.payload["event"]["type"]) == (
        "pending", 0, "checkout.session.completed")
    assert count(PaymentEvent) == 0
    spare_redis.start()  # back, and empty: nothing that was enqueued before survives an unpersisted Redis
    assert all(queue.count == 0 for queue in shop.extensions["folio_queues"].values())
    run_worker(shop)  # a worker alone has nothing to do: the outbox row is the record, not Redis
    assert outbox_row(key).status == "pending"
    return key


def test_order_paid_while_redis_is_down_is_fulfilled_once_after_recovery(shop, spare_redis, caplog):
    with shop.app_context():
        book = make_book("Outage Book", on_hand=5, price_cents=1500)
        order = start(shopper("outage_buyer"), [(book, 2, "buy", 1)])
        order_id, number, book_id = order.id, order.number, book.id

        key = _pay_during_outage(shop, spare_redis, caplog, order.payment_session_id,
                                 f"http://shop.test/checkout/success/{number}")
        db.session.rollback()
        assert db.session.get(Order, order_id).status == "pending_payment"
        assert db.session.get(Inventory, book_id).reserved == 2

        recover(shop)

        db.session.rollback()
        order = db.session.get(Order, order_id)
        assert order.status == "paid" and order.paid_at is not None
        assert count(OrderEvent, OrderEvent.order_id == order_id, OrderEvent.status == "paid") == 1
        stock = db.session.get(Inventory, book_id)
        assert (stock.on_hand, stock.reserved) == (3, 0)
        assert db.session.get(Book, book_id).units_sold == 2
        message = outbox_row(key)
        assert (message.status, message.attempts) == ("delivered", 1)
        assert db.session.scalars(select(PaymentEvent.id)).all() == [message.payload["event"]["id"]]
        receipts = db.session.scalars(select(OutboundEmail).where(OutboundEmail.subject.contains(number))).all()
        assert [(m.subject, m.status) for m in receipts] == [(f"Folio receipt for order {number}", "outbox")]
        assert count(OutboundEmail, OutboundEmail.status != "outbox") == 0

        before = state()
        recover(shop)
        assert state() == before


def test_top_up_paid_while_redis_is_down_is_credited_once_after_recovery(shop, spare_redis, caplog):
    with shop.app_context():
        user = shopper("outage_saver")
        user_id = user.id
        charge, url = charges.start(user, "top_up", 2000,
                                    success_url=lambda c: f"http://shop.test/wallet/top-up/{c.reference}",
                                    cancel_url=lambda c: "http://shop.test/wallet")
        charge_id, reference, session_id = charge.id, charge.reference, charge.payment_session_id
        assert url == f"/pay/test/{session_id}"

        key = _pay_during_outage(shop, spare_redis, caplog, session_id,
                                 f"http://shop.test/wallet/top-up/{reference}")
        db.session.rollback()
        assert db.session.get(Charge, charge_id).status == "pending" and wallet.balance(user_id) == 0

        recover(shop)

        db.session.rollback()
        assert db.session.get(Charge, charge_id).status == "paid"
        assert wallet.balance(user_id) == 2000
        entries = db.session.scalars(select(WalletEntry).where(WalletEntry.user_id == user_id)).all()
        assert [(e.amount_cents, e.reason, e.reference) for e in entries] == [(2000, "top_up", reference)]
        message = outbox_row(key)
        assert (message.status, message.attempts) == ("delivered", 1)
        assert db.session.scalars(select(PaymentEvent.id)).all() == [message.payload["event"]["id"]]
        notices = db.session.scalars(select(OutboundEmail).where(OutboundEmail.body_text.contains(reference))).all()
        assert [(m.subject, m.status) for m in notices] == [("$20.00 added to your Folio wallet", "outbox")]
        assert count(OutboundEmail, OutboundEmail.status != "outbox") == 0

        before = state()
        recover(shop)
        assert state() == before


# ---- 2. Worker killed mid-delivery ----

@pytest.mark.parametrize("block", ["after_webhook", "before_webhook"])
def test_worker_killed_mid_delivery_the_event_is_delivered_again_and_applied_once(shop, workers, block):
    doomed = workers.start(queues=("default",), block=block)  # a real worker process, listening already
    with shop.app_context():
        book = make_book("Killed Worker Book", on_hand=5, price_cents=1500)
        order = start(shopper("killed_buyer"), [(book, 2, "buy", 1)])
        order_id, number, book_id, session_id = order.id, order.number, book.id, order.payment_session_id
        assert pay(order) is None  # commits; the delivery job goes to the spare Redis after commit
        key = f"event-completed-{session_id}"

        event_id = doomed.wait_for_marker(timeout=30)
        message = outbox_row(key)
        assert message.payload["event"]["id"] == event_id
        assert (message.status, message.attempts) == ("pending", 1)  # claimed, never marked delivered
        lease_end = message.next_attempt_at
        assert lease_end >= message.created_at + timedelta(seconds=LEASE_SECONDS)
        order = db.session.get(Order, order_id)
        if block == "after_webhook":
            assert order.status == "paid"
            assert doomed.answers() == [{"status": 200, "body": {"received": True, "outcome": "paid"}}]
            assert count(PaymentEvent) == 1
        else:
            assert order.status == "pending_payment"
            assert doomed.answers() == []
            assert count(PaymentEvent) == 0
        # While the lease runs, a sweep leaves the message to the worker that holds it.
        assert outbox.dispatch_due(now=lease_end - timedelta(milliseconds=500)) == {}

        assert doomed.kill() == -9
        assert outbox_row(key).status == "pending"

        # Recovery as in production: the lease runs out, the cron enqueues the sweeper, a new worker runs it.
        time.sleep(max(0.0, (lease_end - utcnow()).total_seconds()) + 0.05)
        shop.extensions["folio_queues"]["default"].enqueue(deliver_due)
        rescuer = workers.start(queues=("default", "email"), burst=True)
        assert rescuer.wait(timeout=30) == 0, rescuer.output()

        message = outbox_row(key)
        assert (message.status, message.attempts) == ("delivered", 2), message.last_error
        if block == "after_webhook":  # delivered twice, applied once
            assert rescuer.answers() == [{"status": 200, "body": {"received": True, "duplicate": True}}]
        else:
            assert rescuer.answers() == [{"status": 200, "body": {"received": True, "outcome": "paid"}}]
        order = db.session.get(Order, order_id)
        assert order.status == "paid" and order.payment_intent_id is not None
        assert count(OrderEvent, OrderEvent.order_id == order_id, OrderEvent.status == "paid") == 1
        assert db.session.scalars(select(PaymentEvent.id)).all() == [event_id]
        stock = db.session.get(Inventory, book_id)
        assert (stock.on_hand, stock.reserved) == (3, 0)
        assert count(StockMovement, StockMovement.reference == number, StockMovement.reason == "sale") == 1
        receipts = db.session.scalars(select(OutboundEmail).where(OutboundEmail.subject.contains(number))).all()
        assert [(m.subject, m.status) for m in receipts] == [(f"Folio receipt for order {number}", "outbox")]
