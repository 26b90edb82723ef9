"""Reconciliation and late outcomes, on both databases: whatever was lost or came late ends in exactly one
fulfilled order (or credited top-up) or one refund."""
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select

from tests.checkout_helpers import ADDRESS, drain, pay, shopper, start
from webapp.models import (
    Charge,
    GatewaySession,
    Inventory,
    Order,
    OrderEvent,
    OutboundEmail,
    OutboxMessage,
    utcnow,
)
from webapp.services.circulation import wallet
from webapp.services.commerce import cart, charges, checkout, fulfilment, payments, reconcile, test_gateway
from webapp.services.platform import outbox

LATER = timedelta(minutes=45)  # past the page's 31 minutes and the 5-minute grace


def fresh(db, model, row_id):
    db.session.expire_all()
    return db.session.get(model, row_id)


def count(db, model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def receipts(db):
    return count(db, OutboundEmail, OutboundEmail.subject.contains("receipt"))




def lose_outbox(db):
    """The event never left: as if Redis and the worker had lost it and no sweeper existed."""
    db.session.execute(delete(OutboxMessage))
    db.session.commit()


def test_an_order_paid_whose_event_was_lost_is_fulfilled_by_the_reconciler(app, db, make_book):
    book = make_book(on_hand=3)
    order = start(shopper(), [(book, 2, "buy", 1)])
    assert pay(order) is None
    lose_outbox(db)
    assert reconcile.run() == {}  # inside its window: left alone
    assert reconcile.run(utcnow() + LATER) == {"order_paid": 1}
    db.session.expire_all()
    assert fresh(db, Order, order.id).status == "paid" and receipts(db) == 1
    assert (db.session.get(Inventory, book.id).on_hand, db.session.get(Inventory, book.id).reserved) == (1, 0)
    assert reconcile.run(utcnow() + LATER) == {}  # settled: nothing more


def test_a_top_up_paid_whose_event_was_lost_is_credited_by_the_reconciler(app, db):
    user = shopper("topper")
    charge, _ = charges.start(user, "top_up", 2500, success_url=lambda c: "s", cancel_url=lambda c: "c")
    assert test_gateway.TestGateway().pay(charge.payment_session_id, "4242424242424242", 12, 2099, "123") is None
    lose_outbox(db)
    assert reconcile.run(utcnow() + LATER) == {"charge_credited": 1}
    assert wallet.balance(user.id) == 2500 and fresh(db, Charge, charge.id).status == "paid"
    assert reconcile.run(utcnow() + LATER) == {}


def test_an_unpaid_page_is_closed_at_the_provider_before_the_stock_goes_back(app, db, make_book):
    book = make_book(on_hand=1)
    order = start(shopper(), [(book, 1, "buy", 1)])
    session_id = order.payment_session_id
    assert reconcile.run(utcnow() + LATER) == {"order_expired": 1}
    assert fresh(db, Order, order.id).status == "expired" and db.session.get(Inventory, book.id).reserved == 0
    assert db.session.get(GatewaySession, session_id).status == "expired"
    with pytest.raises(payments.PaymentError, match="no longer open"):
        pay(order)  # the customer comes back to the page: it is closed, nothing is charged


def test_a_checkout_that_crashed_before_its_page_opened_is_released(app, db, make_book):
    book = make_book(on_hand=2)
    user = shopper()
    order, url = checkout._reserve(user, [cart.CartItem(book.id, "buy", 2, 1, 0)], ADDRESS, code=None,
                                   success_url=lambda o: "s", use_wallet=False, token=None)
    db.session.commit()  # ... and the process died before asking the provider
    assert url is None and fresh(db, Inventory, book.id).reserved == 2
    assert reconcile.run(utcnow() + LATER) == {"order_expired": 1}
    assert fresh(db, Order, order.id).status == "expired" and fresh(db, Inventory, book.id).reserved == 0


def test_a_provider_that_cannot_answer_is_asked_again_next_time(app, db, make_book, monkeypatch):
    book = make_book(on_hand=2)
    order = start(shopper(), [(book, 1, "buy", 1)])
    real = test_gateway.TestGateway.retrieve

    def down(self, session_id):
        raise payments.PaymentError("the provider is unreachable")

    monkeypatch.setattr(test_gateway.TestGateway, "retrieve", down)
    assert reconcile.run(utcnow() + LATER) == {"order_unreachable": 1}
    assert fresh(db, Order, order.id).status == "pending_payment"
    monkeypatch.setattr(test_gateway.TestGateway, "retrieve", real)
    assert reconcile.run(utcnow() + LATER) == {"order_expired": 1}


# ---- late payments ----

def test_a_payment_after_the_customer_cancelled_is_honoured_when_the_books_remain(app, db, make_book):
    book = make_book(on_hand=3)
    user = shopper()
    order = start(user, [(book, 1, "buy", 1)])
    # the customer pressed "Back to my cart" but the page could not be closed at once (provider slow):
    fulfilment.cancel_unpaid(order, reason="Back to my cart", actor_id=user.id, close_now=False)
    db.session.commit()
    assert pay(order) is None  # the customer paid the still-open page in another tab
    assert outbox.dispatch_due() == {"delivered": 2}  # the page-close (AlreadyPaid: applied) and the event
    order = fresh(db, Order, order.id)
    assert order.status == "paid" and receipts(db) == 1
    assert count(db, OrderEvent, OrderEvent.order_id == order.id, OrderEvent.status == "paid") == 1
    assert fresh(db, Inventory, book.id).on_hand == 2


def test_a_payment_after_the_books_went_to_someone_else_is_refunded_with_an_email(app, db, make_book):
    book = make_book(on_hand=1, price_cents=2000)
    order = start(shopper(), [(book, 1, "buy", 1)])
    fulfilment.cancel_unpaid(order, reason="Back to my cart", close_now=False)
    db.session.commit()
    start(shopper("quicker"), [(book, 1, "buy", 1)])  # the last copy is someone else's now
    assert pay(order) is None
    assert drain() == 4  # the page-close (AlreadyPaid: applied), the event, the refund, its confirmation
    order = fresh(db, Order, order.id)
    assert order.status == "cancelled" and order.paid_at is None and order.refunded_cents == order.total_cents
    assert order.refunded_at is not None  # a payment that never bought anything: the order stays cancelled
    session = db.session.get(GatewaySession, order.payment_session_id)
    assert session.amount_refunded == session.amount_total == order.total_cents
    assert receipts(db) == 0
    mail = db.session.scalars(select(OutboundEmail).where(OutboundEmail.subject.contains("being refunded"))).one()
    assert "the books had gone to other customers" in mail.body_text
    assert fresh(db, Inventory, book.id).reserved == 1  # the other customer's copy is untouched


def test_a_second_checkout_with_another_cart_replaces_the_first_and_closes_its_page(app, db, make_book):
    a, b = make_book("First Cart", on_hand=2), make_book("Second Cart", on_hand=2)
    user = shopper()
    first = start(user, [(a, 1, "buy", 1)])
    second = start(user, [(b, 1, "buy", 1)])
    assert fresh(db, Order, first.id).status == "cancelled" and fresh(db, Inventory, a.id).reserved == 0
    assert outbox.dispatch_due() == {"delivered": 1}
    assert db.session.get(GatewaySession, first.payment_session_id).status == "expired"
    assert fresh(db, Order, second.id).status == "pending_payment"
    assert count(db, Order, Order.user_id == user.id, Order.status == "pending_payment") == 1


def test_a_superseded_page_paid_in_the_other_tab_before_it_closes_is_applied_once(app, db, make_book):
    """Two tabs: the second checkout (another cart) supersedes the first, but the first tab pays before the outbox
    closes its page. Closing finds it paid (AlreadyPaid) and hands the payment to payment_events through the hook
    services.connect() wires; the gateway's own event for the same payment then changes nothing."""
    a, b = make_book("Paid Anyway", on_hand=2), make_book("Other Cart", on_hand=2)
    user = shopper()
    first = start(user, [(a, 1, "buy", 1)])
    second = start(user, [(b, 1, "buy", 1)])
    assert fresh(db, Order, first.id).status == "cancelled"
    assert pay(first) is None  # paid: the first tab's page was still open at the provider
    [close, event] = db.session.scalars(select(OutboxMessage.kind).order_by(OutboxMessage.id)).all()
    assert (close, event) == ("expire_session", "test_gateway_event")  # the close is delivered first
    assert drain() >= 2
    paid = fresh(db, Order, first.id)
    assert paid.status == "paid" and paid.paid_at is not None  # its copy could be taken again: a late sale
    assert fresh(db, Inventory, a.id).on_hand == 1 and fresh(db, Inventory, a.id).reserved == 0
    assert receipts(db) == 1  # applied once, though the close and the event both reported it
    assert count(db, OutboxMessage, OutboxMessage.kind == "refund") == 0
    assert fresh(db, Order, second.id).status == "pending_payment"


def test_a_crash_after_the_page_closed_but_before_the_stock_went_back_is_finished(app, db, make_book):
    """"Back to my cart" closed the page at the provider, then the process died before the order was cancelled:
    the reconciler finds the page closed and releases the copies."""
    book = make_book(on_hand=2)
    order = start(shopper(), [(book, 2, "buy", 1)])
    test_gateway.TestGateway().expire(order.payment_session_id)  # ... and the crash
    assert fresh(db, Order, order.id).status == "pending_payment" and fresh(db, Inventory, book.id).reserved == 2
    lose_outbox(db)  # and the provider's "expired" event never arrives
    assert reconcile.run(utcnow() + LATER) == {"order_expired": 1}
    assert fresh(db, Order, order.id).status == "expired" and fresh(db, Inventory, book.id).reserved == 0
    with pytest.raises(payments.PaymentError, match="no longer open"):
        pay(order)
