"""Postal loans through the website: the delivery choice at checkout, the rentals page (where each book is, the
return address, "I've sent it back", automatic renewal) and the staff pages (collected, delivered, the rentals
views and "Received"). CSRF, someone else's rental and a wrong state are checked on each new button."""
from __future__ import annotations

import re

from sqlalchemy import select

from tests.checkout_helpers import deliver, settle, start
from webapp.models import AuditLog, Inventory, Order, Rental, User


def _user(db, username) -> User:
    return db.session.scalars(select(User).where(User.username == username)).one()


def _rent(db, username, make_book, delivered=True, title="Page Rental"):
    book = make_book(title, on_hand=2)
    order = start(_user(db, username), [(book, 1, "rent", 3)])
    settle(order, f"pi_{order.number}", order.total_cents)
    db.session.commit()
    if delivered:
        deliver(order)
    return book, db.session.scalars(select(Rental).where(Rental.order_id == order.id)).one()


def _flashes(html: str) -> str:
    return " ".join(re.findall(r'<p class="flash flash-\w+"[^>]*>(.*?)</p>', html, re.S))


# ---- the customer's rentals page ----

def test_the_page_says_where_each_book_is_and_the_return_address_once_one_is_with_them(app, client, auth, db,
                                                                                        make_book):
    auth.user("renter")
    auth.login("renter")
    _book, rental = _rent(db, "renter", make_book, delivered=False)
    page = client.get("/account/rentals").get_data(as_text=True)
    assert "On its way to you" in page and "starts on delivery" in page
    assert "Renew<span" not in page and 'data-testid="sent-back-button"' not in page
    assert 'data-testid="return-details"' not in page  # nothing to send back yet
    deliver(db.session.get(Order, rental.order_id))
    page = client.get("/account/rentals").get_data(as_text=True)
    assert "With you" in page and "Renew<span" in page and 'data-testid="sent-back-button"' in page
    assert 'data-testid="return-details"' in page and "12 Market Street" in page
    assert "write your order number on the back" in page


def test_sent_back_through_the_page(client, auth, db, make_book):
    auth.user("renter")
    auth.login("renter")
    _book, rental = _rent(db, "renter", make_book)
    assert client.post(f"/account/rentals/{rental.id}/sent-back").status_code == 400  # no CSRF token
    db.session.refresh(rental)
    assert rental.sent_back_at is None
    r = auth.post(f"/account/rentals/{rental.id}/sent-back")
    assert r.status_code == 303 and r.headers["Location"].endswith("/account/rentals")
    db.session.refresh(rental)
    assert rental.sent_back_at is not None and rental.status == "active"
    page = client.get("/account/rentals").get_data(as_text=True)
    assert "marked as sent back" in _flashes(page) and "awaiting receipt" in page
    assert 'data-testid="sent-back-button"' not in page and "Renew<span" not in page
    again = auth.post(f"/account/rentals/{rental.id}/sent-back")  # a second press changes nothing
    assert again.status_code == 303
    assert "already told us" in _flashes(client.get("/account/rentals").get_data(as_text=True))


def test_sent_back_refused_while_on_its_way_and_404_for_someone_elses(client, auth, db, make_book):
    auth.user("renter")
    _book, theirs = _rent(db, "renter", make_book)
    auth.user("nosy")
    auth.login("nosy")
    assert auth.post(f"/account/rentals/{theirs.id}/sent-back").status_code == 404
    assert auth.post("/account/rentals/999999/sent-back").status_code == 404
    _book, mine = _rent(db, "nosy", make_book, delivered=False, title="Not Here Yet")
    assert auth.post(f"/account/rentals/{mine.id}/sent-back").status_code == 303
    assert "not reached you yet" in _flashes(auth.client.get("/account/rentals").get_data(as_text=True))
    db.session.refresh(theirs)
    db.session.refresh(mine)
    assert theirs.sent_back_at is None and mine.sent_back_at is None


def test_renew_refused_while_on_its_way(client, auth, db, make_book):
    auth.user("renter")
    auth.login("renter")
    _book, rental = _rent(db, "renter", make_book, delivered=False)
    assert auth.post(f"/account/rentals/{rental.id}/renew").status_code == 303
    assert "still on its way" in _flashes(client.get("/account/rentals").get_data(as_text=True))
    db.session.refresh(rental)
    assert not rental.renewed


def test_the_automatic_renewal_choice(client, auth, db):
    auth.user("renter")
    auth.login("renter")
    assert client.post("/account/rentals/auto-renew", data={"auto_renew": "y"}).status_code == 400  # CSRF
    assert _user(db, "renter").auto_renew_rentals is False
    assert auth.post("/account/rentals/auto-renew", {"auto_renew": "y"}).status_code == 303
    db.session.expire_all()
    assert _user(db, "renter").auto_renew_rentals is True
    page = client.get("/account/rentals").get_data(as_text=True)
    assert "Automatic renewal is on" in _flashes(page)
    assert re.search(r'<input[^>]*checked[^>]*data-testid="auto-renew"|<input[^>]*data-testid="auto-renew"[^>]*checked',
                     page)
    assert auth.post("/account/rentals/auto-renew", {}).status_code == 303  # an unticked box: off
    db.session.expire_all()
    assert _user(db, "renter").auto_renew_rentals is False


# ---- checkout ----

def test_checkout_collect_in_store_needs_no_address_and_no_shipping(app, client, auth, db, make_book):
    book = make_book("Counter Copy", on_hand=3, price_cents=1500)
    auth.user("walker")
    auth.login("walker")
    auth.post("/cart/add", {"book_id": book.id, "mode": "rent", "days": 3})
    page = client.get("/checkout").get_data(as_text=True)
    assert "By post ($1.99, rental shipping)" in page and "Collect in store (free)" in page
    assert "Shipping address" in page and "loan starts when the book is delivered" in page
    page = client.get("/checkout?delivery_method=collect").get_data(as_text=True)
    assert 'data-testid="collect-note"' in page and "12 Market Street" in page and "Shipping address" not in page
    assert re.search(r'name="delivery_method" type="hidden" value="collect"|type="hidden" name="delivery_method" '
                     r'value="collect"|id="delivery_method" name="delivery_method" type="hidden" value="collect"', page)
    assert "Collect in store, free" in page
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', page).group(1)
    r = auth.post("/checkout", {"delivery_method": "collect", "token": token})  # no address at all
    assert r.status_code == 303 and "/pay/test/" in r.headers["Location"]
    order = db.session.scalars(select(Order).where(Order.user_id == _user(db, "walker").id)).one()
    assert order.delivery_method == "collect" and order.shipping_cents == 0
    assert order.ship_line1 == app.config["SHOP_ADDRESS"]["line1"]
    assert order.total_cents == order.subtotal_cents


def test_checkout_by_post_charges_rental_shipping_and_still_needs_an_address(client, auth, db, make_book):
    book = make_book("Posted Copy", on_hand=3, price_cents=1500)
    auth.user("poster")
    auth.login("poster")
    auth.post("/cart/add", {"book_id": book.id, "mode": "rent", "days": 3})
    page = client.get("/checkout").get_data(as_text=True)
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', page).group(1)
    r = auth.post("/checkout", {"delivery_method": "post", "address_id": "new", "token": token})
    assert r.status_code == 200 and "Please complete the new address." in r.get_data(as_text=True)
    r = auth.post("/checkout", {"delivery_method": "teleport", "token": token})
    assert r.status_code == 200  # refused, shown again
    assert db.session.scalar(select(Order).where(Order.user_id == _user(db, "poster").id)) is None
    r = auth.post("/checkout", {"address_id": "new", "full_name": "Pat Post", "line1": "1 Main St",
                                "city": "Springfield", "postcode": "12345", "country": "US", "token": token})
    assert r.status_code == 303
    order = db.session.scalars(select(Order).where(Order.user_id == _user(db, "poster").id)).one()
    assert (order.delivery_method, order.shipping_cents, order.ship_name) == ("post", 199, "Pat Post")


# ---- staff ----

def test_admin_marks_a_collect_order_collected_and_its_loan_starts(admin_client, auth, db, make_book):
    from tests.services.circulation.test_postal_loans import start_collect

    book = make_book("Desk Copy", on_hand=2)
    auth.user("walker")
    order = start_collect(_user(db, "walker"), [(book, 1, "rent", 3)])
    settle(order, "pi_walk", order.total_cents)
    db.session.commit()
    page = admin_client.get(f"/admin/orders/{order.number}").get_data(as_text=True)
    assert "Collect in store" in page and "Mark collected" in page
    assert "Mark shipped" not in page and "Mark delivered" not in page
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    assert admin_client.post(f"/admin/orders/{order.number}/collected").status_code == 400  # no CSRF token
    r = admin_client.post(f"/admin/orders/{order.number}/collected", data={"csrf_token": token})
    assert r.status_code == 303
    db.session.expire_all()
    order = db.session.get(Order, order.id)
    rental = db.session.scalars(select(Rental).where(Rental.order_id == order.id)).one()
    assert order.status == "delivered" and rental.starts_at == order.delivered_at and rental.due_at is not None
    page = admin_client.get(f"/admin/orders/{order.number}").get_data(as_text=True)
    assert "marked collected" in _flashes(page) and "Collected in store." in page


def test_admin_cannot_collect_a_posted_order(admin_client, auth, db, make_book):
    auth.user("poster")
    _book, rental = _rent(db, "poster", make_book, delivered=False)
    order = db.session.get(Order, rental.order_id)
    page = admin_client.get(f"/admin/orders/{order.number}").get_data(as_text=True)
    assert "By post" in page and "Mark shipped" in page and "Mark collected" not in page
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    assert admin_client.post(f"/admin/orders/{order.number}/collected", data={"csrf_token": token}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "paid"
    assert db.session.get(Rental, rental.id).starts_at is None
    assert not db.session.scalars(select(AuditLog).where(AuditLog.action == "order.collected")).all()


def test_admin_rentals_views_on_its_way_and_sent_back_and_received(admin_client, auth, db, make_book):
    auth.user("renter")
    auth.user("returner")
    _b1, travelling = _rent(db, "renter", make_book, delivered=False, title="In The Post")
    book, back = _rent(db, "returner", make_book, title="Coming Back")
    back.sent_back_at = back.starts_at
    db.session.commit()
    page = admin_client.get("/admin/rentals?view=on_its_way").get_data(as_text=True)
    assert "In The Post" in page and "Coming Back" not in page and "not started" in page
    fragment = admin_client.get("/admin/rentals?view=sent_back", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in fragment and "Coming Back" in fragment and "In The Post" not in fragment
    assert "awaiting receipt" in fragment and "Received" in fragment
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    r = admin_client.post(f"/admin/rentals/{back.id}/return?view=sent_back", data={"csrf_token": token})
    assert r.status_code == 303 and "view=sent_back" in r.headers["Location"]
    db.session.expire_all()
    assert db.session.get(Rental, back.id).status == "returned"
    assert db.session.get(Inventory, book.id).on_hand == 2
    r = admin_client.post(f"/admin/rentals/{travelling.id}/return?view=on_its_way", data={"csrf_token": token})
    assert r.status_code == 303
    db.session.expire_all()
    assert db.session.get(Rental, travelling.id).status == "returned"  # came back undelivered: received too


def test_a_book_sent_back_long_ago_and_not_arrived_is_listed_for_staff(admin_client, auth, db, make_book):
    """"Sent back" stops late fees and the lost-book job, so a book claimed as posted that never arrives must come
    up again: after RENTAL_RETURN_TRANSIT_DAYS it is in "Not arrived", flagged, longest in the post first."""
    from datetime import timedelta

    from webapp.models import utcnow

    auth.user("slowpost")
    auth.user("recent")
    _b1, old = _rent(db, "slowpost", make_book, title="Lost In The Post")
    _b2, new = _rent(db, "recent", make_book, title="Posted Yesterday")
    old.sent_back_at = utcnow() - timedelta(days=20)
    new.sent_back_at = utcnow() - timedelta(days=1)
    db.session.commit()
    page = admin_client.get("/admin/rentals?view=not_arrived").get_data(as_text=True)
    assert "Lost In The Post" in page and "Posted Yesterday" not in page
    assert "not arrived after 20 days" in page
    both = admin_client.get("/admin/rentals?view=sent_back").get_data(as_text=True)
    assert both.index("Lost In The Post") < both.index("Posted Yesterday")  # longest in the post first
    assert both.count('data-testid="not-arrived"') == 1
    # Received at last: it leaves the list.
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    assert admin_client.post(f"/admin/rentals/{old.id}/return?view=not_arrived",
                             data={"csrf_token": token}).status_code == 303
    after = admin_client.get("/admin/rentals?view=not_arrived").get_data(as_text=True)
    assert "is back on the shelf" in after and 'data-testid="rental-row"' not in after
