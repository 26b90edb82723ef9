"""Staff catalog changes: create/update with authors and genres found or created, stock through the ledger,
inline edits, archive/restore/delete rules, audit."""
from datetime import date

import pytest
from sqlalchemy import func, select

from webapp.models import (
    AuditLog,
    Author,
    Book,
    BookAuthor,
    Genre,
    Hold,
    Inventory,
    SearchTerm,
    StockMovement,
    User,
)
from webapp.services.catalog import admin_listing, editing, search
from webapp.services.catalog.book_values import CatalogError
from webapp.services.inventory import stock

ISBN13 = "9780306406157"
ISBN10 = "0-306-40615-2"  # the same book as ISBN13


def _admin(db):
    user = User(username="ops", email="ops@example.com", password_hash="!", role="admin")
    db.session.add(user)
    db.session.commit()
    return user


def _create(db, admin, **overrides):
    raw = {"isbn": ISBN13, "title": "Salt Roads", "subtitle": "", "authors": "Mira Okafor, Tom Lane",
           "genres": "Travel, Essays", "price": "18.00", "rental_week_price": "3.50", "cost_price": "9.00",
           "stock": "4", "low_stock_threshold": "2", "pages": "320", "published_on": "2021-05-04",
           "language": "en", "publisher": "Harbour & Finch", "description": "Walking the coast."}
    raw.update(overrides)
    book = editing.create_book(raw, actor_id=admin.id)
    db.session.commit()
    return book


def test_create_finds_or_creates_authors_and_genres_and_writes_stock_to_the_ledger(app, db, make_book):
    admin = _admin(db)
    make_book("Older", authors=("mira okafor",), genres=("Travel",))  # existing, matched case-insensitively
    db.session.add(Author(name="Tom Lane", slug="tom-lane"))  # the same name: this author is used, not a new one
    db.session.commit()
    book = _create(db, admin)
    db.session.expire_all()
    book = admin_listing.book_for_edit(book.id)
    assert [a.name for a in book.authors] == ["mira okafor", "Tom Lane"]
    assert book.author_names == "mira okafor, Tom Lane"  # what the database triggers computed too
    assert db.session.scalar(select(Book.author_names).where(Book.id == book.id)) == "mira okafor, Tom Lane"
    assert sorted(g.name for g in book.genres) == ["Essays", "Travel"]
    assert db.session.scalar(select(func.count()).select_from(Genre).where(Genre.name == "Travel")) == 1
    assert (book.price_cents, book.rental_week_cents, book.cost_cents, book.pages) == (1800, 350, 900, 320)
    assert book.published_on == date(2021, 5, 4) and book.publisher == "Harbour & Finch"
    assert (book.inventory.on_hand, book.inventory.low_stock_threshold) == (4, 2)
    ledger = db.session.scalars(select(StockMovement).where(StockMovement.book_id == book.id)).all()
    assert [(m.reason, m.on_hand_delta, m.actor_id) for m in ledger] == [("initial", 4, admin.id)]
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "admin.book_created")).one()
    assert entry.actor_id == admin.id and entry.after["isbn"] == ISBN13 and entry.after["stock"] == 4
    # searchable at once (FTS / tsvector follow the row) and its words are in the "did you mean" vocabulary
    assert [b.id for b in search.search_books(search.BookQuery(q="salt roads")).books] == [book.id]
    assert db.session.get(SearchTerm, "salt") is not None


def test_new_names_get_unique_slugs(app, db):
    admin = _admin(db)
    db.session.add_all([Author(name="Someone Else", slug="ann-bell"), Genre(name="Other", slug="poetry")])
    db.session.commit()
    book = _create(db, admin, authors="Ann Bell", genres="Poetry")
    author = db.session.scalars(select(Author).where(Author.name == "Ann Bell")).one()
    genre = db.session.scalars(select(Genre).where(Genre.name == "Poetry")).one()
    assert author.slug == "ann-bell-2" and genre.slug == "poetry-2"
    assert db.session.scalar(select(BookAuthor.author_id).where(BookAuthor.book_id == book.id)) == author.id


def test_update_changes_authors_genres_and_audits_only_what_changed(app, db):
    admin = _admin(db)
    book = _create(db, admin)
    book = admin_listing.book_for_edit(book.id)
    saved = editing.update_book(book, {"isbn": ISBN10, "title": "Salt Roads", "authors": "Tom Lane, Nia Cole",
                                             "genres": "Essays", "price": "19.50", "language": "fr"},
                                      actor_id=admin.id)
    db.session.commit()
    assert saved.changed and not saved.created
    db.session.expire_all()
    book = admin_listing.book_for_edit(book.id)
    assert book.author_names == "Tom Lane, Nia Cole" and [g.name for g in book.genres] == ["Essays"]
    assert db.session.scalar(select(Book.author_names).where(Book.id == book.id)) == "Tom Lane, Nia Cole"
    assert (book.price_cents, book.language, book.cost_cents) == (1950, "fr", 900)  # cost_price not given: kept
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "admin.book_updated")).one()
    assert entry.before == {"authors": ["Mira Okafor", "Tom Lane"], "genres": ["Essays", "Travel"],
                            "price_cents": 1800, "language": "en"}
    assert entry.after == {"authors": ["Tom Lane", "Nia Cole"], "genres": ["Essays"], "price_cents": 1950, "language": "fr"}
    # Saving the same values again changes nothing and writes no audit row
    book = admin_listing.book_for_edit(book.id)
    again = editing.update_book(book, {"title": "Salt Roads", "price": "19.50"}, actor_id=admin.id)
    db.session.commit()
    assert not again.changed
    assert db.session.scalar(select(func.count()).select_from(AuditLog)
                             .where(AuditLog.action == "admin.book_updated")) == 1


def test_update_refuses_an_isbn_another_book_has(app, db, make_book):
    admin = _admin(db)
    other = make_book("Other", isbn13=ISBN13)
    book = make_book("Mine")
    book = admin_listing.book_for_edit(book.id)
    with pytest.raises(CatalogError) as caught:
        editing.update_book(book, {"isbn": ISBN10}, actor_id=admin.id)
    assert f"#{other.id}" in caught.value.errors["isbn"][0]


def test_inline_update_validates_both_fields_and_audits(app, db, make_book):
    admin = _admin(db)
    book = make_book("Inline", price_cents=1000, on_hand=2)
    row = admin_listing.book_for_row(book.id)
    with pytest.raises(CatalogError) as caught:
        editing.inline_update(row, "-1", "x", expected_stock="2", actor_id=admin.id)
    assert set(caught.value.errors) == {"price", "stock"}
    db.session.rollback()
    row = admin_listing.book_for_row(book.id)
    editing.inline_update(row, "12.50", "6", expected_stock="2", actor_id=admin.id)
    db.session.commit()
    assert stock.state(book.id).on_hand == 6 and db.session.get(Book, book.id).price_cents == 1250
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "admin.book_updated")).one()
    assert entry.before == {"price_cents": 1000, "on_hand": 2} and entry.after == {"price_cents": 1250, "on_hand": 6}


def test_archive_restore_and_delete_rules(app, db, make_book):
    admin = _admin(db)
    customer = User(username="cust", email="c@example.com", password_hash="!")
    db.session.add(customer)
    book = make_book("Held")
    spare = make_book("Mistake")
    db.session.add(Hold(user_id=customer.id, book_id=book.id, status="waiting", priority=1))
    db.session.commit()
    assert editing.archive_book(book, actor_id=admin.id) is True
    assert editing.archive_book(book, actor_id=admin.id) is False  # already archived: nothing recorded
    db.session.commit()
    assert search.search_books(search.BookQuery(q="held")).total == 0
    editing.restore_book(book, actor_id=admin.id)
    db.session.commit()
    assert [e.action for e in db.session.scalars(select(AuditLog).order_by(AuditLog.id))] == \
        ["admin.book_archived", "hold.cancelled", "admin.book_restored"]  # archiving closed the book's queue
    with pytest.raises(CatalogError, match="appears in holds.*archive it instead"):
        editing.delete_book(book, actor_id=admin.id)
    db.session.rollback()
    editing.delete_book(spare, actor_id=admin.id)
    db.session.commit()
    assert db.session.get(Book, spare.id) is None
    assert db.session.get(Inventory, spare.id) is None
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "admin.book_deleted")).one()
    assert entry.before["title"] == "Mistake"


