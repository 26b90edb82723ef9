"""Staff moving a hold while a returned copy is being set aside: real PostgreSQL, one connection per thread.

Whatever the interleaving, the copy goes to exactly one customer: stock reserved once (one ledger row), one ready
hold, one "is waiting for you" email, and the other hold still waiting. The move either happened (before or after
the allocation) or was refused with a message (the queue changed); it never fails with an error of its own.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from tests.concurrency import race
from tests.conftest import using_postgres
from webapp.models import Hold, Inventory, OutboundEmail, Rental, StockMovement, User, utcnow

pytestmark = pytest.mark.skipif(not using_postgres(), reason="needs TEST_DATABASE_URL (PostgreSQL): "
                                "SQLite serialises writers, so there is no race to test")

ROUNDS = 5


@pytest.mark.parametrize("round_", range(ROUNDS))
@pytest.mark.parametrize("mover", ["second-up", "first-down"])
def test_moving_a_hold_while_a_return_sets_the_copy_aside(app, db, make_book, mover, round_):
    from tests.checkout_helpers import settle, shopper, start
    from webapp.services.circulation import hold_staff, holds, rentals

    book = make_book("Contested Copy", on_hand=1, price_cents=2000)
    order = start(shopper("renter"), [(book, 1, "rent", 3)])
    assert settle(order, "pi_race", order.card_cents) == "paid"
    db.session.commit()
    rental_id = db.session.scalar(select(Rental.id).where(Rental.status == "active"))
    t0 = utcnow()
    hold_ids = []
    for i, name in enumerate(["first", "second"]):
        with time_machine.travel(t0 + timedelta(minutes=i), tick=False):
            hold_ids.append(holds.place(shopper(name), book).id)
            db.session.commit()
    clerk_id = shopper("clerk").id
    moved_id, direction = (hold_ids[1], "up") if mover == "second-up" else (hold_ids[0], "down")

    def work(i: int):
        from webapp.extensions import db as thread_db

        clerk = thread_db.session.get(User, clerk_id)
        if i == 0:
            rental = thread_db.session.get(Rental, rental_id)
            return lambda: rentals.mark_returned(rental, actor=clerk)
        thread_db.session.get(Hold, moved_id)  # connect before the start line
        return lambda: hold_staff.move(moved_id, direction, actor=clerk)

    outcomes = race(app, work, 2)
    assert "ok" in outcomes
    for outcome in outcomes:  # the return always works; a refused move says why, in words
        assert outcome == "ok" or outcome.startswith("HoldError: "), outcomes
        assert "IntegrityError" not in outcome and "OperationalError" not in outcome

    db.session.expire_all()
    statuses = dict(db.session.execute(select(Hold.id, Hold.status).where(Hold.book_id == book.id)).all())
    assert sorted(statuses.values()) == ["ready", "waiting"], statuses
    inv = db.session.get(Inventory, book.id)
    assert (inv.on_hand, inv.reserved, inv.available) == (1, 1, 0)
    ready_id = next(i for i, s in statuses.items() if s == "ready")
    reserves = db.session.scalars(select(StockMovement.reference).where(
        StockMovement.book_id == book.id, StockMovement.reason == "reserve", StockMovement.reference.like("hold-%"))).all()
    assert reserves == [f"hold-{ready_id}"]  # reserved once, for the one ready hold
    ready_emails = db.session.scalars(select(OutboundEmail.recipient).where(
        OutboundEmail.subject.contains("is waiting for you"))).all()
    ready_user = db.session.scalar(select(User.email).join(Hold, Hold.user_id == User.id).where(Hold.id == ready_id))
    assert ready_emails == [ready_user]
    assert db.session.scalar(select(func.count()).select_from(Rental).where(Rental.status == "returned")) == 1
    # The copy went to whoever was first in the queue when it was set aside: if the move landed first, the mover's
    # new order decided it; the waiting hold is the other one.
    waiting_id = next(i for i, s in statuses.items() if s == "waiting")
    assert {ready_id, waiting_id} == set(hold_ids)
