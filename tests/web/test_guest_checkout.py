"""Guest checkout through the site without JavaScript: the form, the payment, the success page and its account
offer, the order lookup (one answer for every miss, rate-limited), rentals needing an account, countries and
postcodes, the first-time buyer's address form, typed data surviving a bounce, and claiming by registering."""
from __future__ import annotations

import re

from sqlalchemy import select

from tests.conftest import PASSWORD
from webapp.extensions import db as _db
from webapp.models import Address, Inventory, Order, OutboundEmail, User

GUEST = {"email": "Reader@Example.com", "address_id": "new", "full_name": "Ann Reader", "line1": "1 Main St",
         "city": "Springfield", "postcode": "12345", "country": "US"}
NOT_FOUND = "We couldn’t find an order with those details."


def _token(page: str) -> str:
    return re.search(r'name="token" type="hidden" value="([^"]+)"', page).group(1)


def _checkout_page(client) -> str:
    r = client.get("/checkout")
    assert r.status_code == 200
    return r.get_data(as_text=True)


def _guest_order(client, auth, db, run_jobs, make_book, **fields) -> Order:
    """A visitor buys one copy as a guest and pays on the test gateway; the order as the database has it."""
    book = make_book("Guest Book", price_cents=1500, on_hand=4)
    assert auth.post("/cart/add", {"book_id": book.id, "mode": "buy"}).status_code == 303
    page = _checkout_page(client)
    r = auth.post("/checkout", GUEST | {"token": _token(page)} | fields)
    assert r.status_code == 303 and r.headers["Location"].startswith("/pay/test/"), r.get_data(as_text=True)[:500]
    pay_url = r.headers["Location"]
    r = auth.post(pay_url, {"card_number": "4242424242424242", "exp_month": 12, "exp_year": 2099, "cvc": "123",
                            "name": "Ann Reader"})
    assert r.status_code == 303
    run_jobs()
    run_jobs()
    db.session.expire_all()
    return db.session.scalars(select(Order)).one()


def test_a_visitor_checks_out_as_a_guest_without_javascript(client, auth, db, run_jobs, make_book):
    book = make_book("Guest Book", price_cents=1500, on_hand=4)
    auth.post("/cart/add", {"book_id": book.id, "mode": "buy"})
    page = _checkout_page(client)
    assert 'name="email"' in page and "Sign in" in page
    assert "A new address" not in page and "save_address" not in page  # no saved addresses: the fields only
    assert 'name="use_wallet"' not in page
    order = _guest_order(client, auth, db, run_jobs, make_book=lambda *a, **k: book)
    assert (order.guest, order.user_id, order.email, order.status) == (True, None, "reader@example.com", "paid")
    success = client.get(f"/checkout/success/{order.number}").get_data(as_text=True)
    assert order.number in success and "Payment received" in success
    assert "/register?email=reader@example.com" in success and "/orders/lookup" in success
    assert order.number in client.get(f"/orders/{order.number}").get_data(as_text=True)
    assert client.get(f"/orders/{order.number}/receipt").status_code == 200
    receipt = db.session.scalars(select(OutboundEmail).where(OutboundEmail.subject.contains("receipt"))).one()
    assert receipt.recipient == "reader@example.com"
    assert "Guest Book" not in client.get("/cart").get_data(as_text=True).split("<main", 1)[1].split("</main>")[0]
    # another browser sees nothing of it
    stranger = client.application.test_client()
    assert stranger.get(f"/orders/{order.number}").status_code == 302
    assert stranger.get(f"/checkout/success/{order.number}").status_code == 302


def test_the_same_guest_form_sent_twice_makes_one_order(client, auth, db, make_book):
    book = make_book(on_hand=4)
    auth.post("/cart/add", {"book_id": book.id, "mode": "buy"})
    data = GUEST | {"token": _token(_checkout_page(client))}
    first, second = auth.post("/checkout", data), auth.post("/checkout", data)
    assert first.status_code == second.status_code == 303 and first.headers["Location"] == second.headers["Location"]
    assert db.session.query(Order).count() == 1 and db.session.get(Inventory, book.id).reserved == 1


def test_a_guest_must_give_a_valid_email(client, auth, db, make_book):
    book = make_book(on_hand=4)
    auth.post("/cart/add", {"book_id": book.id, "mode": "buy"})
    token = _token(_checkout_page(client))
    for email, message in (("", "Enter your email address"), ("not-an-email", "must have an @-sign")):
        r = auth.post("/checkout", GUEST | {"email": email, "token": token})
        assert r.status_code == 200 and message in r.get_data(as_text=True), email
    assert db.session.query(Order).count() == 0


def test_rentals_need_an_account_and_the_cart_is_kept(client, auth, db, make_book):
    book = make_book("Rent Me", on_hand=4)
    auth.post("/cart/add", {"book_id": book.id, "mode": "rent", "days": 3})
    r = client.get("/checkout")
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and "Renting needs an account" in body and "/login?next=/checkout" in body
    assert 'name="email"' not in body
    r = auth.post("/checkout", GUEST | {"token": "x" * 32})
    assert r.status_code == 200 and "Renting needs an account" in r.get_data(as_text=True)
    assert db.session.query(Order).count() == 0
    assert "Rent Me" in client.get("/cart").get_data(as_text=True)


def test_postcodes_are_checked_for_the_country(client, auth, db, make_book):
    book = make_book(on_hand=4)
    auth.post("/cart/add", {"book_id": book.id, "mode": "buy"})
    token = _token(_checkout_page(client))
    r = auth.post("/checkout", GUEST | {"country": "GB", "postcode": "12345", "token": token})
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and "That doesn’t look like a UK postcode, e.g. EC1Y 8SY." in body
    r = auth.post("/checkout", GUEST | {"country": "EU", "token": token})
    assert r.status_code == 200 and "Choose a country from the list." in r.get_data(as_text=True)
    assert db.session.query(Order).count() == 0
    r = auth.post("/checkout", GUEST | {"country": "gb", "postcode": "sw1a 1aa", "token": token})
    assert r.status_code == 303
    assert db.session.scalars(select(Order.ship_country)).one() == "GB"


def test_the_country_is_a_list_on_checkout_and_in_the_address_book(client, auth, make_book):
    book = make_book(on_hand=4)
    auth.post("/cart/add", {"book_id": book.id, "mode": "buy"})
    page = _checkout_page(client)
    assert re.search(r'<select[^>]*name="country"', page)
    assert re.search(r'<option selected value="US">United States</option>', page)  # the shop's country first
    assert '<option value="GB">United Kingdom</option>' in page and 'value="EU"' not in page
    auth.user("lister")
    auth.login("lister")
    form = client.get("/account/addresses/new").get_data(as_text=True)
    assert re.search(r'<select[^>]*name="country"', form) and '<option value="DE">Germany</option>' in form
    r = auth.post("/account/addresses/new", {"full_name": "Ann", "line1": "1 High St", "city": "Leeds",
                                             "postcode": "99999", "country": "GB"})
    assert r.status_code == 200 and "UK postcode" in r.get_data(as_text=True)


def test_a_first_time_buyer_sees_the_address_fields_only(client, auth, db, make_book):
    book = make_book(on_hand=4)
    user = auth.user("firsttimer")
    auth.login("firsttimer")
    auth.post("/cart/add", {"book_id": book.id, "mode": "buy"})
    page = _checkout_page(client)
    assert "A new address" not in page and 'name="full_name"' in page and "Save this address" in page
    _db.session.add(Address(user_id=user.id, full_name="Ann", line1="9 Elm Road", city="Springfield",
                            postcode="12345", country="US", is_default=True))
    _db.session.commit()
    page = _checkout_page(client)
    assert "9 Elm Road" in page and "A new address" in page
    assert 'name="full_name"' in page  # the fields stay in the page (no JavaScript needed), under "New address"


def test_typed_details_survive_a_bounce_to_sign_in_and_back(client, auth, db, make_book):
    book = make_book(on_hand=4)
    auth.user("returning", email="returning@example.com")
    auth.post("/cart/add", {"book_id": book.id, "mode": "buy"})
    token = _token(_checkout_page(client))
    r = auth.post("/checkout", GUEST | {"line1": "77 Sunset Boulevard", "then": "sign_in", "token": token})
    assert r.status_code == 303 and r.headers["Location"] == "/login?next=/checkout"
    assert auth.login("returning").status_code == 303
    page = _checkout_page(client)
    assert 'value="77 Sunset Boulevard"' in page and 'name="email"' not in page  # signed in: no email asked


def test_typed_details_survive_a_sold_out_bounce(client, auth, db, make_book):
    book = make_book(on_hand=4)
    other = make_book("Also", on_hand=1)
    auth.post("/cart/add", {"book_id": book.id, "mode": "buy"})
    auth.post("/cart/add", {"book_id": other.id, "mode": "buy"})
    token = _token(_checkout_page(client))
    inventory = db.session.get(Inventory, other.id)
    inventory.reserved = 1  # someone else took the last copy meanwhile
    db.session.commit()
    r = auth.post("/checkout", GUEST | {"line1": "5 Rue Test", "delivery_method": "post", "token": token})
    assert r.status_code in (302, 303) and "/cart" in r.headers["Location"]
    inventory.reserved = 0
    db.session.commit()
    page = _checkout_page(client)
    assert 'value="5 Rue Test"' in page and 'value="Reader@Example.com"' in page


def test_lookup_shows_the_order_only_for_its_number_and_email(client, auth, db, run_jobs, make_book):
    order = _guest_order(client, auth, db, run_jobs, make_book)
    visitor = client.application.test_client()
    for number, email in ((order.number, "someone@example.com"), ("FO-AAAA-BBBB-CCCC", "reader@example.com"),
                          ("nonsense", "reader@example.com")):
        r = auth.post("/orders/lookup", {"number": number, "email": email}, client=visitor)
        assert r.status_code == 200 and NOT_FOUND in r.get_data(as_text=True), (number, email)
    assert visitor.get(f"/orders/{order.number}").status_code == 302  # still nothing for this browser
    r = auth.post("/orders/lookup", {"number": order.number.lower(), "email": "READER@example.com"}, client=visitor)
    assert r.status_code == 303 and r.headers["Location"] == f"/orders/{order.number}"
    page = visitor.get(f"/orders/{order.number}").get_data(as_text=True)
    assert order.number in page and "Guest Book" in page and "reader@example.com" in page
    assert visitor.get(f"/orders/{order.number}/receipt").status_code == 200
    assert visitor.get("/orders").status_code == 302  # only that order: the list needs an account


def test_lookup_is_rate_limited(client, auth):
    for _ in range(10):
        assert auth.post("/orders/lookup", {"number": "FO-AAAA-BBBB-CCCC", "email": "a@example.com"}).status_code == 200
    assert auth.post("/orders/lookup", {"number": "FO-AAAA-BBBB-CCCC", "email": "a@example.com"}).status_code == 429


def test_creating_an_account_with_the_email_claims_the_order_once_verified(client, auth, db, run_jobs, make_book):
    order = _guest_order(client, auth, db, run_jobs, make_book)
    form = client.get("/register?email=reader%40example.com").get_data(as_text=True)
    assert 'value="reader@example.com"' in form
    r = auth.post("/register", {"username": "newreader", "email": "reader@example.com", "password": PASSWORD,
                                "confirm": PASSWORD})
    assert r.status_code == 303
    db.session.expire_all()
    assert db.session.get(Order, order.id).user_id is None  # not before the code is confirmed
    run_jobs()
    message = db.session.scalars(select(OutboundEmail).where(OutboundEmail.subject.contains("code"))).one()
    code = re.search(r"\b(\d{6})\b", message.body_text).group(1)
    r = auth.post("/register/confirm", {"code": code})
    assert r.status_code == 303
    db.session.expire_all()
    user = db.session.scalars(select(User).where(User.username == "newreader")).one()
    assert db.session.get(Order, order.id).user_id == user.id
    listing = client.get("/orders").get_data(as_text=True)
    assert order.number in listing
    detail = client.get(f"/orders/{order.number}").get_data(as_text=True)
    assert "Your orders" in detail  # now the customer's own order page


def test_the_admin_order_page_says_guest(admin_client, client, auth, db, run_jobs, make_book):
    order = _guest_order(client, auth, db, run_jobs, make_book)
    page = admin_client.get(f"/admin/orders/{order.number}").get_data(as_text=True)
    assert re.search(r'data-testid="order-customer">Guest · reader@example.com', page)
    assert 'value="wallet"' not in page  # no wallet to refund to


def test_a_guest_leaving_the_payment_page_gets_the_copies_back(client, auth, db, make_book):
    book = make_book(on_hand=4)
    auth.post("/cart/add", {"book_id": book.id, "mode": "buy"})
    r = auth.post("/checkout", GUEST | {"token": _token(_checkout_page(client))})
    assert r.status_code == 303
    order = db.session.scalars(select(Order)).one()
    assert client.get(f"/checkout/cancelled/{order.number}").status_code == 200
    r = auth.post(f"/checkout/cancelled/{order.number}")
    assert r.status_code == 303 and r.headers["Location"] == "/cart"
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "cancelled" and db.session.get(Inventory, book.id).reserved == 0
    page = _checkout_page(client)  # what was typed is still there for the next try
    assert 'value="Reader@Example.com"' in page and 'value="1 Main St"' in page
