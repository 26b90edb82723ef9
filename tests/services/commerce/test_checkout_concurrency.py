"""No oversell under concurrency: real PostgreSQL, one connection per buyer."""
import pytest
from sqlalchemy import func, select

from tests.concurrency import race
from tests.conftest import using_postgres
from webapp.models import Inventory, Order, StockMovement, User

pytestmark = pytest.mark.skipif(not using_postgres(), reason="needs TEST_DATABASE_URL (PostgreSQL): "
                                "SQLite serialises writers, so there is no race to test")

BUYERS = 50


def test_fifty_buyers_for_the_last_five_copies(app, db, make_book):
    from tests.checkout_helpers import ADDRESS, settle
    from webapp.services.commerce import cart, checkout
    from webapp.services.people.passwords import hash_password

    book = make_book("Last Five", on_hand=5, price_cents=1500)
    password_hash = hash_password("not used in this test")
    users = [User(username=f"buyer_{i}", email=f"buyer{i}@example.com", password_hash=password_hash,
                  email_verified_at=__import__("webapp.models", fromlist=["utcnow"]).utcnow())
             for i in range(BUYERS)]
    db.session.add_all(users)
    db.session.commit()
    user_ids = [u.id for u in users]

    def buy(i: int):
        from webapp.extensions import db as thread_db

        user = thread_db.session.get(User, user_ids[i])  # connect before the start line
        items = [cart.CartItem(book.id, "buy", 1, 1, 1500)]
        return lambda: checkout.start_checkout(user, items, ADDRESS, code=None, success_url=lambda o: "s",
                                             cancel_url=lambda o: "c")

    results = race(app, buy, BUYERS)
    reserved = [r for r in results if r == "ok"]
    refused = [r for r in results if r != "ok"]
    assert len(reserved) == 5
    assert all("out of stock" in r or "sold out" in r.lower() or "Only 0 available" in r for r in refused), refused[:3]
    db.session.expire_all()
    row = db.session.get(Inventory, book.id)
    assert (row.on_hand, row.reserved) == (5, 5) and row.on_hand >= 0
    assert db.session.scalar(select(func.count()).select_from(Order)) == 5
    ledger = db.session.execute(select(func.sum(StockMovement.on_hand_delta), func.sum(StockMovement.reserved_delta))
                                .where(StockMovement.book_id == book.id)).one()
    assert tuple(ledger) == (row.on_hand, row.reserved)

    # and paying for all five turns every reservation into a sale, never below zero
    for order in db.session.scalars(select(Order)):
        settle(order, f"pi_{order.id}", order.total_cents)
    db.session.commit()
    db.session.expire_all()
    row = db.session.get(Inventory, book.id)
    assert (row.on_hand, row.reserved) == (0, 0)
    assert db.session.scalar(select(func.sum(StockMovement.on_hand_delta)).where(StockMovement.book_id == book.id)) == 0
