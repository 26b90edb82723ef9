"""The small shop the report tests read: six books, four paid orders in March 2026 (one later cancelled and
refunded), two rentals (one returned late, one overdue), holds on an out-of-stock book. Built through the real
checkout, so every figure the reports give can be checked by hand."""
from datetime import UTC, date, datetime

import time_machine
from sqlalchemy import select, update

from tests.checkout_helpers import deliver, settle, shopper, start
from webapp.extensions import db
from webapp.models import (
    Book,
    Hold,
    Inventory,
    OrderLine,
    Rental,
)
from webapp.services.circulation import rentals
from webapp.services.commerce import orders
from webapp.services.insight import periods

MARCH = periods.Period(date(2026, 3, 1), date(2026, 3, 31))


def at(*args):
    return time_machine.travel(datetime(*args, tzinfo=UTC), tick=False)


def paid(user, lines):
    """A paid order; one with rentals is delivered at once (its loans start when paid, as the figures assume)."""
    order = start(user, lines)
    settle(order, f"pi_{order.number}", order.card_cents)
    db.session.commit()
    db.session.refresh(order)
    if any(mode == "rent" for _, _, mode, _ in lines):
        deliver(order)
    return order


def build(make_book):
    """Six books, four paid orders in March 2026 (one later cancelled and refunded), two rentals (one returned
    late, one overdue), holds on an out-of-stock book."""
    a = make_book("Alpha", authors=("Ann Author",), genres=("Fiction",), price_cents=1500, on_hand=10)
    b = make_book("Beta", authors=("Bob Writer", "Ann Author"), genres=("Crime", "Fiction"), price_cents=2000,
                  on_hand=6)
    c = make_book("Gamma", authors=("Cy Poet",), genres=("Poetry",), price_cents=1000, on_hand=2)
    d = make_book("Delta", authors=("Cy Poet",), genres=("Crime",), price_cents=1200, on_hand=0)
    e = make_book("Epsilon", authors=("Eve Quiet",), genres=("Poetry",), price_cents=800, on_hand=4)
    f = make_book("Zeta", authors=("Ann Author",), genres=("Fiction",), price_cents=900, on_hand=3, active=False)
    for n, (book, cost) in enumerate([(a, 900), (b, 1000), (c, None), (d, 700), (e, 500), (f, 100)]):
        db.session.execute(update(Book).where(Book.id == book.id).values(
            cost_cents=cost, created_at=datetime(2025, 1, 1 + n, tzinfo=UTC)))
    db.session.execute(update(Inventory).where(Inventory.book_id == e.id).values(low_stock_threshold=5))
    db.session.commit()
    users = {name: shopper(name) for name in ("ursula", "victor", "wanda", "xavier")}
    with at(2026, 3, 2, 10):
        o1 = paid(users["ursula"], [(a, 2, "buy", 0), (b, 1, "buy", 0)])
    with at(2026, 3, 4, 15):
        o2 = paid(users["victor"], [(a, 1, "rent", 3), (c, 1, "buy", 0)])
    with at(2026, 3, 6, 10):
        o4 = paid(users["xavier"], [(a, 1, "rent", 3)])
    with at(2026, 3, 16, 9):
        o3 = paid(users["wanda"], [(b, 1, "buy", 0)])
        orders.cancel(o3, actor=users["wanda"], refund_to="wallet")
        db.session.commit()
    with at(2026, 3, 10, 15):  # three days late: 150 cents, nothing in the wallet to pay it with
        rental = db.session.scalar(select(Rental).where(Rental.order_id == o2.id))
        rentals.mark_returned(rental, actor=users["wanda"])
        db.session.commit()
    start(users["ursula"], [(e, 1, "buy", 0)])  # never paid: not a sale
    for n, user in enumerate(("victor", "wanda", "xavier")):
        db.session.add(Hold(user_id=users[user].id, book_id=d.id, status="waiting", priority=2,
                            queued_at=datetime(2026, 3, 10 + n, tzinfo=UTC)))
    db.session.add(Hold(user_id=users["ursula"].id, book_id=b.id, status="waiting", priority=2,
                        queued_at=datetime(2026, 3, 12, tzinfo=UTC)))
    db.session.commit()
    rent = db.session.scalar(select(OrderLine.line_cents).where(OrderLine.order_id == o4.id))
    return {"books": (a, b, c, d, e, f), "orders": (o1, o2, o3, o4), "rent": rent, "users": users}
