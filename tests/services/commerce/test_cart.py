"""A signed-in shopper's saved cart (services.commerce.cart persistence), on SQLite and PostgreSQL: lines are upserted
and only lines that left are deleted, so a writer that did not take the lock never hits the unique key."""
from __future__ import annotations

import pytest
from sqlalchemy import select, update

from webapp.models import CartLine
from webapp.services.commerce import cart


@pytest.fixture
def shopper(app):
    from tests.checkout_helpers import shopper as make_shopper

    return make_shopper("saver")


def _rows(db, user_id: int) -> dict[tuple[int, str], CartLine]:
    db.session.expire_all()
    return {(r.book_id, r.mode): r for r in db.session.scalars(select(CartLine).where(CartLine.user_id == user_id))}


def _quantities(db, user_id: int) -> dict[tuple[int, str], int]:
    return {key: row.quantity for key, row in _rows(db, user_id).items()}


def test_a_change_upserts_what_changed_and_deletes_only_what_left(db, shopper, make_book, count_queries):
    a, b, c = (make_book(t, on_hand=9) for t in ("Kept", "Changed", "Dropped"))
    cart.save_user_items(shopper.id, [cart.CartItem(a.id, "buy", 1, 7, 1500), cart.CartItem(b.id, "buy", 1, 7, 1500),
                                      cart.CartItem(c.id, "rent", 1, 7, 300)])
    db.session.commit()
    first = _rows(db, shopper.id)
    ids = {key: row.id for key, row in first.items()}
    added = {key: row.added_at for key, row in first.items()}

    before = cart.load_user_items(shopper.id, lock=True)
    items = [cart.CartItem(**vars(i)) for i in before]
    cart.update(items, b.id, "buy", quantity=3)
    cart.remove(items, c.id, "rent")
    cart.add(items, c.id, mode="buy", quantity=2)
    db.session.execute(update(CartLine).where(CartLine.id == ids[(a.id, "buy")])  # as if another tab saw a price
                       .values(seen_unit_cents=1234))
    with count_queries() as statements:
        cart.save_user_items(shopper.id, items, before=before)
    db.session.commit()

    rows = _rows(db, shopper.id)
    assert {key: row.quantity for key, row in rows.items()} == {(a.id, "buy"): 1, (b.id, "buy"): 3, (c.id, "buy"): 2}
    assert rows[(a.id, "buy")].id == ids[(a.id, "buy")] and rows[(b.id, "buy")].id == ids[(b.id, "buy")]
    assert rows[(b.id, "buy")].added_at == added[(b.id, "buy")]  # updated in place, not re-added
    assert rows[(a.id, "buy")].seen_unit_cents == 1234  # the untouched line was not written back
    writes = [s for s in statements if s.lstrip().upper().startswith(("INSERT", "DELETE", "UPDATE"))]
    assert len(writes) == 2 and "ON CONFLICT" in writes[1].upper()  # one delete, one upsert


def test_a_stale_writer_overwrites_instead_of_failing_on_the_unique_key(db, shopper, make_book):
    """Two requests that both loaded an empty cart and add the same book: the second one updates the line."""
    book = make_book("Twice", on_hand=9)
    for quantity in (1, 2):
        cart.save_user_items(shopper.id, [cart.CartItem(book.id, "buy", quantity, 7, 1500)], before=[])
        db.session.commit()
    assert _quantities(db, shopper.id) == {(book.id, "buy"): 2}


def test_saving_without_before_replaces_the_whole_cart(db, shopper, make_book):
    a, b = make_book("Old", on_hand=3), make_book("New", on_hand=3)
    cart.save_user_items(shopper.id, [cart.CartItem(a.id, "buy", 2, 7, 1500)])
    db.session.commit()
    cart.save_user_items(shopper.id, [cart.CartItem(b.id, "buy", 1, 7, 1500)])
    db.session.commit()
    assert _quantities(db, shopper.id) == {(b.id, "buy"): 1}
    assert cart.load_user_items(shopper.id) == [cart.CartItem(b.id, "buy", 1, 7, 1500)]
    cart.save_user_items(shopper.id, [])
    db.session.commit()
    assert _quantities(db, shopper.id) == {}


def test_remove_user_lines_drops_only_the_given_lines_under_the_cart_lock(db, shopper, make_book, count_queries):
    from tests.checkout_helpers import shopper as make_shopper

    a, b = make_book("Paid For", on_hand=5), make_book("Still Wanted", on_hand=5)
    other = make_shopper("other")
    lines = [cart.CartItem(a.id, "buy", 2, 7, 1500), cart.CartItem(a.id, "rent", 1, 7, 300),
             cart.CartItem(b.id, "buy", 1, 7, 1500)]
    cart.save_user_items(shopper.id, lines)
    cart.save_user_items(other.id, lines[:1])
    db.session.commit()

    with count_queries() as statements:
        cart.remove_user_lines(shopper.id, {(a.id, "buy"), (b.id, "rent")})  # (b, rent) is not in the cart
    db.session.commit()

    assert _quantities(db, shopper.id) == {(a.id, "rent"): 1, (b.id, "buy"): 1}
    assert _quantities(db, other.id) == {(a.id, "buy"): 2}  # another customer's cart is not touched
    if db.engine.dialect.name == "postgresql":  # SQLite has no row locks (one writer at a time)
        lock = next(i for i, s in enumerate(statements) if "FOR UPDATE" in s.upper())
        delete = next(i for i, s in enumerate(statements) if s.lstrip().upper().startswith("DELETE"))
        assert "users" in statements[lock] and lock < delete

    cart.remove_user_lines(shopper.id, set())
    cart.remove_user_lines(shopper.id, {(a.id, "rent"), (b.id, "buy")})
    db.session.commit()
    assert _quantities(db, shopper.id) == {}
