"""Postal loans under real concurrency (PostgreSQL, separate connections released together): two staff marking
one order delivered start its loan once; a double-pressed "I've sent it back" records it once; two automatic
renewal runs and the customer's own renewal renew once."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from tests.concurrency import race
from tests.conftest import using_postgres
from webapp.models import AuditLog, Order, OutboundEmail, Rental, User

pytestmark = pytest.mark.skipif(not using_postgres(), reason="needs TEST_DATABASE_URL (PostgreSQL): "
                                                                 "SQLite serialises writers")


@pytest.fixture
def shipped(app, db, make_book):
    """A Free reader's 3-day rental by post, paid and shipped (not delivered yet)."""
    from tests.checkout_helpers import settle, shopper, start
    from webapp.services.commerce import orders

    book = make_book("Raced", on_hand=1)
    user = shopper("reader")
    order = start(user, [(book, 1, "rent", 3)])
    settle(order, "pi_race", order.card_cents)
    orders.mark_shipped(order, actor=user)
    db.session.commit()
    rental = db.session.scalars(select(Rental).where(Rental.order_id == order.id)).one()
    return user.id, order.id, rental.id


def _delivered(db, order_id: int, actor_id: int) -> None:
    from webapp.services.commerce import orders

    orders.mark_delivered(db.session.get(Order, order_id), actor=db.session.get(User, actor_id))
    db.session.commit()


def _count(db, model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_two_staff_marking_delivered_start_the_loan_once(app, db, shipped):
    from tests.checkout_helpers import shopper
    from webapp.services.commerce import orders

    _user_id, order_id, rental_id = shipped
    staff_ids = [shopper("clerk1").id, shopper("clerk2").id]

    def deliver(i: int):
        from webapp.extensions import db as thread_db

        order = thread_db.session.get(Order, order_id)
        staff = thread_db.session.get(User, staff_ids[i])
        return lambda: orders.mark_delivered(order, actor=staff)

    outcomes = race(app, deliver, 2)
    assert sorted(o.split(":")[0] for o in outcomes) == ["OrderStateError", "ok"]
    db.session.expire_all()
    order = db.session.get(Order, order_id)
    rental = db.session.get(Rental, rental_id)
    assert order.status == "delivered" and rental.starts_at == order.delivered_at
    assert rental.due_at == order.delivered_at + timedelta(days=3)
    assert _count(db, AuditLog, AuditLog.action == "order.delivered") == 1


def test_sent_back_pressed_twice_at_once_is_recorded_once(app, db, shipped):
    from webapp.services.circulation import loans

    user_id, order_id, rental_id = shipped
    _delivered(db, order_id, user_id)

    def sent_back(_i: int):
        from webapp.extensions import db as thread_db

        rental = thread_db.session.get(Rental, rental_id)
        user = thread_db.session.get(User, user_id)
        return lambda: loans.mark_sent_back(rental, user)

    outcomes = race(app, sent_back, 2)
    assert sorted(o.split(":")[0] for o in outcomes) == ["RentalError", "ok"]
    db.session.expire_all()
    assert db.session.get(Rental, rental_id).sent_back_at is not None
    assert _count(db, AuditLog, AuditLog.action == "rental.sent_back") == 1


def test_automatic_renewal_runs_and_the_customers_renewal_renew_once(app, db, shipped):
    from webapp.services.circulation import loans, rentals

    user_id, order_id, rental_id = shipped
    _delivered(db, order_id, user_id)
    rental = db.session.get(Rental, rental_id)
    # Two days since delivery: due tomorrow, within RENTAL_DUE_SOON_DAYS.
    db.session.execute(update(Rental).where(Rental.id == rental_id).values(
        starts_at=rental.starts_at - timedelta(days=2), due_at=rental.due_at - timedelta(days=2)))
    db.session.execute(update(User).where(User.id == user_id).values(auto_renew_rentals=True))
    db.session.commit()
    db.session.expire_all()
    due = db.session.get(Rental, rental_id).due_at

    def act(i: int):
        from webapp.extensions import db as thread_db

        if i < 2:
            thread_db.session.get(Rental, rental_id)  # connect before the start line
            return loans.auto_renew
        rental = thread_db.session.get(Rental, rental_id)
        user = thread_db.session.get(User, user_id)
        return lambda: rentals.renew(rental, user)

    outcomes = race(app, act, 3)
    assert len(outcomes) == 3 and all(o == "ok" or o.startswith("RentalError") for o in outcomes)
    db.session.expire_all()
    rental = db.session.get(Rental, rental_id)
    assert rental.renewed and rental.due_at == due + timedelta(days=3)  # extended once, by its own length
    automatic = _count(db, AuditLog, AuditLog.action == "rental.auto_renewed")
    manual_refused = sum(o.startswith("RentalError") for o in outcomes)
    # Either a run renewed it (one audit entry, one email, the customer's renewal refused) or the customer did.
    assert automatic in (0, 1) and manual_refused == automatic
    assert _count(db, OutboundEmail, OutboundEmail.subject.contains("renewed until")) == automatic
