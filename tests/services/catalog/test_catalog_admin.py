"""Staff catalog changes: the validation rules (shared by the admin form and the CSV import), create/update with
authors and genres found or created, stock through the ledger, archive/restore/delete rules, audit."""
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
from webapp.services.catalog import catalog_admin, search
from webapp.services.catalog.catalog_admin import CatalogError, FieldError
from webapp.services.inventory import stock

ISBN13 = "9780306406157"
ISBN10 = "0-306-40615-2"  # the same book as ISBN13


def test_money_rule():
    assert catalog_admin.parse_money("12.50") == 1250
    assert catalog_admin.parse_money("12.5") == 1250
    assert catalog_admin.parse_money(" $1,299 ") == 129900
    assert catalog_admin.parse_money("0") == 0
    assert catalog_admin.parse_money("", required=False) is None
    for bad, message in [("-1", "cannot be negative"), ("$-3.00", "cannot be negative"), ("12.505", "like 12.50"),
                         ("12,50", "like 12.50"), ("abc", "like 12.50"), ("1e3", "like 12.50"),
                         ("", "is required"), ("100000.01", "at most")]:
        with pytest.raises(FieldError, match=message):
            catalog_admin.parse_money(bad)
    assert catalog_admin.money_input(1250) == "12.50" and catalog_admin.money_input(7) == "0.07"
    assert catalog_admin.money_input(None) == ""


def test_count_rule():
    assert catalog_admin.parse_count("7") == 7 and catalog_admin.parse_count("+7") == 7
    assert catalog_admin.parse_count(" ") is None
    for bad, message in [("-1", "cannot be negative"), ("2.5", "whole number"), ("ten", "whole number"),
                         ("2000000", "at most")]:
        with pytest.raises(FieldError, match=message):
            catalog_admin.parse_count(bad)
    with pytest.raises(FieldError, match="at least 1"):
        catalog_admin.parse_count("0", "Pages", minimum=1)


def test_isbn_rule_checksum_normalising_and_uniqueness(app, make_book):
    assert catalog_admin.parse_isbn(ISBN10) == ISBN13
    assert catalog_admin.parse_isbn("978-0-306-40615-7") == ISBN13
    with pytest.raises(FieldError, match="Not a valid ISBN"):
        catalog_admin.parse_isbn("9780306406158")  # wrong check digit
    with pytest.raises(FieldError, match="required"):
        catalog_admin.parse_isbn("  ")
    book = make_book("Taken", isbn13=ISBN13)
    with pytest.raises(FieldError, match=f"#{book.id}"):
        catalog_admin.parse_isbn(ISBN10)
    assert catalog_admin.parse_isbn(ISBN10, book_id=book.id) == ISBN13  # its own ISBN is fine
    assert catalog_admin.parse_isbn(ISBN10, check_unique=False) == ISBN13


def test_other_rules():
    assert catalog_admin.parse_date("2024-02-29") == date(2024, 2, 29)
    with pytest.raises(FieldError, match="date like"):
        catalog_admin.parse_date("29/02/2024")
    with pytest.raises(FieldError, match="year between"):
        catalog_admin.parse_date("0999-01-01")
    assert catalog_admin.parse_language("") == "en" and catalog_admin.parse_language("PT_BR") == "pt-br"
    with pytest.raises(FieldError):
        catalog_admin.parse_language("english")
    assert catalog_admin.parse_names("Ann, ann ,  Bob  Lee,", "Authors", sep=",", max_len=20, max_count=5) == \
        ["Ann", "Bob Lee"]
    with pytest.raises(FieldError, match="at least one"):
        catalog_admin.parse_names(" , ", "Authors", sep=",", max_len=20, max_count=5, required=True)
    with pytest.raises(FieldError, match="at most 2"):
        catalog_admin.parse_names("a;b;c", "Genres", sep=";", max_len=20, max_count=2)
    with pytest.raises(FieldError, match="control characters"):
        catalog_admin.parse_text("bad\x00title", "Title", 300)


def test_clean_book_reports_every_problem_and_what_a_new_book_needs(app):
    with pytest.raises(CatalogError) as caught:
        catalog_admin.clean_book({"isbn": "123", "price": "-4", "pages": "0", "cost_price": "x"})
    errors = caught.value.errors
    assert set(errors) == {"isbn", "title", "authors", "price", "pages", "cost_price"}
    assert "required for a new book" in errors["title"][0] and "negative" in errors["price"][0]
    clean = catalog_admin.clean_book({"isbn": ISBN10, "title": " The  Book ", "authors": "A. Writer",
                                      "price": "9.99", "rental_week_price": "", "stock": "3"})
    assert clean == {"isbn": ISBN13, "title": "The Book", "authors": ["A. Writer"], "price": 999,
                     "rental_week_price": 0, "stock": 3}


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
    book = catalog_admin.create_book(raw, actor_id=admin.id)
    db.session.commit()
    return book


def test_create_finds_or_creates_authors_and_genres_and_writes_stock_to_the_ledger(app, db, make_book):
    admin = _admin(db)
    make_book("Older", authors=("mira okafor",), genres=("Travel",))  # existing, matched case-insensitively
    db.session.add(Author(name="Tom Lane", slug="tom-lane"))  # the same name: this author is used, not a new one
    db.session.commit()
    book = _create(db, admin)
    db.session.expire_all()
    book = catalog_admin.book_for_edit(book.id)
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
    book = catalog_admin.book_for_edit(book.id)
    saved = catalog_admin.update_book(book, {"isbn": ISBN10, "title": "Salt Roads", "authors": "Tom Lane, Nia Cole",
                                             "genres": "Essays", "price": "19.50", "language": "fr"},
                                      actor_id=admin.id)
    db.session.commit()
    assert saved.changed and not saved.created
    db.session.expire_all()
    book = catalog_admin.book_for_edit(book.id)
    assert book.author_names == "Tom Lane, Nia Cole" and [g.name for g in book.genres] == ["Essays"]
    assert db.session.scalar(select(Book.author_names).where(Book.id == book.id)) == "Tom Lane, Nia Cole"
    assert (book.price_cents, book.language, book.cost_cents) == (1950, "fr", 900)  # cost_price not given: kept
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "admin.book_updated")).one()
    assert entry.before == {"authors": ["Mira Okafor", "Tom Lane"], "genres": ["Essays", "Travel"],
                            "price_cents": 1800, "language": "en"}
    assert entry.after == {"authors": ["Tom Lane", "Nia Cole"], "genres": ["Essays"], "price_cents": 1950, "language": "fr"}
    # Saving the same values again changes nothing and writes no audit row
    book = catalog_admin.book_for_edit(book.id)
    again = catalog_admin.update_book(book, {"title": "Salt Roads", "price": "19.50"}, actor_id=admin.id)
    db.session.commit()
    assert not again.changed
    assert db.session.scalar(select(func.count()).select_from(AuditLog)
                             .where(AuditLog.action == "admin.book_updated")) == 1


def test_update_refuses_an_isbn_another_book_has(app, db, make_book):
    admin = _admin(db)
    other = make_book("Other", isbn13=ISBN13)
    book = make_book("Mine")
    book = catalog_admin.book_for_edit(book.id)
    with pytest.raises(CatalogError) as caught:
        catalog_admin.update_book(book, {"isbn": ISBN10}, actor_id=admin.id)
    assert f"#{other.id}" in caught.value.errors["isbn"][0]


def test_set_on_hand_never_below_reserved_and_uses_the_ledger(app, db, make_book):
    admin = _admin(db)
    book = make_book("Busy", on_hand=5)
    stock.reserve([(book.id, 3)], reference="order-1")
    db.session.commit()
    with pytest.raises(CatalogError, match="3 copies are reserved.*cannot go below 3") as caught:
        catalog_admin.set_on_hand(book.id, 2, actor_id=admin.id, note="count")
    assert set(caught.value.errors) == {"stock"}
    db.session.rollback()
    assert catalog_admin.set_on_hand(book.id, 3, actor_id=admin.id, note="count") == -2
    db.session.commit()
    assert stock.state(book.id) == stock.StockState(3, 3)
    movement = db.session.scalars(select(StockMovement).where(StockMovement.reason == "adjustment")).one()
    assert movement.on_hand_delta == -2 and movement.actor_id == admin.id and "5 → 3" in movement.note
    with pytest.raises(CatalogError, match="changed from 5 to 3"):
        catalog_admin.set_on_hand(book.id, 8, actor_id=admin.id, note="count", expected=5)


def test_inline_update_validates_both_fields_and_audits(app, db, make_book):
    admin = _admin(db)
    book = make_book("Inline", price_cents=1000, on_hand=2)
    row = catalog_admin.book_for_row(book.id)
    with pytest.raises(CatalogError) as caught:
        catalog_admin.inline_update(row, "-1", "x", expected_stock="2", actor_id=admin.id)
    assert set(caught.value.errors) == {"price", "stock"}
    db.session.rollback()
    row = catalog_admin.book_for_row(book.id)
    catalog_admin.inline_update(row, "12.50", "6", expected_stock="2", actor_id=admin.id)
    db.session.commit()
    assert stock.state(book.id).on_hand == 6 and db.session.get(Book, book.id).price_cents == 1250
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "admin.book_updated")).one()
    assert entry.before == {"price_cents": 1000, "on_hand": 2} and entry.after == {"price_cents": 1250, "on_hand": 6}


@pytest.mark.parametrize("delta, reason, note, field, message", [
    ("0", "stocktake", "x", "delta", "must not be zero"),
    ("abc", "stocktake", "x", "delta", "whole number"),
    ("-1", "restock", "x", "delta", "positive"),
    ("2", "damaged", "x", "delta", "negative"),
    ("-1", "nonsense", "x", "reason", "Choose a reason"),
    ("-1", "lost", "  ", "note", "required"),
    ("-9", "lost", "fell in the sea", "delta", "only 2 available"),
])
def test_adjust_stock_rules(app, db, make_book, delta, reason, note, field, message):
    admin = _admin(db)
    book = make_book("Adjust", on_hand=2)
    with pytest.raises(CatalogError) as caught:
        catalog_admin.adjust_stock(book, delta, reason, note, actor_id=admin.id)
    assert message in caught.value.errors[field][0]


def test_adjust_stock_maps_reasons_to_the_ledger(app, db, make_book):
    admin = _admin(db)
    book = make_book("Adjust", on_hand=2)
    catalog_admin.adjust_stock(book, "+5", "restock", "Delivery 42", actor_id=admin.id)
    catalog_admin.adjust_stock(book, "-1", "damaged", "Coffee", actor_id=admin.id)
    db.session.commit()
    rows = [(m.reason, m.on_hand_delta, m.note) for m in catalog_admin.recent_ledger(book.id)]
    assert rows[:2] == [("adjustment", -1, "Damaged: Coffee"), ("restock", 5, "Restock: Delivery 42")]
    assert catalog_admin.recent_ledger(book.id)[0].actor == "ops"
    assert stock.state(book.id).on_hand == 6
    assert db.session.scalar(select(func.count()).select_from(AuditLog)
                             .where(AuditLog.action == "admin.book_stock_adjusted")) == 2


def test_archive_restore_and_delete_rules(app, db, make_book):
    admin = _admin(db)
    customer = User(username="cust", email="c@example.com", password_hash="!")
    db.session.add(customer)
    book = make_book("Held")
    spare = make_book("Mistake")
    db.session.add(Hold(user_id=customer.id, book_id=book.id, status="waiting", priority=1))
    db.session.commit()
    assert catalog_admin.archive_book(book, actor_id=admin.id) is True
    assert catalog_admin.archive_book(book, actor_id=admin.id) is False  # already archived: nothing recorded
    db.session.commit()
    assert search.search_books(search.BookQuery(q="held")).total == 0
    catalog_admin.restore_book(book, actor_id=admin.id)
    db.session.commit()
    assert [e.action for e in db.session.scalars(select(AuditLog).order_by(AuditLog.id))] == \
        ["admin.book_archived", "hold.cancelled", "admin.book_restored"]  # archiving closed the book's queue
    with pytest.raises(CatalogError, match="appears in holds.*archive it instead"):
        catalog_admin.delete_book(book, actor_id=admin.id)
    db.session.rollback()
    catalog_admin.delete_book(spare, actor_id=admin.id)
    db.session.commit()
    assert db.session.get(Book, spare.id) is None
    assert db.session.get(Inventory, spare.id) is None
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "admin.book_deleted")).one()
    assert entry.before["title"] == "Mistake"


def test_list_filters_and_sorts(app, db, make_book):
    assert app.config["LOW_STOCK_THRESHOLD"] == 3
    a = make_book("Alpha", authors=("Zed Writer",), genres=("Poetry",), price_cents=500, on_hand=10)
    b = make_book("Beta", genres=("Crime",), price_cents=900, on_hand=2, units_sold=40)
    c = make_book("Gamma 100%", genres=("Crime",), price_cents=100, on_hand=0, active=False)
    crime = db.session.scalar(select(Genre.id).where(Genre.name == "Crime"))

    def titles(**kw):
        page = catalog_admin.list_books(catalog_admin.BookFilters(**kw))
        return [book.title for book in page.items]

    assert titles() == ["Alpha", "Beta", "Gamma 100%"]
    assert titles(q="zed") == ["Alpha"]  # by author
    assert titles(q="100%") == ["Gamma 100%"]  # LIKE wildcards are literal
    assert titles(q=b.isbn13[:7]) == ["Alpha", "Beta", "Gamma 100%"]  # an ISBN prefix
    assert titles(q=b.isbn13) == ["Beta"]
    assert titles(genre_id=crime) == ["Beta", "Gamma 100%"]
    assert titles(stock="in") == ["Alpha", "Beta"] and titles(stock="low") == ["Beta"]
    assert titles(stock="out") == ["Gamma 100%"]
    assert titles(status="archived") == ["Gamma 100%"] and titles(status="active") == ["Alpha", "Beta"]
    assert titles(sort="price") == ["Gamma 100%", "Alpha", "Beta"]
    assert titles(sort="price_desc") == ["Beta", "Alpha", "Gamma 100%"]
    assert titles(sort="stock") == ["Gamma 100%", "Beta", "Alpha"]
    assert titles(sort="sold") == ["Beta", "Gamma 100%", "Alpha"]
    assert titles(sort="newest")[0] == "Gamma 100%"
    db.session.execute(Inventory.__table__.update().where(Inventory.book_id == a.id).values(low_stock_threshold=20))
    db.session.commit()
    assert titles(stock="low") == ["Alpha", "Beta"]  # the book's own threshold wins over the shop's
    assert c.id


def test_remember_search_terms_adds_and_counts_words(app, db):
    catalog_admin.remember_search_terms(["The Lantern Keeper Ann Bell", "Lantern 1999 of"])
    db.session.commit()
    assert db.session.get(SearchTerm, "lantern").frequency == 2
    assert db.session.get(SearchTerm, "1999") is None and db.session.get(SearchTerm, "of") is None
