"""The admin list of books: search, filters and sorts."""
from sqlalchemy import select

from webapp.models import Genre, Inventory
from webapp.services.catalog import admin_listing


def test_list_filters_and_sorts(app, db, make_book):
    assert app.config["LOW_STOCK_THRESHOLD"] == 3
    a = make_book("Alpha", authors=("Zed Writer",), genres=("Poetry",), price_cents=500, on_hand=10)
    b = make_book("Beta", genres=("Crime",), price_cents=900, on_hand=2, units_sold=40)
    c = make_book("Gamma 100%", genres=("Crime",), price_cents=100, on_hand=0, active=False)
    crime = db.session.scalar(select(Genre.id).where(Genre.name == "Crime"))

    def titles(**kw):
        page = admin_listing.list_books(admin_listing.BookFilters(**kw))
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
