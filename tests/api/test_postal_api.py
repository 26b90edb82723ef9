"""The JSON API's postal loans: rentals say where the copy is (nullable dates while on its way), "I've sent it
back" (POST /rentals/{id}/sent-back) and the delivery choice of checkout and buy now."""
from __future__ import annotations

from sqlalchemy import select

from tests.api.conftest import assert_error
from tests.checkout_helpers import deliver, settle, start
from webapp.models import Order, Rental, User

ADDRESS = {"full_name": "Ann Reader", "line1": "1 Main St", "city": "Springfield", "postcode": "12345",
           "country": "us"}


def _user(db, username) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def _rent(db, user, book, delivered=True) -> Rental:
    order = start(user, [(book, 1, "rent", 3)])
    settle(order, f"pi_{order.number}", order.card_cents)
    db.session.commit()
    if delivered:
        deliver(order)
    return db.session.scalars(select(Rental).where(Rental.order_id == order.id)).one()


def test_sent_back_through_the_api(customer_api, db, make_book):
    rental = _rent(db, _user(db, "reader1"), make_book("Posted", on_hand=2), delivered=False)
    err = assert_error(customer_api.post(f"/api/v1/rentals/{rental.id}/sent-back"), 409, "sent_back_refused")
    assert "not reached you" in err["message"]
    deliver(db.session.get(Order, rental.order_id))
    r = customer_api.post(f"/api/v1/rentals/{rental.id}/sent-back")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["loan_state"] == "sent_back" and body["sent_back_at"] is not None and body["status"] == "active"
    assert body["renewable"] is False
    db.session.refresh(rental)
    assert rental.sent_back_at is not None
    assert_error(customer_api.post(f"/api/v1/rentals/{rental.id}/sent-back"), 409, "sent_back_refused")
    err = assert_error(customer_api.post(f"/api/v1/rentals/{rental.id}/renew", json={}), 409, "renewal_refused")
    assert "sent this book back" in err["message"]


def test_someone_elses_rental_is_404(auth, customer_api, db, make_book):
    theirs = _rent(db, auth.user("other"), make_book("Theirs", on_hand=2))
    assert_error(customer_api.post(f"/api/v1/rentals/{theirs.id}/sent-back"), 404)
    db.session.refresh(theirs)
    assert theirs.sent_back_at is None


def test_buy_now_collect_in_store_needs_no_address_and_pays_no_shipping(app, customer_api, db, make_book):
    book = make_book("Counter", on_hand=3, price_cents=1500)
    r = customer_api.post("/api/v1/buy-now", json={"book_id": book.id, "mode": "rent", "days": 3,
                                                   "delivery_method": "collect"})
    assert r.status_code == 201, r.get_json()
    order = r.get_json()["order"]
    assert order["delivery_method"] == "collect" and order["shipping"]["cents"] == 0
    assert order["shipping_address"]["line1"] == app.config["SHOP_ADDRESS"]["line1"]
    stored = db.session.scalar(select(Order).where(Order.number == order["number"]))
    assert stored.delivery_method == "collect" and stored.total_cents == stored.subtotal_cents


def test_checkout_by_post_is_the_default_and_rentals_only_pay_rental_shipping(customer_api, db, make_book):
    book = make_book("Mailed", on_hand=3, price_cents=1500)
    assert customer_api.post("/api/v1/cart/items", json={"book_id": book.id, "mode": "rent", "days": 3}).status_code == 200
    r = customer_api.post("/api/v1/checkout", json={"address": ADDRESS})
    assert r.status_code == 201, r.get_json()
    order = r.get_json()["order"]
    assert order["delivery_method"] == "post" and order["shipping"]["cents"] == 199


def test_delivery_choice_is_validated(customer_api, make_book):
    book = make_book("Either", on_hand=3)
    err = assert_error(customer_api.post("/api/v1/buy-now", json={"book_id": book.id, "delivery_method": "drone",
                                                                   "address": ADDRESS}), 422)
    assert "delivery_method" in err["fields"]
    err = assert_error(customer_api.post("/api/v1/buy-now", json={"book_id": book.id, "delivery_method": "collect",
                                                                   "address": ADDRESS}), 422)
    assert "address" in err["fields"]
    assert "address" in assert_error(customer_api.post("/api/v1/buy-now", json={"book_id": book.id}), 422)["fields"]
