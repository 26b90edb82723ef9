"""Issue 17, point 5 through the test client: out-of-stock card actions and "Notify me", series and format on
the book page, in the admin form, the CSV import and the API."""
from __future__ import annotations

import html
import re

from sqlalchemy import func, select

from tests.web.test_admin_books import NEW_BOOK, _post
from webapp.models import BackInStockRequest, Book, OutboundEmail

HX = {"HX-Request": "true"}


def _card(html: str, title: str) -> str:
    for card in re.findall(r'<article class="book-card">.*?</article>', html, re.S):
        if f">{title}</a>" in card:
            return card
    raise AssertionError(f"no card for {title}")


def _series(db, book, name, number, fmt="paperback"):
    book.series_name, book.series_number, book.format = name, number, fmt
    db.session.commit()


def test_cards_offer_add_to_cart_place_hold_or_notify_me(client, db, make_book):
    make_book("On the Shelf", on_hand=3)
    rentable = make_book("Gone for Now", on_hand=0)
    for_sale = make_book("Sold Out Only", on_hand=0)
    for_sale.rental_week_cents = 0
    db.session.commit()
    listing = client.get("/books").get_data(as_text=True)
    shelf = _card(listing, "On the Shelf")
    assert "Add to cart" in shelf and "Notify me" not in shelf and "Place hold" not in shelf
    gone = _card(listing, "Gone for Now")
    assert "Add to cart" not in gone and "Place hold" in gone and "Notify me" in gone
    assert f'action="/books/{rentable.id}/hold"' in gone and f'action="/books/{rentable.id}/notify"' in gone
    assert 'name="csrf_token" value="' in gone and "\x1b" not in gone  # placeholders filled in
    only = _card(listing, "Sold Out Only")
    assert "Notify me" in only and "Place hold" not in only


def test_a_visitor_is_sent_to_sign_in_and_back_to_the_notify_page(client, auth, db, make_book):
    book = make_book("Gone for Now", on_hand=0)
    response = auth.post(f"/books/{book.id}/notify", {"next": "/books"})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/login?next=/books/{book.id}/notify"
    htmx = client.post(f"/books/{book.id}/notify", data={"csrf_token": auth.csrf()}, headers=HX)
    assert htmx.status_code == 204 and htmx.headers["HX-Redirect"] == f"/login?next=/books/{book.id}/notify"
    page = client.get(f"/books/{book.id}/notify").get_data(as_text=True)
    assert "Sign in" in page and "Gone for Now" in page
    assert db.session.scalar(select(func.count()).select_from(BackInStockRequest)) == 0
    # the hold button sends a visitor to the book page's hold box
    hold = auth.post(f"/books/{book.id}/hold")
    assert hold.status_code == 303 and hold.headers["Location"] == f"/login?next=/books/{book.id}/gone-for-now"


def test_notify_me_twice_is_one_request_listed_on_the_account_and_cancellable(client, auth, db, make_book):
    book = make_book("Gone for Now", on_hand=0)
    auth.user("ann")
    auth.login("ann")
    first = auth.post(f"/books/{book.id}/notify", {"next": "/books?page=2"})
    assert first.status_code == 303 and first.headers["Location"] == "/books?page=2"
    again = auth.post(f"/books/{book.id}/notify", {"next": "//evil.example/"})
    assert again.status_code == 303 and again.headers["Location"] == f"/books/{book.id}/gone-for-now"
    assert db.session.scalar(select(func.count()).select_from(BackInStockRequest)) == 1
    account = html.unescape(client.get("/account").get_data(as_text=True))
    assert "Books we'll email you about" in account and "Gone for Now" in account
    page = html.unescape(client.get(f"/books/{book.id}/notify").get_data(as_text=True))
    assert "We'll email you when it's back in stock." in page
    cancelled = auth.post(f"/books/{book.id}/notify/cancel", {"next": "/account"})
    assert cancelled.status_code == 303 and cancelled.headers["Location"] == "/account"
    assert db.session.scalar(select(func.count()).select_from(BackInStockRequest)) == 0
    assert "Books we'll email you about" not in html.unescape(client.get("/account").get_data(as_text=True))


def test_htmx_swaps_the_card_action_in_place(client, auth, db, make_book):
    book = make_book("Gone for Now", on_hand=0)
    auth.user("ann")
    auth.login("ann")
    token = auth.csrf()
    done = client.post(f"/books/{book.id}/notify", data={"csrf_token": token, "next": "/"}, headers=HX)
    body = html.unescape(done.get_data(as_text=True))
    assert done.status_code == 200 and body.lstrip().startswith('<div class="card-action"')
    assert "We'll email you when “Gone for Now” is back in stock." in body and "Cancel" in body
    assert "<html" not in body and done.headers["Vary"].count("HX-Request") == 1
    twice = html.unescape(client.post(f"/books/{book.id}/notify", data={"csrf_token": token},
                                      headers=HX).get_data(as_text=True))
    assert "already on the list" in twice
    undo = html.unescape(client.post(f"/books/{book.id}/notify/cancel", data={"csrf_token": token},
                                     headers=HX).get_data(as_text=True))
    assert "We won't email you" in undo and "Notify me" in undo
    held = html.unescape(client.post(f"/books/{book.id}/hold", data={"csrf_token": token},
                                     headers=HX).get_data(as_text=True))
    assert "You're number 1 in the queue" in held and "/account/holds" in held
    # no CSRF token: refused
    assert client.post(f"/books/{book.id}/notify", headers=HX).status_code == 400


def test_notify_me_on_a_book_back_in_stock_says_so(client, auth, make_book):
    book = make_book("On the Shelf", on_hand=2)
    auth.user("ann")
    auth.login("ann")
    body = html.unescape(client.post(f"/books/{book.id}/notify", data={"csrf_token": auth.csrf()},
                                     headers=HX).get_data(as_text=True))
    assert "This book is in stock: you can order it now." in body
    assert client.post("/books/999999/notify", data={"csrf_token": auth.csrf()}).status_code == 404


def test_restocking_emails_the_shopper(client, auth, db, make_book, admin_client):
    book = make_book("Gone for Now", on_hand=0)
    auth.user("ann")
    auth.login("ann")
    auth.post(f"/books/{book.id}/notify")
    response = _post(admin_client, auth, f"/admin/books/{book.id}/stock",
                     {"delta": "+2", "reason": "restock", "note": "Delivery", "expected_on_hand": "0"})
    assert response.status_code in (200, 303), response.get_data(as_text=True)[:500]
    mail = db.session.scalars(select(OutboundEmail).where(OutboundEmail.recipient == "ann@example.com")
                              .where(OutboundEmail.subject.contains("back in stock"))).one()
    assert "http://" in mail.body_text and f"/books/{book.id}/gone-for-now" in mail.body_text
    assert "{{" not in mail.body_text and "Gone for Now" in (mail.body_html or "")


def test_book_page_shows_format_and_the_series_in_order(client, db, make_book):
    first = make_book("The Marrow Tide")
    second = make_book("The Marrow Salt")
    other = make_book("Standalone")
    _series(db, first, "The Marrow Coast", 1)
    _series(db, second, "The Marrow Coast", 2, "hardcover")
    page = client.get(f"/books/{second.id}").get_data(as_text=True)
    assert re.search(r'data-testid="book-format">Hardcover<', page)
    assert re.search(r'data-testid="book-series">The Marrow Coast, book 2', page)
    listed = re.search(r'<ol class="series-list".*?</ol>', page, re.S).group(0)
    assert listed.index("The Marrow Tide") < listed.index("The Marrow Salt")
    assert f'href="/books/{first.id}/the-marrow-tide"' in listed and 'aria-current="page">The Marrow Salt' in listed
    alone = client.get(f"/books/{other.id}").get_data(as_text=True)
    assert "Paperback" in alone and 'data-testid="book-series"' not in alone


def test_admin_form_sets_and_checks_format_and_series(admin_client, auth, db):
    bad = dict(NEW_BOOK, format="audiobook", series_name="x" * 161, series_number="1000")
    body = _post(admin_client, auth, "/admin/books/new", bad).get_data(as_text=True)
    assert "Format must be paperback or hardcover." in body
    assert "Series must be at most 160 characters." in body
    assert "Number in the series must be at most 999." in body
    lonely = _post(admin_client, auth, "/admin/books/new", dict(NEW_BOOK, series_number="2")).get_data(as_text=True)
    assert "Give the series&#39; name for a book with a number in a series." in lonely
    assert db.session.scalar(select(func.count()).select_from(Book)) == 0
    good = dict(NEW_BOOK, format="hardcover", series_name="The Marrow Coast", series_number="2")
    assert _post(admin_client, auth, "/admin/books/new", good).status_code == 303
    book = db.session.scalars(select(Book)).one()
    assert (book.format, book.series_name, book.series_number) == ("hardcover", "The Marrow Coast", 2)
    edit = admin_client.get(f"/admin/books/{book.id}/edit").get_data(as_text=True)
    assert 'value="The Marrow Coast"' in edit and re.search(r'<option selected value="hardcover">|'
                                                            r'<option value="hardcover" selected>', edit)
    cleared = dict(NEW_BOOK, format="paperback", series_name="", series_number="")
    cleared.pop("stock")
    assert _post(admin_client, auth, f"/admin/books/{book.id}/edit", cleared).status_code == 303
    db.session.expire_all()
    book = db.session.get(Book, book.id)
    assert (book.format, book.series_name, book.series_number) == ("paperback", None, None)


def test_csv_import_reads_format_and_series_columns(app, db, run_jobs):
    from tests.services.catalog.test_book_import import _run

    text = ("isbn,title,authors,price,format,series_name,series_number\n"
            "9780306406157,The Marrow Tide,Ann Author,12.00,hardcover,The Marrow Coast,1\n"
            "9781861972712,Plain Book,Ann Author,9.00,,,\n"
            "9780140449136,Bad Number,Ann Author,9.00,paperback,The Marrow Coast,0\n")
    task = _run(db, run_jobs, text)
    books = {b.title: b for b in db.session.scalars(select(Book))}
    assert (books["The Marrow Tide"].format, books["The Marrow Tide"].series_name,
            books["The Marrow Tide"].series_number) == ("hardcover", "The Marrow Coast", 1)
    assert (books["Plain Book"].format, books["Plain Book"].series_name) == ("paperback", None)
    assert "Bad Number" not in books
    assert any(e["column"] == "series_number" and "at least 1" in e["message"] for e in task.result["errors"])
