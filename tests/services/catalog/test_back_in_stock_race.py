"""Two restocks of the same book at the same moment email each waiting shopper once: real PostgreSQL, one
connection per thread (tests.concurrency.race). Runs several rounds so a lucky interleaving hides nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.concurrency import race
from tests.conftest import using_postgres
from webapp.models import BackInStockRequest, Inventory, OutboundEmail

pytestmark = pytest.mark.skipif(not using_postgres(), reason="needs TEST_DATABASE_URL (PostgreSQL): "
                                "SQLite serialises writers, so there is no race to test")


@pytest.mark.parametrize("round_", range(4))
def test_racing_restocks_send_one_email_per_request(app, db, auth, make_book, round_):
    from webapp.services.catalog import back_in_stock
    from webapp.services.inventory import stock

    book = make_book("Two Deliveries", on_hand=0)
    users = [auth.user(f"waiting{i}") for i in range(3)]
    for user in users:
        back_in_stock.ask(user, book)
    db.session.commit()

    book_id = book.id

    def work(i: int):
        stock.state(book_id)  # connect before the start line
        return lambda: stock.adjust(book_id, 2, "restock", note=f"delivery {i}")

    assert race(app, work, 2) == ["ok", "ok"]
    db.session.expire_all()
    recipients = db.session.scalars(select(OutboundEmail.recipient).where(
        OutboundEmail.subject.contains("back in stock")).order_by(OutboundEmail.recipient)).all()
    assert recipients == sorted(u.email for u in users)
    assert all(db.session.scalars(select(BackInStockRequest.notified_at)).all())


@pytest.mark.parametrize("round_", range(3))
def test_racing_notify_calls_stamp_each_request_once(app, db, auth, make_book, round_):
    """The listener itself, twice at once on a book in stock: the conditional UPDATE lets one of them win."""
    from webapp.services.catalog import back_in_stock
    from webapp.services.inventory import stock

    book = make_book("In Stock Again", on_hand=0)
    users = [auth.user(f"asker{i}") for i in range(4)]
    for user in users:
        back_in_stock.ask(user, book)
    db.session.commit()
    book_id = book.id
    # stock set straight in the table (no listener runs): the book is in stock, the requests still waiting
    db.session.execute(Inventory.__table__.update().where(Inventory.book_id == book_id).values(on_hand=5))
    db.session.commit()
    sent: list[int] = []

    def work(_i: int):
        stock.state(book_id)  # connect before the start line
        return lambda: sent.append(back_in_stock.notify(book_id))

    assert race(app, work, 2) == ["ok", "ok"]
    assert sorted(sent) == [0, 4]
    db.session.expire_all()
    recipients = db.session.scalars(select(OutboundEmail.recipient).where(
        OutboundEmail.subject.contains("back in stock")).order_by(OutboundEmail.recipient)).all()
    assert recipients == sorted(u.email for u in users)
