"""Postal loans (issue 16): the loan clock starts at delivery or collection, "sent back" stops late fees, renewal
only while the book is with the customer, automatic renewal, reminders that follow these dates, collect in store
and rental shipping. Time moves with time-machine; every outcome is read back from the database."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from tests.checkout_helpers import ADDRESS, deliver, settle, shopper, start
from webapp.extensions import db as _db
from webapp.models import AuditLog, Order, OutboundEmail, Rental, Subscription, User
from webapp.services.circulation import holds, loans, rentals, subscriptions
from webapp.services.commerce import cart, checkout, orders, pricing
from webapp.services.commerce.order_state import OrderStateError

T0 = datetime(2026, 5, 4, 9, tzinfo=UTC)  # a Monday morning


def at(moment: datetime):
    return time_machine.travel(moment, tick=False)


def items(lines) -> list[cart.CartItem]:
    out: list[cart.CartItem] = []
    for book, quantity, mode, days in lines:
        cart.add(out, book.id, mode=mode, quantity=quantity, days=days)
    return out


def start_collect(user, lines) -> Order:
    """A collect-in-store checkout (no address given), as the web form and the API make it."""
    order, _url = checkout.start_checkout(user, items(lines), None, code=None, delivery_method="collect",
                                          success_url=lambda o: f"http://shop.test/s/{o.number}",
                                          cancel_url=lambda o: f"http://shop.test/c/{o.number}")
    _db.session.commit()
    return order


def paid(user, lines, collect=False) -> Order:
    order = start_collect(user, lines) if collect else start(user, lines)
    settle(order, f"pi_{order.number}", order.card_cents)
    _db.session.commit()
    _db.session.refresh(order)
    return order


def the_rental(order: Order) -> Rental:
    rental = _db.session.scalars(select(Rental).where(Rental.order_id == order.id)).one()
    _db.session.refresh(rental)
    return rental


def subjects(user_or_email) -> list[str]:
    email = getattr(user_or_email, "email", user_or_email)
    return list(_db.session.scalars(select(OutboundEmail.subject).where(OutboundEmail.recipient == email)
                                    .order_by(OutboundEmail.id)))


@pytest.fixture
def clerk(app, db):
    return shopper("clerk")


@pytest.fixture
def posted(app, db, make_book, clerk):
    """A Free reader's 3-day rental by post, paid at T0 (on its way: no loan yet)."""
    book = make_book("Posted", on_hand=1, price_cents=1500)  # its only copy: a reader can queue for it
    user = shopper("reader")
    with at(T0):
        order = paid(user, [(book, 1, "rent", 3)])
    return user, book, order


# ---- the loan clock ----

def test_a_posted_rental_starts_when_delivered_and_is_due_its_days_later(db, posted, clerk):
    user, _book, order = posted
    rental = the_rental(order)
    assert (rental.starts_at, rental.due_at, rentals.loan_state(rental)) == (None, None, "on_its_way")
    with at(T0 + timedelta(days=10)):  # ten days in the post: nothing overdue, no fee, nothing blocks
        assert rentals.overdue_days(rental) == 0 and rentals.accrued_fee_cents(rental) == 0
        assert rentals.days_left(rental) is None and rentals.rental_block_reason(user) is None
        assert rentals.send_due_reminders() == 0 and rentals.send_overdue_notices() == 0
        orders.mark_shipped(order, actor=clerk)
        db.session.commit()
        assert the_rental(order).starts_at is None  # shipped is not delivered
    delivered = T0 + timedelta(days=12, hours=3)
    with at(delivered):
        orders.mark_delivered(order, actor=clerk)
        db.session.commit()
    rental = the_rental(order)
    assert rental.starts_at == delivered and rental.due_at == delivered + timedelta(days=3)
    assert rentals.loan_state(rental) == "with_customer"
    with at(delivered + timedelta(days=1)):
        assert rentals.days_left(rental) == 2
    with at(delivered + timedelta(days=4)):
        assert rentals.overdue_days(rental) == 1
    assert loans.start_for_order(order.id, delivered + timedelta(days=9)) == 0  # once
    event = orders.timeline(order)[-1]
    assert (event.status, event.note) == ("delivered", "Delivered. 1 rental loan started.")
    audit = db.session.scalars(select(AuditLog).where(AuditLog.action == "order.delivered")).one()
    assert audit.after["rentals_started"] == 1


def test_a_collected_rental_starts_when_collected(app, db, make_book, clerk):
    book = make_book("Counter", on_hand=2, price_cents=1500)
    user = shopper("walker")
    with at(T0):
        order = paid(user, [(book, 1, "rent", 3)], collect=True)
    shop = app.config["SHOP_ADDRESS"]
    assert order.delivery_method == "collect" and order.shipping_cents == 0
    assert (order.ship_name, order.ship_line1, order.ship_city) == (shop["full_name"], shop["line1"], shop["city"])
    assert orders.allowed_actions(order) >= {"collected"} and not orders.allowed_actions(order) & {"ship", "deliver"}
    with pytest.raises(OrderStateError):
        orders.mark_shipped(order, actor=clerk)  # a collected order is never shipped
    db.session.rollback()
    collected = T0 + timedelta(days=2)
    with at(collected):
        orders.mark_collected(order, actor=clerk)
        db.session.commit()
    db.session.refresh(order)
    rental = the_rental(order)
    assert order.status == "delivered" and order.delivered_at == collected
    assert rental.starts_at == collected and rental.due_at == collected + timedelta(days=3)
    assert orders.timeline(order)[-1].note == "Collected in store. 1 rental loan started."
    assert db.session.scalars(select(AuditLog.action).where(AuditLog.action == "order.collected")).all()
    with pytest.raises(OrderStateError):
        orders.mark_collected(order, actor=clerk)  # once


def test_a_posted_order_cannot_be_collected_nor_jump_to_delivered(db, posted, clerk):
    _user, _book, order = posted
    with pytest.raises(OrderStateError, match="sent by post"):
        orders.mark_collected(order, actor=clerk)
    # Even called directly, the conditional UPDATE of PAID -> DELIVERED needs a collect order.
    from webapp.services.commerce.order_state import transition
    assert transition(order.id, ("paid",), "delivered") is False
    db.session.rollback()
    db.session.refresh(order)
    assert order.status == "paid" and the_rental(order).starts_at is None


# ---- sent back ----

def test_sent_back_stops_the_late_fee_at_that_day(db, posted, clerk):
    user, _book, order = posted
    with at(T0 + timedelta(days=1)):
        deliver(order, clerk)
    rental = the_rental(order)
    due = rental.due_at
    sent = due + timedelta(days=1, hours=5)  # two started days late
    with at(sent):
        loans.mark_sent_back(rental, user)
        db.session.commit()
    assert rental.sent_back_at == sent and rentals.loan_state(rental) == "sent_back"
    assert rental.status == "active"  # awaiting receipt
    with at(due + timedelta(days=9)):  # the post took a week: still two days
        assert rentals.overdue_days(rental) == 2 and rentals.accrued_fee_cents(rental) == 100
        assert rentals.rental_block_reason(user) is None  # sent back: it no longer blocks renting
        assert rentals.send_overdue_notices() == 0
        assert rentals.admin_list("overdue").total == 0 and rentals.admin_list("sent_back").total == 1
        fee = rentals.mark_returned(rental, actor=clerk)
        db.session.commit()
    assert fee == 100 and rental.fee_cents == 100 and rental.status == "returned"
    assert db.session.scalars(select(AuditLog.action).where(AuditLog.action == "rental.sent_back")).all()


def test_sent_back_is_refused_on_its_way_twice_and_for_someone_else(db, posted, clerk):
    user, _book, order = posted
    rental = the_rental(order)
    with pytest.raises(rentals.RentalError, match="not reached you"):
        loans.mark_sent_back(rental, user)
    deliver(order, clerk)
    with pytest.raises(PermissionError):
        loans.mark_sent_back(the_rental(order), shopper("stranger"))
    loans.mark_sent_back(the_rental(order), user)
    db.session.commit()
    with pytest.raises(rentals.RentalError, match="already"):
        loans.mark_sent_back(the_rental(order), user)


# ---- renewal ----

def test_renewal_only_while_the_book_is_with_the_customer(db, posted, clerk):
    user, _book, order = posted
    rental = the_rental(order)
    with pytest.raises(rentals.RentalError, match="on its way"):
        rentals.renew(rental, user)
    deliver(order, clerk)
    rental = the_rental(order)
    assert rentals.renewal_problem(rental) is None
    loans.mark_sent_back(rental, user)
    db.session.commit()
    with pytest.raises(rentals.RentalError, match="sent this book back"):
        rentals.renew(rental, user)
    db.session.refresh(rental)
    assert rental.renewed is False


def test_a_renewal_sends_the_due_soon_reminder_again_for_the_new_date(db, posted, clerk):
    user, _book, order = posted
    with at(T0):
        deliver(order, clerk)
    rental = the_rental(order)
    due = rental.due_at
    with at(due - timedelta(days=1)):
        assert rentals.send_due_reminders() == 1
        rentals.renew(rental, user)
        db.session.commit()
    assert rental.due_at == due + timedelta(days=3) and rental.reminder_sent_at is None
    with at(rental.due_at - timedelta(days=1)):
        assert rentals.send_due_reminders() == 1
    reminders = [s for s in subjects(user) if "due back" in s]
    assert reminders == [f"“Posted” is due back on {due:%-d %B}", f"“Posted” is due back on {rental.due_at:%-d %B}"]


# ---- automatic renewal ----

@pytest.fixture
def opted_in(db, posted, clerk):
    user, book, order = posted
    with at(T0):
        deliver(order, clerk)
    loans.set_auto_renew(user, True)
    db.session.commit()
    return user, book, the_rental(order)


def test_automatic_renewal_renews_once_and_emails_the_new_date(db, opted_in):
    user, _book, rental = opted_in
    due = rental.due_at
    with at(due - timedelta(days=3)):
        assert loans.auto_renew() == 0  # not due soon yet
    with at(due - timedelta(days=1)):
        assert loans.auto_renew() == 1
        assert loans.auto_renew() == 0  # idempotent: renewed once
    db.session.refresh(rental)
    assert rental.renewed and rental.due_at == due + timedelta(days=3)
    with at(rental.due_at - timedelta(days=1)):
        assert loans.auto_renew() == 0  # a rental is renewed once, even automatically
    new_due = rental.due_at
    assert f"“Posted” renewed until {new_due:%-d %B}" in subjects(user)
    body = db.session.scalars(select(OutboundEmail.body_text).where(OutboundEmail.subject.contains("renewed"))).one()
    assert f"renewed automatically until {new_due:%A %-d %B %Y}" in body
    assert db.session.scalars(select(AuditLog.action).where(AuditLog.action == "rental.auto_renewed")).all()


def test_the_daily_job_renews_before_the_reminders_go_out(db, opted_in, runner):
    user, _book, rental = opted_in
    email = user.email
    with at(rental.due_at - timedelta(days=1)):
        result = runner.invoke(args=["jobs", "run", "rental-reminders"])
    assert result.exit_code == 0 and "'auto_renewed': 1" in result.output and "'reminders': 0" in result.output
    assert not [s for s in subjects(email) if "due back" in s]  # no reminder for the date that just moved
    assert [s for s in subjects(email) if "renewed until" in s]


def test_no_automatic_renewal_when_someone_waits(db, opted_in):
    _user, book, rental = opted_in
    holds.place(shopper("waiter"), book)
    db.session.commit()
    assert holds.queue_length(book.id) == 1
    with at(rental.due_at - timedelta(days=1)):
        assert loans.auto_renew() == 0
    db.session.refresh(rental)
    assert not rental.renewed


def test_no_automatic_renewal_without_the_customers_choice(db, opted_in):
    user, _book, rental = opted_in
    assert loans.set_auto_renew(user, False) is False
    db.session.commit()
    with at(rental.due_at - timedelta(days=1)):
        assert loans.auto_renew() == 0
    db.session.refresh(rental)
    assert not rental.renewed


def test_no_automatic_renewal_once_sent_back_or_when_the_plan_no_longer_allows_the_length(app, db, opted_in,
                                                                                          monkeypatch):
    user, _book, rental = opted_in
    plans = app.config["PLANS"]
    monkeypatch.setitem(app.config, "PLANS", {**plans, "free": {**plans["free"], "max_rental_days": 2}})
    assert subscriptions.tier_of(user).max_rental_days == 2  # the shop shortened Free loans since
    soon = rental.due_at - timedelta(days=1)
    assert "up to 2 days" in loans.auto_renewal_problem(rental, user, soon)
    with at(soon):
        assert loans.auto_renew() == 0
    monkeypatch.setitem(app.config, "PLANS", plans)
    assert loans.auto_renewal_problem(rental, user, soon) is None
    loans.mark_sent_back(rental, user)
    db.session.commit()
    with at(rental.due_at - timedelta(days=1)):
        assert loans.auto_renew() == 0
    db.session.refresh(rental)
    assert not rental.renewed
    assert db.session.scalar(select(Subscription).where(Subscription.user_id == user.id)) is None  # Free reader


def test_a_renewal_by_hand_is_refused_when_the_plan_no_longer_allows_the_length(app, db, opted_in, monkeypatch):
    """The same rule as the automatic renewal (rentals.renewal_problem): a loan longer than the customer's plan
    allows now (a downgrade, or the shop shortened loans) is not renewed by hand either."""
    user, _book, rental = opted_in
    plans = app.config["PLANS"]
    monkeypatch.setitem(app.config, "PLANS", {**plans, "free": {**plans["free"], "max_rental_days": 2}})
    soon = rental.due_at - timedelta(days=1)
    with at(soon), pytest.raises(rentals.RentalError, match="up to 2 days"):
        rentals.renew(rental, user)
    db.session.rollback()
    db.session.refresh(rental)
    assert not rental.renewed
    monkeypatch.setitem(app.config, "PLANS", plans)
    with at(soon):
        rentals.renew(rental, user)
    db.session.commit()
    assert rental.renewed


# ---- reminders follow the dates ----

def test_no_reminder_once_sent_back(db, posted, clerk):
    user, _book, order = posted
    with at(T0):
        deliver(order, clerk)
    rental = the_rental(order)
    loans.mark_sent_back(rental, user)
    db.session.commit()
    with at(rental.due_at - timedelta(days=1)):
        assert rentals.send_due_reminders() == 0
    with at(rental.due_at + timedelta(days=3)):
        assert rentals.send_overdue_notices() == 0


def test_the_reminder_carries_the_return_address_and_instructions(app, db, posted, clerk):
    user, _book, order = posted
    with at(T0):
        deliver(order, clerk)
    rental = the_rental(order)
    with at(rental.due_at - timedelta(days=1)):
        assert rentals.send_due_reminders() == 1
    body = db.session.scalars(select(OutboundEmail.body_text).where(OutboundEmail.subject.contains("due back"))).one()
    for line in app.config["RETURN_ADDRESS"].splitlines():
        assert f"  {line}\n" in body
    assert app.config["RETURN_INSTRUCTIONS"] in body


# ---- shipping ----

def test_rental_shipping_mixed_orders_and_collect(app, db, make_book):
    rent_book = make_book("Cheap Loan", on_hand=5, price_cents=1500)
    buy_book = make_book("To Keep", on_hand=5, price_cents=1000)
    user = shopper("shipper")
    rent_only = cart.view(items([(rent_book, 1, "rent", 3)]), user=user).quote
    assert rent_only.rentals_only and rent_only.shipping_cents == app.config["RENTAL_SHIPPING_CENTS"] == 199
    assert rent_only.free_shipping_gap_cents == 0
    mixed = cart.view(items([(rent_book, 1, "rent", 3), (buy_book, 1, "buy", 1)]), user=user).quote
    assert not mixed.rentals_only and mixed.shipping_cents == app.config["SHIPPING_FLAT_CENTS"]
    big = cart.view(items([(rent_book, 1, "rent", 3), (buy_book, 4, "buy", 1)]), user=user).quote
    assert big.shipping_cents == 0  # mixed keeps the free-shipping threshold
    collect = cart.view(items([(rent_book, 1, "rent", 3)]), user=user, delivery_method="collect").quote
    assert collect.shipping_cents == 0 and collect.total_cents == rent_only.total_cents - 199
    order = start(user, [(rent_book, 1, "rent", 3)])
    assert order.shipping_cents == 199 and order.delivery_method == "post"
    assert pricing.shipping_cents(0, 0, rentals_only=False, delivery_method="post") == 0


def test_collect_needs_no_address_and_post_does(app, db, make_book):
    book = make_book("Either Way", on_hand=5)
    user = shopper("chooser")
    with pytest.raises(checkout.CheckoutError, match="where to send"):
        checkout.start_checkout(user, items([(book, 1, "buy", 1)]), None, code=None,
                                success_url=str, cancel_url=str)
    with pytest.raises(checkout.CheckoutError, match="delivery"):
        checkout.start_checkout(user, items([(book, 1, "buy", 1)]), ADDRESS, code=None, delivery_method="drone",
                                success_url=str, cancel_url=str)
    db.session.rollback()
    assert db.session.scalar(select(Order).where(Order.user_id == user.id)) is None
    # The same cart collected or posted are two different checkouts (the second supersedes the first).
    posted_order = start(user, [(book, 1, "buy", 1)])
    collected = start_collect(user, [(book, 1, "buy", 1)])
    assert collected.id != posted_order.id and collected.checkout_key != posted_order.checkout_key
    db.session.refresh(posted_order)
    assert posted_order.status == "cancelled"
    assert db.session.get(User, user.id).auto_renew_rentals is False
