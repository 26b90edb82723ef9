"""Stock tells its listeners when copies are freed (and the catalog when a book is archived) instead of calling up
into circulation; services.connect wires the holds queue in once, however many apps a process builds."""
import pytest

from tests.checkout_helpers import shopper
from tests.conftest import _Config
from webapp import create_app
from webapp.services.catalog import editing
from webapp.services.circulation import holds
from webapp.services.inventory import stock


@pytest.fixture
def recorded(monkeypatch):
    """The copies-freed registry emptied for the test, with two recording listeners registered (one twice)."""
    monkeypatch.setattr(stock, "_copies_freed_listeners", [])
    calls = []

    def first(book_id):
        calls.append(("first", book_id))

    def second(book_id):
        calls.append(("second", book_id))

    stock.on_copies_freed(first)
    stock.on_copies_freed(second)
    stock.on_copies_freed(first)  # again: still called once, in its first place
    return calls


def test_freed_copies_reach_each_listener_once_in_order(app, db, make_book, recorded):
    book = make_book("Listened", on_hand=2)
    stock.adjust(book.id, 1, "restock")
    assert recorded == [("first", book.id), ("second", book.id)]
    recorded.clear()
    stock.adjust(book.id, -1, "adjustment")  # fewer copies: nobody is told
    stock.reserve([(book.id, 2)], reference="order-1")
    assert recorded == []
    stock.release([(book.id, 1)], reference="order-1")  # a reservation given back frees a copy
    assert recorded == [("first", book.id), ("second", book.id)]
    recorded.clear()
    stock.release([(book.id, 1)], reference="order-1", reallocate=False)  # the caller passes it on itself
    assert recorded == []
    db.session.rollback()


def test_restock_offers_the_copy_to_the_next_hold_through_the_wiring(app, db, make_book):
    book = make_book("Wired", on_hand=0)
    waiting = shopper("wired_waiter")
    holds.place(waiting, book)
    db.session.commit()
    stock.adjust(book.id, 1, "restock")
    db.session.commit()
    assert holds.open_hold(waiting.id, book.id).status == "ready"
    assert stock.state(book.id) == stock.StockState(1, 1)


def test_a_second_app_does_not_register_the_holds_queue_twice(app):
    assert stock._copies_freed_listeners.count(holds.allocate) == 1
    assert editing._archive_listeners.count(holds.close_for_book) == 1
    create_app(_Config)
    assert stock._copies_freed_listeners.count(holds.allocate) == 1
    assert editing._archive_listeners.count(holds.close_for_book) == 1
