"""The holds queue under concurrency: real PostgreSQL, one connection per thread.

Copies coming back at the same moment (rentals returned, restocks) must each go to a different customer,
in queue order, with one "is waiting for you" email per set-aside copy, and never more set aside than came in.
Each race runs several times (parametrised) so that a lucky interleaving does not hide a bug.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from tests.concurrency import race as _race
from tests.conftest import using_postgres
from webapp.models import Hold, Inventory, OutboundEmail, Rental, StockMovement, Subscription, User, utcnow

pytestmark = pytest.mark.skipif(not using_postgres(), reason="needs TEST_DATABASE_URL (PostgreSQL): "
                                "SQLite serialises writers, so there is no race to test")

ROUNDS = 5


def _plan(db, user: User, tier: str) -> User:
    now = utcnow()
    db.session.add(Subscription(user_id=user.id, tier=tier, current_period_start=now,
                                current_period_end=now + timedelta(days=30)))
    db.session.commit()
    return user


def _queue(db, book, plans: list[str]) -> list[int]:
    """Customers join the book's queue one minute apart, on the given plans. Returns their hold ids in
    the expected queue order (plan first: Premium, Plus, Free; then first come, first served)."""
    from tests.checkout_helpers import shopper
    from webapp.services.circulation import holds

    t0 = utcnow()
    rank = {"premium": 0, "plus": 1, "free": 2}
    keys = []
    for i, tier in enumerate(plans):
        user = shopper(f"waiter{i}")
        if tier != "free":
            _plan(db, user, tier)
        with time_machine.travel(t0 + timedelta(minutes=i), tick=False):
            hold = holds.place(user, book)
            db.session.commit()
        assert (hold.status, hold.priority) == ("waiting", rank[tier])
        keys.append((rank[tier], i, hold.id))
    return [hold_id for *_, hold_id in sorted(keys)]


def _state(db, book_id: int) -> tuple[tuple[int, int, int], dict[int, str]]:
    db.session.expire_all()
    inv = db.session.get(Inventory, book_id)
    statuses = dict(db.session.execute(select(Hold.id, Hold.status).where(Hold.book_id == book_id)).all())
    return (inv.on_hand, inv.reserved, inv.available), statuses


def _ready_emails(db) -> list[str]:
    return sorted(db.session.scalars(select(OutboundEmail.recipient)
                                     .where(OutboundEmail.subject.contains("is waiting for you"))))


def _ledger(db, book_id: int) -> tuple[int, int]:
    row = db.session.execute(select(func.sum(StockMovement.on_hand_delta), func.sum(StockMovement.reserved_delta))
                             .where(StockMovement.book_id == book_id)).one()
    return tuple(row)


def _emails_of(db, hold_ids) -> list[str]:
    return sorted(db.session.scalar(select(User.email).join(Hold, Hold.user_id == User.id).where(Hold.id == i))
                  for i in hold_ids)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_rentals_returned_at_once_set_aside_one_copy_each_in_queue_order(app, db, make_book, round_):
    from tests.checkout_helpers import settle, shopper, start
    from webapp.services.circulation import rentals

    book = make_book("Two Copies", on_hand=2, price_cents=2000)
    for name in ("renter1", "renter2"):  # Free allows one book at once: two renters, one copy each
        order = start(shopper(name), [(book, 1, "rent", 3)])
        assert settle(order, f"pi_{name}", order.card_cents) == "paid"
        db.session.commit()
    rental_ids = list(db.session.scalars(select(Rental.id).where(Rental.status == "active").order_by(Rental.id)))
    assert len(rental_ids) == 2 and _state(db, book.id)[0] == (0, 0, 0)
    # Free first, Premium last: the queue is Premium, Plus, Free.
    queue = _queue(db, book, ["free", "plus", "premium"])
    clerk_id = shopper("clerk").id

    def give_back(i: int):
        from webapp.extensions import db as thread_db

        rental = thread_db.session.get(Rental, rental_ids[i])
        clerk = thread_db.session.get(User, clerk_id)
        return lambda: rentals.mark_returned(rental, actor=clerk)

    assert _race(app, give_back, 2) == ["ok", "ok"]

    (on_hand, reserved, available), statuses = _state(db, book.id)
    assert (on_hand, reserved, available) == (2, 2, 0)
    assert [statuses[i] for i in queue] == ["ready", "ready", "waiting"]  # the first two in queue order
    assert db.session.scalar(select(func.count()).select_from(Rental).where(Rental.status == "returned")) == 2
    assert _ledger(db, book.id) == (2, 2)
    assert db.session.scalar(select(func.count()).select_from(StockMovement).where(
        StockMovement.book_id == book.id, StockMovement.reason == "reserve",
        StockMovement.reference.in_([f"hold-{i}" for i in queue[:2]]))) == 2
    assert _ready_emails(db) == _emails_of(db, queue[:2])  # exactly two, to the two customers served


@pytest.mark.parametrize("round_", range(ROUNDS))
@pytest.mark.parametrize(("restockers", "plans"), [
    (5, ["free", "premium", "plus"]),  # more copies than customers: everyone served, 2 left on the shelf
    (3, ["free", "plus", "free", "premium", "plus"]),  # fewer copies than customers: the first 3 in queue order
], ids=["5-copies-3-waiting", "3-copies-5-waiting"])
def test_concurrent_restocks_serve_the_queue_once_per_copy(app, db, make_book, restockers, plans, round_):
    from webapp.services.inventory import stock

    book = make_book("Restocked Together", on_hand=0)
    queue = _queue(db, book, plans)
    served = min(restockers, len(plans))

    def restock(i: int):
        from webapp.extensions import db as thread_db

        thread_db.session.get(Inventory, book.id)  # connect before the start line
        return lambda: stock.adjust(book.id, 1, "restock", reference=f"delivery-{i}")

    assert _race(app, restock, restockers) == ["ok"] * restockers

    (on_hand, reserved, available), statuses = _state(db, book.id)
    assert (on_hand, reserved, available) == (restockers, served, restockers - served)
    assert [statuses[i] for i in queue] == ["ready"] * served + ["waiting"] * (len(plans) - served)
    assert _ledger(db, book.id) == (restockers, served)
    assert _ready_emails(db) == _emails_of(db, queue[:served])
    ready = db.session.scalars(select(Hold).where(Hold.book_id == book.id, Hold.status == "ready")).all()
    assert len({h.user_id for h in ready}) == served  # a copy per customer, never two to one


def test_cancelling_a_hold_that_turned_ready_meanwhile_passes_its_copy_on(app, db, make_book):
    """A customer opens the cancel form while waiting; before the request's UPDATE runs, a copy comes back
    and is set aside for them (another transaction, committed). The cancel must still release that copy."""
    from webapp.services.circulation import holds
    from webapp.services.inventory import stock

    book = make_book("Changed Meanwhile", on_hand=0)
    first, second = _queue(db, book, ["free", "free"])
    hold = db.session.get(Hold, first)  # the cancel request loads the hold: waiting
    user = db.session.get(User, hold.user_id)
    assert hold.status == "waiting"

    def restock(i: int):
        return lambda: stock.adjust(book.id, 1, "restock")

    assert _race(app, restock, 1) == ["ok"]  # another connection: the copy is set aside for `first`, committed

    holds.cancel(hold, user)  # the same request goes on to cancel
    db.session.commit()
    (on_hand, reserved, available), statuses = _state(db, book.id)
    assert statuses[first] == "cancelled"
    # The copy must follow the queue: to the next customer, not stay reserved for a cancelled hold.
    assert statuses[second] == "ready" and (on_hand, reserved, available) == (1, 1, 0)
    assert reserved == sum(1 for s in statuses.values() if s == "ready")


@pytest.mark.parametrize("round_", range(3))
def test_plan_limit_holds_under_concurrent_requests(app, db, make_book, round_):
    """A Free customer (one book at once) places holds on three sold-out books from three tabs at the same
    instant: exactly one hold is placed, the others get the plan message."""
    from tests.checkout_helpers import shopper
    from webapp.services.circulation import holds

    user_id = shopper("racer").id
    books = [make_book(f"Sold Out {i}", on_hand=0).id for i in range(3)]

    def place(i: int):
        from webapp.extensions import db as thread_db
        from webapp.models import Book

        user = thread_db.session.get(User, user_id)
        book = thread_db.session.get(Book, books[i])
        return lambda: holds.place(user, book)

    results = _race(app, place, 3)
    assert results.count("ok") == 1, results
    assert all("allows 1 book" in r for r in results if r != "ok"), results
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Hold).where(Hold.user_id == user_id)) == 1
