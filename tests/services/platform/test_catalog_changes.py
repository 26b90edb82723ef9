"""Which statements bump which cache versions (services.platform.catalog_changes), after commit only."""
from __future__ import annotations

from sqlalchemy import text, update

from webapp.extensions import db
from webapp.models import Book, Inventory
from webapp.services.platform import cache


def test_a_statement_on_one_book_bumps_that_book_only(app, make_book):
    one, two = make_book("One"), make_book("Two")
    before = cache.versions([one.id, two.id])
    db.session.execute(update(Inventory).where(Inventory.book_id == one.id).values(on_hand=Inventory.on_hand + 1))
    assert cache.versions([one.id, two.id]) == before  # not before the commit
    db.session.commit()
    after = cache.versions([one.id, two.id])
    assert after.books[one.id] != before.books[one.id] and after.books[two.id] == before.books[two.id]
    assert after.catalog != before.catalog and after.epoch == before.epoch


def test_a_statement_on_many_books_bumps_them(app, make_book):
    one, two = make_book("One"), make_book("Two")
    before = cache.versions([one.id, two.id])
    db.session.execute(update(Book).where(Book.id.in_([one.id, two.id])).values(price_cents=100))
    db.session.commit()
    after = cache.versions([one.id, two.id])
    assert all(after.books[i] != before.books[i] for i in (one.id, two.id)) and after.epoch == before.epoch


def test_a_statement_that_cannot_be_pinned_down_bumps_everything(app, make_book):
    make_book("One")
    before = cache.versions()
    db.session.execute(update(Book).where(Book.price_cents > 0).values(price_cents=Book.price_cents + 1))
    db.session.commit()
    assert cache.versions().epoch != before.epoch
    before = cache.versions()
    db.session.execute(text("UPDATE books SET units_sold = units_sold + 1"))
    db.session.commit()
    assert cache.versions().epoch != before.epoch


def test_other_tables_bump_nothing(app, make_book):
    make_book("One")
    before = cache.versions()
    db.session.execute(text("SELECT 1"))
    db.session.commit()
    assert cache.versions() == before


def test_a_rolled_back_savepoint_keeps_what_the_transaction_changed_before_it(app, make_book):
    """A savepoint's rollback (the CSV import's failed row, a duplicate name) is not the transaction's: the
    change made before it still commits, so it must still be bumped."""
    one = make_book("One")
    before = cache.versions([one.id])
    db.session.execute(update(Book).where(Book.id == one.id).values(price_cents=4321))
    try:
        with db.session.begin_nested():
            db.session.execute(text("SELECT 1"))
            raise ValueError("a row that fails")
    except ValueError:
        pass
    db.session.commit()
    assert cache.versions([one.id]).books[one.id] != before.books[one.id]


def test_a_rolled_back_transaction_bumps_nothing(app, make_book):
    one = make_book("One")
    before = cache.versions([one.id])
    db.session.execute(update(Book).where(Book.id == one.id).values(price_cents=4321))
    db.session.rollback()
    db.session.execute(text("SELECT 1"))
    db.session.commit()
    assert cache.versions([one.id]) == before
