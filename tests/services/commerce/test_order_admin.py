"""Staff operations on orders: mark paid (manual payment), ship, deliver, cancel, refund.

Every action is checked against the order's current status and moves it with a conditional update;
refused transitions change nothing. The PostgreSQL race at the end shows two staff members shipping
the same order at once: one wins, the other is told."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from tests.checkout_helpers import ADDRESS, pay, shopper, start
from tests.concurrency import race
from tests.conftest import using_postgres
from webapp.models import (
    AuditLog,
    Book,
    GatewaySession,
    Inventory,
    Order,
    OrderEvent,
    OutboundEmail,
    Rental,
    StockMovement,
)
from webapp.services.circulation import wallet
from webapp.services.commerce import cart, checkout, fulfilment, orders, payments
from webapp.services.commerce.orders import OrderStateError
from webapp.services.people import accounts


@pytest.fixture
def staff(app, db):
    user = accounts.create_user("staffer", "staffer@example.com", "correct horse battery staple 42", role="admin",
                                verified=True, check_strength=False)
    db.session.commit()
    return user


def fresh(db, order) -> Order:
    db.session.expire_all()
    return db.session.get(Order, order.id)


def inv(db, book):
    db.session.expire_all()
    row = db.session.get(Inventory, book.id)
    return row.on_hand, row.reserved


def paid(db, run_jobs, user, lines, **kw) -> Order:
    order = start(user, lines, **kw)
    assert pay(order) is None
    run_jobs()
    order = fresh(db, order)
    assert order.status == "paid"
    return order


def audit_entries(db, action):
    return db.session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)).all()


def effects(db, order, books) -> dict:
    """What a completed sale leaves behind, for comparing two ways of paying."""
    db.session.expire_all()
    return {
        "inventory": [inv(db, b) for b in books],
        "units_sold": [db.session.get(Book, b.id).units_sold for b in books],
        "movements": sorted(db.session.execute(select(StockMovement.reason, StockMovement.on_hand_delta,
                                                      StockMovement.reserved_delta)
                                               .where(StockMovement.reference == order.number)).all()),
        # Paid, not delivered: each rental is on its way, its loan not started (no dates yet).
        "rentals": sorted(([b.id for b in books].index(r.book_id), (r.starts_at, r.due_at), r.status)
                          for r in db.session.scalars(
            select(Rental).where(Rental.order_id == order.id))),
        "receipts": db.session.scalar(select(func.count()).select_from(OutboundEmail).where(
            OutboundEmail.subject.contains(f"receipt for order {order.number}"))),
        "events": [e.status for e in orders.timeline(order)],
    }


# ---- mark paid ----

def test_mark_paid_completes_the_sale_exactly_like_a_gateway_payment(app, db, make_book, run_jobs, staff):
    a1, r1 = make_book("Buy A", on_hand=5), make_book("Rent A", on_hand=3)
    a2, r2 = make_book("Buy B", on_hand=5), make_book("Rent B", on_hand=3)
    by_card = paid(db, run_jobs, shopper("carder"), [(a1, 2, "buy", 1), (r1, 1, "rent", 3)])
    run_jobs()  # receipt email
    manual = start(shopper("banker"), [(a2, 2, "buy", 1), (r2, 1, "rent", 3)])

    orders.mark_paid(manual, actor=staff, reference="Bank transfer 2024-117", ip="10.0.0.9")
    db.session.commit()

    manual = fresh(db, manual)
    assert manual.status == "paid" and manual.paid_at is not None
    assert manual.payment_provider == "manual" and manual.payment_intent_id is None
    assert effects(db, manual, [a2, r2]) == effects(db, by_card, [a1, r1])
    assert inv(db, a2) == (3, 0) and inv(db, r2) == (2, 0)
    event = db.session.scalars(select(OrderEvent).where(OrderEvent.order_id == manual.id,
                                                        OrderEvent.status == "paid")).one()
    assert event.actor_id == staff.id and "Bank transfer 2024-117" in event.note
    entry = audit_entries(db, "order.marked_paid")[0]
    assert entry.actor_id == staff.id and entry.object_type == "order" and entry.object_id == manual.number
    assert entry.before == {"status": "pending_payment"} and entry.ip == "10.0.0.9"
    assert entry.after["status"] == "paid" and entry.after["reference"] == "Bank transfer 2024-117"
    # The online payment page is closed: the customer cannot pay a second time.
    assert db.session.get(GatewaySession, manual.payment_session_id).status == "expired"
    with pytest.raises(payments.PaymentError):
        pay(manual)
    run_jobs()  # the gateway's "expired" event changes nothing now
    assert fresh(db, manual).status == "paid"


def test_mark_paid_needs_a_reference_and_an_unpaid_order(app, db, make_book, run_jobs, staff):
    book = make_book(on_hand=5)
    order = start(shopper(), [(book, 1, "buy", 1)])
    with pytest.raises(OrderStateError, match="payment reference"):
        orders.mark_paid(order, actor=staff, reference="   ")
    db.session.rollback()
    orders.mark_paid(fresh(db, order), actor=staff, reference="cash")
    db.session.commit()
    with pytest.raises(OrderStateError, match="is paid, so it cannot be marked paid"):
        orders.mark_paid(fresh(db, order), actor=staff, reference="cash again")
    db.session.rollback()
    assert inv(db, book) == (4, 0)
    assert len(audit_entries(db, "order.marked_paid")) == 1
    assert [e.status for e in orders.timeline(order)] == ["pending_payment", "paid"]

    cancelled = start(shopper("canceller"), [(book, 1, "buy", 1)])
    orders.cancel(cancelled, actor=staff)
    db.session.commit()
    with pytest.raises(OrderStateError, match="is cancelled"):
        orders.mark_paid(fresh(db, cancelled), actor=staff, reference="x")


def test_mark_paid_refused_when_the_customer_already_paid_online(app, db, make_book, run_jobs, staff):
    book = make_book(on_hand=2)
    order = start(shopper(), [(book, 1, "buy", 1)])
    assert pay(order) is None  # paid at the gateway; the webhook has not arrived yet
    with pytest.raises(OrderStateError, match="already paid .* online"):
        orders.mark_paid(fresh(db, order), actor=staff, reference="transfer")
    db.session.rollback()
    run_jobs()
    order = fresh(db, order)
    assert order.status == "paid" and order.payment_provider == "test"


def test_mark_paid_an_expired_order_takes_the_stock_again(app, db, make_book, staff):
    book = make_book(on_hand=2)
    order = start(shopper(), [(book, 1, "buy", 1)])
    fulfilment.expire(order.payment_session_id)
    db.session.commit()
    assert inv(db, book) == (2, 0)
    orders.mark_paid(fresh(db, order), actor=staff, reference="late transfer")
    db.session.commit()
    assert fresh(db, order).status == "paid" and inv(db, book) == (1, 0)


def test_mark_paid_an_expired_order_is_refused_when_the_stock_is_gone(app, db, make_book, staff):
    book = make_book(on_hand=1)
    order = start(shopper(), [(book, 1, "buy", 1)])
    fulfilment.expire(order.payment_session_id)
    db.session.commit()
    start(shopper("quicker"), [(book, 1, "buy", 1)])  # someone else reserves the last copy
    with pytest.raises(OrderStateError, match="books had gone to other customers"):
        orders.mark_paid(fresh(db, order), actor=staff, reference="late transfer")
    db.session.rollback()
    assert fresh(db, order).status == "expired" and inv(db, book) == (1, 1)
    assert not audit_entries(db, "order.marked_paid")


def test_mark_paid_an_expired_order_takes_the_wallet_part_again(app, db, make_book, staff):
    book = make_book(on_hand=2, price_cents=4000)
    user = shopper("walleted")
    wallet.credit(user.id, 1000, "adjustment", reference="gift")
    db.session.commit()
    items = [cart.CartItem(book.id, "buy", 1, 7, book.price_cents)]
    order, _ = checkout.start_checkout(user, items, ADDRESS, code=None, use_wallet=True,
                                     success_url=lambda o: "/s", cancel_url=lambda o: "/c")
    db.session.commit()
    fulfilment.expire(order.payment_session_id)
    db.session.commit()
    assert wallet.balance(user.id) == 1000  # returned at expiry
    orders.mark_paid(fresh(db, order), actor=staff, reference="transfer for the card part")
    db.session.commit()
    assert fresh(db, order).status == "paid" and wallet.balance(user.id) == 0


# ---- ship, deliver ----

def test_ship_then_deliver(app, db, make_book, run_jobs, staff):
    book = make_book(on_hand=3)
    order = paid(db, run_jobs, shopper(), [(book, 1, "buy", 1)])
    with pytest.raises(OrderStateError, match="is paid, so it cannot be marked delivered"):
        orders.mark_delivered(order, actor=staff)
    orders.mark_shipped(order, actor=staff, tracking="  UPS 1Z999  ")
    db.session.commit()
    order = fresh(db, order)
    assert order.status == "shipped" and order.shipped_at is not None
    mail = db.session.scalars(select(OutboundEmail).where(OutboundEmail.subject.contains("on its way"))).one()
    assert "Tracking: UPS 1Z999" in mail.body_text and mail.recipient == order.email
    with pytest.raises(OrderStateError, match="is shipped, so it cannot be shipped"):
        orders.mark_shipped(order, actor=staff)
    orders.mark_delivered(order, actor=staff, ip="10.1.1.1")
    db.session.commit()
    order = fresh(db, order)
    assert order.status == "delivered" and order.delivered_at is not None
    events = orders.timeline(order)
    assert [e.status for e in events] == ["pending_payment", "paid", "shipped", "delivered"]
    assert [e.actor_id for e in events[2:]] == [staff.id, staff.id]
    assert [(e.before, e.after) for e in audit_entries(db, "order.shipped")] == [
        ({"status": "paid"}, {"status": "shipped", "tracking": "UPS 1Z999"})]
    assert audit_entries(db, "order.delivered")[0].after == {"status": "delivered"}


@pytest.mark.parametrize("status", ["pending_payment", "cancelled", "expired", "refunded", "delivered"])
def test_only_a_paid_order_can_ship(app, db, make_book, staff, status):
    book = make_book(on_hand=3)
    order = start(shopper(), [(book, 1, "buy", 1)])
    db.session.execute(update(Order).where(Order.id == order.id).values(status=status))
    db.session.commit()
    with pytest.raises(OrderStateError, match=f"is {status.replace('_', ' ')}, so it cannot be shipped"):
        orders.mark_shipped(fresh(db, order), actor=staff)
    db.session.rollback()
    assert fresh(db, order).status == status
    assert not db.session.scalars(select(OutboundEmail).where(OutboundEmail.subject.contains("on its way"))).all()


def test_a_stale_page_loses_to_the_change_made_meanwhile(app, db, make_book, run_jobs, staff):
    """The page said "paid", but another admin cancelled it meanwhile: the conditional update refuses."""
    book = make_book(on_hand=3)
    order = paid(db, run_jobs, shopper(), [(book, 1, "buy", 1)])
    assert order.status == "paid"  # what this admin's request loaded
    db.session.execute(update(Order).where(Order.id == order.id).values(status="cancelled")
                       .execution_options(synchronize_session=False))  # the other admin's committed change
    assert order.status == "paid"
    with pytest.raises(OrderStateError, match="changed by someone else meanwhile \\(it is now cancelled\\)"):
        orders.mark_shipped(order, actor=staff)


# ---- cancel ----

def test_staff_cancel_unpaid_order_releases_stock_and_is_audited(app, db, make_book, staff):
    book = make_book(on_hand=3)
    order = start(shopper(), [(book, 2, "buy", 1)])
    with pytest.raises(OrderStateError, match="reason"):
        orders.staff_cancel(order, actor=staff, reason="")
    orders.staff_cancel(fresh(db, order), actor=staff, reason="Customer phoned", ip="10.0.0.1")
    db.session.commit()
    assert fresh(db, order).status == "cancelled" and inv(db, book) == (3, 0)
    event = orders.timeline(order)[-1]
    assert event.status == "cancelled" and event.actor_id == staff.id and "Customer phoned" in event.note
    entry = audit_entries(db, "order.cancelled")[0]
    assert entry.actor_id == staff.id and entry.before == {"status": "pending_payment"}
    assert entry.after["status"] == "cancelled"


def test_staff_cancel_paid_order_refunds_to_the_wallet(app, db, make_book, run_jobs, staff):
    book = make_book(on_hand=3, price_cents=2500)
    user = shopper()
    order = paid(db, run_jobs, user, [(book, 1, "buy", 1)])
    orders.staff_cancel(order, actor=staff, reason="Out of print", refund_to="wallet")
    db.session.commit()
    order = fresh(db, order)
    assert order.status == "refunded" and order.refunded_cents == order.total_cents
    assert wallet.balance(user.id) == order.total_cents and inv(db, book) == (3, 0)
    entry = audit_entries(db, "order.cancelled")[0]
    assert entry.before == {"status": "paid"} and entry.after["status"] == "refunded"
    with pytest.raises(OrderStateError, match="is refunded, so it cannot be cancelled"):
        orders.staff_cancel(order, actor=staff, reason="again")


def test_shipped_orders_cannot_be_cancelled(app, db, make_book, run_jobs, staff):
    order = paid(db, run_jobs, shopper(), [(make_book(on_hand=2), 1, "buy", 1)])
    orders.mark_shipped(order, actor=staff)
    db.session.commit()
    with pytest.raises(OrderStateError, match="is shipped, so it cannot be cancelled"):
        orders.staff_cancel(fresh(db, order), actor=staff, reason="too late")


# ---- refund ----

def test_refund_delivered_order_to_the_wallet_once(app, db, make_book, run_jobs, staff):
    book = make_book(on_hand=3, price_cents=3000)
    user = shopper()
    order = paid(db, run_jobs, user, [(book, 1, "buy", 1)])
    orders.mark_shipped(order, actor=staff)
    orders.mark_delivered(order, actor=staff)
    db.session.commit()
    orders.refund(fresh(db, order), actor=staff, reason="Damaged in transit", refund_to="wallet", ip="10.2.2.2")
    db.session.commit()
    order = fresh(db, order)
    assert order.status == "refunded" and order.refunded_cents == order.total_cents and order.refunded_at
    assert wallet.balance(user.id) == order.total_cents
    assert inv(db, book) == (2, 0)  # the copy stays with the customer
    entry = audit_entries(db, "order.refunded")[0]
    assert entry.before == {"status": "delivered"} and entry.after["status"] == "refunded"
    assert entry.after["refund_to"] == "wallet" and entry.after["amount_cents"] == order.total_cents
    assert db.session.scalars(select(OutboundEmail).where(OutboundEmail.subject.contains("is refunded"))).one()

    with pytest.raises(OrderStateError, match="already refunded"):
        orders.refund(order, actor=staff, reason="again", refund_to="wallet")
    db.session.rollback()
    assert wallet.balance(user.id) == order.total_cents and len(audit_entries(db, "order.refunded")) == 1


def test_refund_shipped_order_to_the_card_with_a_wallet_part(app, db, make_book, run_jobs, staff):
    book = make_book("Part Wallet", on_hand=3, price_cents=4000)
    user = shopper("halfhalf")
    wallet.credit(user.id, 3000, "adjustment", reference="gift")
    db.session.commit()
    items = [cart.CartItem(book.id, "buy", 1, 7, book.price_cents)]
    order, _ = checkout.start_checkout(user, items, ADDRESS, code=None, use_wallet=True,
                                     success_url=lambda o: "/s", cancel_url=lambda o: "/c")
    db.session.commit()
    assert pay(order) is None
    run_jobs()
    order = fresh(db, order)
    orders.mark_shipped(order, actor=staff)
    db.session.commit()
    orders.refund(fresh(db, order), actor=staff, reason="Wrong edition", refund_to="card")
    db.session.commit()
    order = fresh(db, order)
    assert order.status == "refunded" and order.refunded_cents == 3000 and order.refunded_at is None
    assert wallet.balance(user.id) == 3000  # the wallet part, at once
    assert db.session.get(GatewaySession, order.payment_session_id).payment_status == "paid"  # after commit ...
    run_jobs()  # ... the outbox asks the provider for the card refund, and the provider confirms it
    assert db.session.get(GatewaySession, order.payment_session_id).amount_refunded == 1000
    order = fresh(db, order)
    assert order.status == "refunded" and order.refunded_cents == 4000 and order.refunded_at is not None
    with pytest.raises(OrderStateError, match="already refunded"):
        orders.refund(order, actor=staff, reason="twice", refund_to="card")


def test_refund_a_paid_order_cancels_it_and_returns_the_stock(app, db, make_book, run_jobs, staff):
    book = make_book(on_hand=3)
    order = paid(db, run_jobs, shopper(), [(book, 2, "buy", 1)])
    assert inv(db, book) == (1, 0)
    orders.refund(order, actor=staff, reason="Customer changed their mind", refund_to="card")
    db.session.commit()
    assert fresh(db, order).status == "cancelled" and inv(db, book) == (3, 0)
    run_jobs()
    order = fresh(db, order)
    assert order.status == "refunded" and order.refunded_cents == order.total_cents


@pytest.mark.parametrize("status", ["pending_payment", "expired", "cancelled"])
def test_unpaid_or_cancelled_orders_cannot_be_refunded(app, db, make_book, staff, status):
    order = start(shopper(), [(make_book(on_hand=2), 1, "buy", 1)])
    db.session.execute(update(Order).where(Order.id == order.id).values(status=status))
    db.session.commit()
    with pytest.raises(OrderStateError, match="cannot be refunded"):
        orders.refund(fresh(db, order), actor=staff, reason="x", refund_to="wallet")


def test_manual_payments_are_refunded_to_the_wallet_or_recorded_as_refunded_outside(app, db, make_book, staff):
    book = make_book(on_hand=3, price_cents=2000)
    user = shopper()
    order = start(user, [(book, 1, "buy", 1)])
    orders.mark_paid(order, actor=staff, reference="cash")
    orders.mark_shipped(fresh(db, order), actor=staff)
    db.session.commit()
    with pytest.raises(OrderStateError, match="cannot go back to a card"):
        orders.refund(fresh(db, order), actor=staff, reason="x", refund_to="card")
    db.session.rollback()
    orders.refund(fresh(db, order), actor=staff, reason="returned", refund_to="manual")
    db.session.commit()
    order = fresh(db, order)
    assert order.status == "refunded" and order.refunded_cents == order.total_cents and order.refunded_at
    assert wallet.balance(user.id) == 0
    assert "refunded outside the shop" in orders.timeline(order)[-1].note

    card_order = start(shopper("carder"), [(book, 1, "buy", 1)])
    with pytest.raises(OrderStateError, match="paid by card"):
        orders._check_refund_to(card_order, "manual")


def test_allowed_actions_follow_the_status(app, db, make_book):
    order = start(shopper(), [(make_book(on_hand=1), 1, "buy", 1)])
    expected = {"pending_payment": {"mark_paid", "cancel"}, "expired": {"mark_paid"},
                "paid": {"ship", "cancel", "refund"}, "shipped": {"deliver", "refund"}, "delivered": {"refund"},
                "cancelled": set(), "refunded": set()}
    for status, actions in expected.items():
        order.status = status
        assert orders.allowed_actions(order) == actions


def test_admin_list_filters_and_searches(app, db, make_book, run_jobs, staff):
    from datetime import date

    import time_machine

    from webapp.models import utcnow

    book = make_book(on_hand=10)
    alice, bob = shopper("alice"), shopper("bobby")
    with time_machine.travel(utcnow() - timedelta(days=10), tick=False):
        old = start(alice, [(book, 1, "buy", 1)])
    new = paid(db, run_jobs, bob, [(book, 1, "buy", 1)])

    def numbers(**kw):
        return [o.number for o, _ in orders.admin_list(**kw).items]

    assert numbers() == [new.number, old.number]  # newest first
    rows = orders.admin_list().items
    assert [name for _, name in rows] == ["bobby", "alice"]
    assert numbers(status="paid") == [new.number]
    assert numbers(q="ALI") == [old.number]
    assert numbers(q="bobby@example") == [new.number]
    assert numbers(q=old.number.lower()) == [old.number]
    assert numbers(q=new.number[3:7]) == [new.number]
    today = utcnow().date()
    assert numbers(date_from=today) == [new.number]
    assert numbers(date_to=today - timedelta(days=5)) == [old.number]
    assert numbers(dates="paid", date_from=date(2000, 1, 1)) == [new.number]  # the old one was never paid


# ---- two staff members at once (PostgreSQL) ----

@pytest.mark.skipif(not using_postgres(), reason="needs TEST_DATABASE_URL (PostgreSQL): SQLite serialises writers")
@pytest.mark.parametrize("round_", range(3))
def test_two_admins_ship_the_same_order_at_once(app, db, make_book, run_jobs, staff, round_):
    order = paid(db, run_jobs, shopper(), [(make_book(on_hand=2), 1, "buy", 1)])
    run_jobs()
    number = order.number

    def work(i):
        from webapp.extensions import db as thread_db
        from webapp.models import User

        me = thread_db.session.get(User, staff.id)
        mine = orders.by_number(number)
        assert mine.status == "paid"
        return lambda: orders.mark_shipped(mine, actor=me, tracking=f"parcel {i}")

    outcomes = race(app, work, 2)
    assert sorted(o.split(":")[0] for o in outcomes) == ["OrderStateError", "ok"], outcomes
    loser = next(o for o in outcomes if o != "ok")
    assert "changed by someone else meanwhile (it is now shipped)" in loser
    db.session.expire_all()
    order = fresh(db, order)
    assert order.status == "shipped"
    assert [e.status for e in orders.timeline(order)].count("shipped") == 1
    assert len(audit_entries(db, "order.shipped")) == 1
    assert len(db.session.scalars(select(OutboundEmail).where(OutboundEmail.subject.contains("on its way"))).all()) == 1


@pytest.mark.skipif(not using_postgres(), reason="needs TEST_DATABASE_URL (PostgreSQL): SQLite serialises writers")
def test_two_admins_refund_the_same_order_at_once(app, db, make_book, run_jobs, staff):
    user = shopper()
    order = paid(db, run_jobs, user, [(make_book(on_hand=2), 1, "buy", 1)])
    orders.mark_shipped(order, actor=staff)
    db.session.commit()
    number = order.number

    def work(i):
        from webapp.extensions import db as thread_db
        from webapp.models import User

        me = thread_db.session.get(User, staff.id)
        mine = orders.by_number(number)
        return lambda: orders.refund(mine, actor=me, reason=f"refund {i}", refund_to="wallet")

    outcomes = race(app, work, 2)
    assert sorted(o.split(":")[0] for o in outcomes) == ["OrderStateError", "ok"], outcomes
    db.session.expire_all()
    order = fresh(db, order)
    assert order.status == "refunded" and wallet.balance(user.id) == order.total_cents
    assert len(audit_entries(db, "order.refunded")) == 1


def test_mark_paid_an_order_without_a_gateway_session(app, db, make_book, staff):
    """Orders entered without an online checkout (seed data, phone orders) can be marked paid too."""
    book = make_book(on_hand=2)
    order = start(shopper(), [(book, 1, "buy", 1)])
    db.session.execute(GatewaySession.__table__.delete())
    db.session.commit()
    orders.mark_paid(fresh(db, order), actor=staff, reference="phone order, paid in the shop")
    db.session.commit()
    assert fresh(db, order).status == "paid" and inv(db, book) == (1, 0)
