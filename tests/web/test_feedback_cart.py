"""Issue 17 (feedback): quantity limits clamp with a message; the plan's rental rule is told at add-to-cart and on
the cart page (htmx and without JavaScript), never first at checkout."""
import json
import re

from sqlalchemy import select

from tests.conftest import PASSWORD
from tests.fee_helpers import rental_out
from webapp.models import CartLine


def _post(client, url, data, htmx=False):
    token = re.search(r'"X-CSRFToken": "([^"]+)"', client.get("/genres").get_data(as_text=True)).group(1)
    return client.post(url, data={**data, "csrf_token": token}, headers={"HX-Request": "true"} if htmx else {})


def _sign_in(app, auth, username="renter"):
    user = auth.user(username)
    client = app.test_client()
    assert auth.login(username, PASSWORD, client=client).status_code == 303
    return user, client


def test_add_over_the_limit_is_lowered_with_a_message(client, make_book, app):
    book = make_book("Plenty", on_hand=50)
    limit = app.config["MAX_QUANTITY_PER_LINE"]
    r = _post(client, "/cart/add", {"book_id": book.id, "mode": "buy", "quantity": 500}, htmx=True)
    body = r.get_data(as_text=True)
    assert f"You can order up to {limit} copies of one book, so the quantity is {limit}." in body
    assert json.loads(r.headers["HX-Trigger"])["cartUpdated"]["count"] == limit


def test_add_over_the_limit_without_javascript_flashes_the_message(client, make_book, app):
    book = make_book("Plenty", on_hand=50)
    limit = app.config["MAX_QUANTITY_PER_LINE"]
    r = _post(client, "/cart/add", {"book_id": book.id, "mode": "buy", "quantity": 10**12, "next": f"/books/{book.id}"})
    assert r.status_code == 303
    page = client.get(f"/books/{book.id}").get_data(as_text=True)
    assert f"You can order up to {limit} copies" in page


def test_cart_line_over_the_limit_is_lowered_with_a_message_htmx_and_plain(client, make_book, app):
    book = make_book("Plenty", on_hand=50)
    limit = app.config["MAX_QUANTITY_PER_LINE"]
    _post(client, "/cart/add", {"book_id": book.id, "mode": "buy"})
    body = _post(client, "/cart/update", {"book_id": book.id, "mode": "buy", "quantity": 150}, htmx=True).get_data(as_text=True)
    assert f"so the quantity is {limit}" in body and f'value="{limit}"' in body
    assert 'max="' not in body  # the browser must not block the request silently: the server lowers it
    r = _post(client, "/cart/update", {"book_id": book.id, "mode": "buy", "quantity": 99})
    assert r.status_code == 303
    assert f"so the quantity is {limit}" in client.get("/cart").get_data(as_text=True)


def test_fewer_copies_than_asked_is_lowered_with_a_message(client, make_book):
    book = make_book("Three Left", on_hand=3)
    _post(client, "/cart/add", {"book_id": book.id, "mode": "buy"})
    body = _post(client, "/cart/update", {"book_id": book.id, "mode": "buy", "quantity": 8}, htmx=True).get_data(as_text=True)
    assert "Only 3 left of “Three Left”." in body and 'value="3"' in body


def test_book_page_quantity_box_has_no_upper_bound(client, make_book):
    book = make_book("Plenty", on_hand=50)
    page = client.get(f"/books/{book.id}").get_data(as_text=True)
    assert re.search(r'<input id="buy-qty"[^>]*>', page) and "max=" not in re.search(r'<input id="buy-qty"[^>]*>', page).group(0)


def test_rental_over_the_free_plan_is_refused_at_add_to_cart_htmx(app, auth, db):
    user, client = _sign_in(app, auth)
    rental_out(user, title="Already Out")
    from tests.factories import make_book
    other = make_book("Second Rental", on_hand=4)
    r = _post(client, "/cart/add", {"book_id": other.id, "mode": "rent", "days": 2}, htmx=True)
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and 'data-testid="add-error"' in body
    assert "Your Free plan allows 1 book at once" in body and "/account/subscription" in body
    assert db.session.scalar(select(CartLine).where(CartLine.user_id == user.id)) is None  # nothing added
    # buying the same book is fine
    r = _post(client, "/cart/add", {"book_id": other.id, "mode": "buy"}, htmx=True)
    assert "Added" in r.get_data(as_text=True)


def test_rental_over_the_free_plan_is_refused_at_add_to_cart_without_javascript(app, auth, db):
    user, client = _sign_in(app, auth)
    rental_out(user, title="Already Out")
    from tests.factories import make_book
    other = make_book("Second Rental", on_hand=4)
    r = _post(client, "/cart/add", {"book_id": other.id, "mode": "rent", "days": 2, "next": f"/books/{other.id}"})
    assert r.status_code == 303 and r.headers["Location"] == f"/books/{other.id}"
    assert "Your Free plan allows 1 book at once" in client.get(f"/books/{other.id}").get_data(as_text=True)


def test_cart_page_warns_on_the_rental_line_and_offers_to_buy_instead(app, auth, db):
    from tests.factories import make_book
    user, client = _sign_in(app, auth)
    other = make_book("In Cart Already", on_hand=4)
    _post(client, "/cart/add", {"book_id": other.id, "mode": "rent", "days": 2})  # allowed: nothing out yet
    rental_out(user, title="Out Meanwhile")  # then a rental goes out (another order)
    page = client.get("/cart").get_data(as_text=True)
    assert page.count('data-testid="rental-warning"') == 1 and "Your Free plan allows 1 book at once" in page
    assert 'data-testid="switch-to-buy"' in page and "/account/subscription" in page
    body = _post(client, "/cart/update", {"book_id": other.id, "mode": "rent", "new_mode": "buy"}, htmx=True).get_data(as_text=True)
    assert 'data-testid="rental-warning"' not in body
    assert db.session.scalar(select(CartLine.mode).where(CartLine.user_id == user.id)) == "buy"
