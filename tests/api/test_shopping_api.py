"""The JSON API's cart, checkout and buy now: the signed-in customer's saved cart (the website's), priced by the
same services, and the website's checkout (reservation, idempotency, limits) answered in JSON."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.api.conftest import ApiClient, assert_error
from webapp.models import CartLine, DiscountCode, GatewaySession, Inventory, Order, StockMovement

ADDRESS = {"full_name": "Ann Reader", "line1": "1 Main St", "city": "Springfield", "postcode": "12345",
           "country": "us"}


def _lines(db, user_id):
    db.session.expire_all()
    return {(r.book_id, r.mode): r.quantity for r in db.session.scalars(select(CartLine)
                                                                       .where(CartLine.user_id == user_id))}


def _user_id(db, username):
    from webapp.models import User

    return db.session.scalar(select(User.id).where(User.username == username))


# ---- the cart ----

def test_cart_needs_a_token(api):
    assert_error(api.get("/api/v1/cart"), 401, "unauthorized")
    assert_error(api.post("/api/v1/cart/items", json={"book_id": 1}), 401)


def test_add_update_remove_on_the_saved_cart_with_the_websites_totals(app, db, customer_api, make_book):
    book = make_book("Cart Book", on_hand=5, price_cents=1500)
    other = make_book("Rentable", on_hand=2, price_cents=2100)
    db.session.commit()
    uid = _user_id(db, "reader1")

    r = customer_api.get("/api/v1/cart")
    assert r.status_code == 200
    assert r.get_json()["lines"] == [] and r.get_json()["total"] == {"cents": 0, "currency": "USD"}

    r = customer_api.post("/api/v1/cart/items", json={"book_id": book.id, "quantity": 2})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["lines"] == [{"book_id": book.id, "title": "Cart Book", "mode": "buy", "quantity": 2, "days": None,
                              "unit_price": {"cents": 1500, "currency": "USD"},
                              "total": {"cents": 3000, "currency": "USD"}, "available": 5}]
    assert _lines(db, uid) == {(book.id, "buy"): 2}  # the database cart, the website's

    r = customer_api.post("/api/v1/cart/items", json={"book_id": other.id, "mode": "rent", "days": 3})
    assert r.status_code == 200, r.get_json()
    rent = next(line for line in r.get_json()["lines"] if line["mode"] == "rent")
    assert rent["days"] == 3 and rent["unit_price"]["cents"] == 180  # 3/7 of the weekly 4.20
    err = assert_error(customer_api.patch(f"/api/v1/cart/items/{other.id}/rent", json={"days": 21}), 409,
                       "cart_refused")
    assert "1 to 3 days" in err["message"]  # the free plan's longest loan

    # the very numbers services.commerce.cart.view gives (what the website's cart shows)
    from webapp.models import User
    from webapp.services.commerce import cart

    view = cart.view(cart.load_user_items(uid), user=db.session.get(User, uid))
    body = customer_api.get("/api/v1/cart").get_json()
    assert body["subtotal"]["cents"] == view.quote.subtotal_cents
    assert body["shipping"]["cents"] == view.quote.shipping_cents
    assert body["tax"]["cents"] == view.quote.tax_cents
    assert body["total"]["cents"] == view.quote.total_cents
    assert body["count"] == 3

    # the website sees the API's cart
    web = app.test_client()
    from tests.conftest import Auth

    Auth(app, web).login("reader1")
    assert "Cart Book" in web.get("/cart").get_data(as_text=True)

    r = customer_api.patch(f"/api/v1/cart/items/{book.id}/buy", json={"quantity": 9})
    assert r.status_code == 200
    line = next(line for line in r.get_json()["lines"] if line["book_id"] == book.id)
    assert line["quantity"] == 5 and any("Only 5 left" in p for p in r.get_json()["problems"])
    assert _lines(db, uid)[(book.id, "buy")] == 5

    r = customer_api.patch(f"/api/v1/cart/items/{other.id}/rent", json={"days": 2})
    assert r.status_code == 200 and _lines(db, uid)[(other.id, "rent")] == 1
    assert next(line for line in r.get_json()["lines"] if line["mode"] == "rent")["days"] == 2

    r = customer_api.delete(f"/api/v1/cart/items/{other.id}/rent")
    assert r.status_code == 200 and [line["book_id"] for line in r.get_json()["lines"]] == [book.id]
    r = customer_api.patch(f"/api/v1/cart/items/{book.id}/buy", json={"quantity": 0})
    assert r.status_code == 200 and r.get_json()["lines"] == []
    assert _lines(db, uid) == {}


def test_cart_refusals(db, customer_api, make_book):
    book = make_book("One Left", on_hand=1)
    gone = make_book("Gone", on_hand=0)
    archived = make_book("Archived", on_hand=3, active=False)
    db.session.commit()
    assert_error(customer_api.post("/api/v1/cart/items", json={"book_id": 999_999}), 404, "not_found")
    assert_error(customer_api.post("/api/v1/cart/items", json={"book_id": archived.id}), 404, "not_found")
    err = assert_error(customer_api.post("/api/v1/cart/items", json={"book_id": gone.id}), 409, "cart_refused")
    assert "out of stock" in err["message"]
    assert customer_api.post("/api/v1/cart/items", json={"book_id": book.id}).status_code == 200
    assert_error(customer_api.post("/api/v1/cart/items", json={"book_id": book.id}), 409, "cart_refused")
    assert_error(customer_api.post("/api/v1/cart/items", json={"book_id": book.id, "mode": "steal"}), 422)
    assert_error(customer_api.post("/api/v1/cart/items", json={"book_id": book.id, "quantity": 0}), 422)
    assert_error(customer_api.post("/api/v1/cart/items", json={"book_id": "1; DROP"}), 422)
    assert_error(customer_api.post("/api/v1/cart/items", json={"book_id": book.id, "extra": 1}), 422)
    assert_error(customer_api.patch(f"/api/v1/cart/items/{gone.id}/buy", json={"quantity": 1}), 404)
    assert_error(customer_api.delete(f"/api/v1/cart/items/{book.id}/rent"), 404)
    assert customer_api.delete(f"/api/v1/cart/items/{book.id}/lend").status_code == 404


def test_renting_is_refused_with_an_overdue_book(db, customer_api, make_book):
    from datetime import timedelta

    from tests.checkout_helpers import settle, start
    from webapp.models import Rental, User, utcnow

    book = make_book("Rent Me", on_hand=3)
    db.session.commit()
    settle(start(db.session.get(User, _user_id(db, "reader1")), [(book, 1, "rent", 3)]))
    db.session.commit()
    rental = db.session.scalars(select(Rental)).one()
    rental.due_at = utcnow() - timedelta(days=2)
    db.session.commit()
    err = assert_error(customer_api.post("/api/v1/cart/items", json={"book_id": book.id, "mode": "rent"}), 409,
                       "rental_blocked")
    assert "overdue" in err["message"]
    assert customer_api.post("/api/v1/cart/items", json={"book_id": book.id}).status_code == 200  # buying is fine


def test_a_price_change_is_reported_once(db, customer_api, make_book):
    book = make_book("Dearer", on_hand=3, price_cents=1000)
    db.session.commit()
    customer_api.post("/api/v1/cart/items", json={"book_id": book.id})
    book.price_cents = 1200
    db.session.commit()
    first = customer_api.get("/api/v1/cart").get_json()
    assert any("went up" in p for p in first["problems"]) and first["subtotal"]["cents"] == 1200
    assert customer_api.get("/api/v1/cart").get_json()["problems"] == []


# ---- discount codes ----

def test_discount_code_is_applied_checked_kept_per_sign_in_and_removed(app, db, customer_api, make_book):
    book = make_book("Coded", on_hand=5, price_cents=4000)
    db.session.add(DiscountCode(code="SPRING", kind="percent", value=25))
    db.session.add(DiscountCode(code="BIGONLY", kind="fixed", value=500, min_subtotal_cents=100_000))
    db.session.commit()
    customer_api.post("/api/v1/cart/items", json={"book_id": book.id})

    err = assert_error(customer_api.put("/api/v1/cart/code", json={"code": "nope"}), 422, "validation_failed")
    assert "not a valid discount code" in err["fields"]["code"][0]
    err = assert_error(customer_api.put("/api/v1/cart/code", json={"code": "bigonly"}), 422)
    assert "needs a subtotal" in err["message"]
    assert customer_api.get("/api/v1/cart").get_json()["code"] is None

    r = customer_api.put("/api/v1/cart/code", json={"code": " spring "})
    assert r.status_code == 200
    body = r.get_json()
    assert body["code"] == "SPRING" and body["discount"]["cents"] == 1000
    assert customer_api.get("/api/v1/cart").get_json()["code"] == "SPRING"  # kept for this sign-in

    other_sign_in = ApiClient(app)
    assert other_sign_in.sign_in("reader1").status_code == 200
    assert other_sign_in.get("/api/v1/cart").get_json()["code"] is None  # as another browser

    r = customer_api.delete("/api/v1/cart/code")
    assert r.status_code == 200 and r.get_json()["code"] is None and r.get_json()["discount"]["cents"] == 0


def test_a_code_that_stops_applying_is_a_problem_and_checkout_refuses_it(db, customer_api, make_book):
    book = make_book("Was Valid", on_hand=5, price_cents=4000)
    code = DiscountCode(code="ONCE", kind="fixed", value=500)
    db.session.add(code)
    db.session.commit()
    customer_api.post("/api/v1/cart/items", json={"book_id": book.id})
    assert customer_api.put("/api/v1/cart/code", json={"code": "once"}).status_code == 200
    code.active = False
    db.session.commit()
    body = customer_api.get("/api/v1/cart").get_json()
    assert body["code"] == "ONCE" and body["discount"]["cents"] == 0
    assert any("not a valid discount code" in p for p in body["problems"])
    assert_error(customer_api.post("/api/v1/checkout", json={"address": ADDRESS}), 409, "checkout_refused")
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0


# ---- checkout ----

def test_checkout_reserves_stock_and_answers_an_order_with_a_payment_url_on_public_url(db, customer_api, make_book):
    book = make_book("Reserved", on_hand=4, price_cents=1500)
    db.session.add(DiscountCode(code="TENOFF", kind="percent", value=10))
    db.session.commit()
    customer_api.post("/api/v1/cart/items", json={"book_id": book.id, "quantity": 2})
    customer_api.put("/api/v1/cart/code", json={"code": "tenoff"})

    r = customer_api.post("/api/v1/checkout", json={"address": ADDRESS}, headers={"Host": "evil.example"})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    order = db.session.scalars(select(Order)).one()
    assert body["order"]["number"] == order.number and body["order"]["status"] == "pending_payment"
    assert body["payment_url"] == f"http://shop.test/pay/test/{order.payment_session_id}"
    assert body["order"]["payment_url"] == body["payment_url"]
    assert body["order"]["discount"]["cents"] == 300 == order.discount_cents
    assert body["order"]["total"]["cents"] == order.total_cents
    assert body["order"]["shipping_address"]["country"] == "US"
    assert body["order"]["can_cancel"] is True
    assert [e["status"] for e in body["order"]["timeline"]] == ["pending_payment"]
    # the provider sends the customer back to PUBLIC_URL, never to the request's Host
    session = db.session.get(GatewaySession, order.payment_session_id)
    assert session.success_url == f"http://shop.test/checkout/success/{order.number}"
    assert session.cancel_url == f"http://shop.test/checkout/cancelled/{order.number}"
    # stock reserved through the ledger
    row = db.session.get(Inventory, book.id)
    assert (row.on_hand, row.reserved) == (4, 2)
    move = db.session.scalars(select(StockMovement).where(StockMovement.reference == order.number)).one()
    assert (move.on_hand_delta, move.reserved_delta) == (0, 2)


def test_the_same_checkout_twice_is_the_same_pending_order(db, customer_api, make_book):
    book = make_book("Twice", on_hand=4)
    db.session.commit()
    customer_api.post("/api/v1/cart/items", json={"book_id": book.id})
    first = customer_api.post("/api/v1/checkout", json={"address": ADDRESS})
    second = customer_api.post("/api/v1/checkout", json={"address": ADDRESS})
    assert first.status_code == second.status_code == 201
    assert first.get_json()["order"]["number"] == second.get_json()["order"]["number"]
    assert first.get_json()["payment_url"] == second.get_json()["payment_url"]
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1
    assert db.session.get(Inventory, book.id).reserved == 1


def test_an_idempotency_key_finds_the_order_its_first_request_made(db, customer_api, make_book):
    book = make_book("Retry", on_hand=4)
    other = make_book("Later", on_hand=4)
    db.session.commit()
    customer_api.post("/api/v1/cart/items", json={"book_id": book.id})
    key = {"Idempotency-Key": "retry-key-0123456789"}
    first = customer_api.post("/api/v1/checkout", json={"address": ADDRESS}, headers=key)
    customer_api.post("/api/v1/cart/items", json={"book_id": other.id})  # the cart moved on meanwhile
    again = customer_api.post("/api/v1/checkout", json={"address": ADDRESS}, headers=key)
    assert again.status_code == 201 and again.get_json()["order"]["number"] == first.get_json()["order"]["number"]
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1
    assert_error(customer_api.post("/api/v1/checkout", json={"address": ADDRESS},
                                   headers={"Idempotency-Key": "short"}), 422)


def test_a_different_cart_supersedes_the_pending_checkout(db, customer_api, make_book):
    book = make_book("First", on_hand=4)
    other = make_book("Second", on_hand=4)
    db.session.commit()
    customer_api.post("/api/v1/cart/items", json={"book_id": book.id})
    first = customer_api.post("/api/v1/checkout", json={"address": ADDRESS}).get_json()["order"]["number"]
    customer_api.post("/api/v1/cart/items", json={"book_id": other.id})
    second = customer_api.post("/api/v1/checkout", json={"address": ADDRESS}).get_json()["order"]["number"]
    assert first != second
    db.session.expire_all()
    statuses = {o.number: o.status for o in db.session.scalars(select(Order))}
    assert statuses == {first: "cancelled", second: "pending_payment"}
    assert db.session.get(Inventory, book.id).reserved == 1  # one pending checkout at a time


def test_sold_out_before_checkout_is_a_409_and_nothing_is_reserved(db, customer_api, make_book):
    from tests.checkout_helpers import shopper, start

    book = make_book("Last Copy", on_hand=1)
    db.session.commit()
    customer_api.post("/api/v1/cart/items", json={"book_id": book.id})
    start(shopper("quicker"), [(book, 1, "buy", 1)])  # someone else reserves the last copy first
    err = assert_error(customer_api.post("/api/v1/checkout", json={"address": ADDRESS}), 409)
    assert err["code"] == "cart_changed" and "“Last Copy” is out of stock" in err["message"]
    db.session.expire_all()
    row = db.session.get(Inventory, book.id)
    assert (row.on_hand, row.reserved) == (1, 1)
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1


def test_sold_out_between_the_cart_check_and_the_reservation(db, customer_api, make_book, monkeypatch):
    """The reservation itself refuses (another buyer won the race after the cart was priced): sold_out."""
    from webapp.services.inventory import stock

    book = make_book("Raced", on_hand=2)
    db.session.commit()
    customer_api.post("/api/v1/cart/items", json={"book_id": book.id})

    def sold_out(lines, **_):
        raise stock.SoldOut(book.id, 1, 0)

    monkeypatch.setattr(stock, "reserve", sold_out)
    err = assert_error(customer_api.post("/api/v1/checkout", json={"address": ADDRESS}), 409, "sold_out")
    assert "Raced" in err["message"] and "just sold out" in err["message"]
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0


def test_checkout_refusals(app, db, auth, customer_api, make_book):
    from webapp.services.people import accounts

    assert_error(customer_api.post("/api/v1/checkout", json={"address": ADDRESS}), 409, "cart_empty")
    book = make_book("Refusals", on_hand=3)
    owner = auth.user("owner")
    theirs = accounts.save_address(owner, ADDRESS)
    db.session.commit()
    customer_api.post("/api/v1/cart/items", json={"book_id": book.id})
    assert_error(customer_api.post("/api/v1/checkout", json={"address_id": theirs.id}), 404, "not_found")
    assert_error(customer_api.post("/api/v1/checkout", json={}), 422, "validation_failed")
    assert_error(customer_api.post("/api/v1/checkout", json={"address_id": theirs.id, "address": ADDRESS}), 422)
    err = assert_error(customer_api.post("/api/v1/checkout", json={"address": {**ADDRESS, "postcode": "12<34",
                                                                               "country": "U1", "city": "  "}}),
                       422, "validation_failed")
    assert set(err["fields"]) == {"address.postcode", "address.country", "address.city"}
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0

    auth.user("unverified", verified=False)
    late = ApiClient(app)
    assert late.sign_in("unverified").status_code == 200
    late.post("/api/v1/cart/items", json={"book_id": book.id})
    assert_error(late.post("/api/v1/checkout", json={"address": ADDRESS}), 403, "email_unverified")


def test_checkout_to_a_saved_address(db, customer_api, make_book):
    from webapp.models import User
    from webapp.services.people import accounts

    book = make_book("Saved", on_hand=3)
    mine = accounts.save_address(db.session.get(User, _user_id(db, "reader1")),
                                 {**ADDRESS, "full_name": "Saved Person", "phone": "+1 555"})
    db.session.commit()
    customer_api.post("/api/v1/cart/items", json={"book_id": book.id})
    r = customer_api.post("/api/v1/checkout", json={"address_id": mine.id})
    assert r.status_code == 201
    assert r.get_json()["order"]["shipping_address"]["full_name"] == "Saved Person"
    assert r.get_json()["order"]["shipping_address"]["phone"] == "+1 555"


def test_the_wallet_pays_it_all(db, customer_api, make_book):
    from webapp.services.circulation import wallet

    book = make_book("Wallet", on_hand=3, price_cents=4000)
    uid = _user_id(db, "reader1")
    wallet.credit(uid, 10_000, "adjustment", reference="gift")
    db.session.commit()
    customer_api.post("/api/v1/cart/items", json={"book_id": book.id})
    r = customer_api.post("/api/v1/checkout", json={"address": ADDRESS, "use_wallet": True})
    assert r.status_code == 201
    body = r.get_json()
    assert body["payment_url"] is None and body["order"]["status"] == "paid"
    assert body["order"]["paid_from_wallet"] == body["order"]["total"]
    assert wallet.balance(uid) == 10_000 - body["order"]["total"]["cents"]
    db.session.expire_all()
    assert (db.session.get(Inventory, book.id).on_hand, db.session.get(Inventory, book.id).reserved) == (2, 0)
    assert _lines(db, uid) == {}  # a paid order's lines leave the cart


# ---- buy now ----

def test_buy_now_checks_out_one_book_and_keeps_the_cart(db, customer_api, make_book):
    keep = make_book("In Cart", on_hand=3)
    now = make_book("Right Now", on_hand=3, price_cents=2000)
    db.session.commit()
    uid = _user_id(db, "reader1")
    customer_api.post("/api/v1/cart/items", json={"book_id": keep.id})
    r = customer_api.post("/api/v1/buy-now", json={"book_id": now.id, "quantity": 2, "address": ADDRESS})
    assert r.status_code == 201, r.get_json()
    order = r.get_json()["order"]
    assert [(line["title"], line["quantity"]) for line in order["lines"]] == [("Right Now", 2)]
    assert r.get_json()["payment_url"].startswith("http://shop.test/pay/test/cs_test_")
    assert _lines(db, uid) == {(keep.id, "buy"): 1}
    assert db.session.get(Inventory, now.id).reserved == 2


def test_buy_now_refusals(db, customer_api, make_book):
    few = make_book("Few", on_hand=2)
    db.session.commit()
    assert_error(customer_api.post("/api/v1/buy-now", json={"book_id": 999_999, "address": ADDRESS}), 404)
    err = assert_error(customer_api.post("/api/v1/buy-now", json={"book_id": few.id, "quantity": 3,
                                                                  "address": ADDRESS}), 409, "cart_refused")
    assert "Only 2 left" in err["message"]
    assert_error(customer_api.post("/api/v1/buy-now", json={"book_id": few.id}), 422)
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0


@pytest.mark.parametrize("path", ["/api/v1/checkout", "/api/v1/buy-now"])
def test_checkout_routes_need_a_token(api, path):
    assert_error(api.post(path, json={"address": ADDRESS}), 401)


def pay_on_the_test_gateway(app, payment_url: str, card: str = "4242424242424242"):
    """Pay as the customer would in a browser: the offline gateway's page, a CSRF token, a card."""
    browser = app.test_client()
    path = payment_url.removeprefix("http://shop.test")
    page = browser.get(path).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'"X-CSRFToken": "([^"]+)"', page)
    return browser.post(path, data={"card_number": card, "exp_month": 12, "exp_year": 2099, "cvc": "123",
                                    "name": "Ann Reader", "csrf_token": token.group(1)})


def test_a_redis_that_cannot_keep_the_code_is_a_503_never_a_checkout_without_it(db, customer_api, make_book,
                                                                                 monkeypatch):
    import redis

    from webapp.services.platform import queues

    book = make_book("No Redis", on_hand=3)
    db.session.add(DiscountCode(code="ANY", kind="percent", value=10))
    db.session.commit()
    customer_api.post("/api/v1/cart/items", json={"book_id": book.id})

    class Down:
        def __getattr__(self, name):
            def fail(*args, **kwargs):
                raise redis.ConnectionError("Connection refused")
            return fail

    monkeypatch.setattr(queues, "connection", lambda: Down())
    assert_error(customer_api.get("/api/v1/cart"), 503, "unavailable")
    assert_error(customer_api.put("/api/v1/cart/code", json={"code": "ANY"}), 503, "unavailable")
    assert_error(customer_api.post("/api/v1/checkout", json={"address": ADDRESS}), 503, "unavailable")
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0
    # buy now takes no code: it does not need Redis
    assert customer_api.post("/api/v1/buy-now", json={"book_id": book.id, "address": ADDRESS}).status_code == 201
