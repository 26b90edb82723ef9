"""The JSON API's orders: the customer's list (cursor pages, newest first), one order (anyone else's is a 404),
cancelling (services.commerce.orders.cancel, as the website's orders page), and a payment through the offline
test gateway showing up as a paid order."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tests.api.conftest import ApiClient, assert_error
from tests.api.test_shopping_api import ADDRESS, pay_on_the_test_gateway
from webapp.models import Inventory, Order, OrderEvent, User, utcnow


def _uid(db, username="reader1"):
    return db.session.scalar(select(User.id).where(User.username == username))


def _checkout(api, book, quantity=1, **extra):
    r = api.post("/api/v1/buy-now", json={"book_id": book.id, "quantity": quantity, "address": ADDRESS, **extra})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_orders_need_a_token(api):
    assert_error(api.get("/api/v1/orders"), 401, "unauthorized")
    assert_error(api.get("/api/v1/orders/FO-AAAA-BBBB-CCCC"), 401)
    assert_error(api.post("/api/v1/orders/FO-AAAA-BBBB-CCCC/cancel"), 401)


def test_the_list_is_newest_first_in_cursor_pages_and_only_mine(app, db, auth, customer_api, make_book):
    from tests.checkout_helpers import settle, shopper, start

    book = make_book("Listed", on_hand=20)
    db.session.commit()
    me = db.session.get(User, _uid(db))
    numbers = []
    for i in range(5):  # paid orders (a new checkout would supersede a pending one)
        order = start(me, [(book, 1, "buy", 1)])
        settle(order)
        order.created_at = utcnow() - timedelta(hours=10 - i)
        db.session.commit()
        numbers.append(order.number)
    start(shopper("someone"), [(book, 1, "buy", 1)])  # not mine

    seen, cursor = [], None
    while True:
        r = customer_api.get("/api/v1/orders", query_string={"limit": 2, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        assert len(body["items"]) <= 2 and body["page"]["limit"] == 2
        seen += [o["number"] for o in body["items"]]
        cursor = body["page"]["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(numbers))
    item = customer_api.get("/api/v1/orders").get_json()["items"][0]
    assert item["status"] == "paid" and item["total"]["currency"] == "USD" and item["timeline"] == []
    assert_error(customer_api.get("/api/v1/orders", query_string={"cursor": "nonsense"}), 422, "validation_failed")
    # a cursor past every date reads from the newest (services.platform.paging.keyset, as every keyset list)
    far = customer_api.get("/api/v1/orders", query_string={"cursor": "999999999999999999_1"}).get_json()
    assert far["items"][0]["number"] == numbers[-1]
    assert_error(customer_api.get("/api/v1/orders", query_string={"limit": 0}), 422)


def test_another_customers_order_is_a_404_for_reading_and_cancelling(app, db, auth, customer_api, make_book):
    book = make_book("Private", on_hand=5)
    db.session.commit()
    auth.user("reader2")
    other = ApiClient(app)
    assert other.sign_in("reader2").status_code == 200
    theirs = _checkout(other, book)["order"]["number"]

    assert_error(customer_api.get(f"/api/v1/orders/{theirs}"), 404, "not_found")
    assert_error(customer_api.post(f"/api/v1/orders/{theirs}/cancel"), 404, "not_found")
    assert_error(customer_api.get("/api/v1/orders/FO-NOPE-NOPE-NOPE"), 404, "not_found")
    assert customer_api.get("/api/v1/orders").get_json()["items"] == []
    db.session.expire_all()
    assert db.session.scalar(select(Order.status).where(Order.number == theirs)) == "pending_payment"
    assert other.get(f"/api/v1/orders/{theirs}").status_code == 200  # the owner sees it


def test_a_full_payment_through_the_offline_gateway_ends_in_a_paid_order(app, db, customer_api, make_book, run_jobs):
    book = make_book("Paid For", on_hand=4, price_cents=1500)
    db.session.commit()
    customer_api.post("/api/v1/cart/items", json={"book_id": book.id, "quantity": 2})
    started = customer_api.post("/api/v1/checkout", json={"address": ADDRESS}).get_json()
    number = started["order"]["number"]
    assert customer_api.get(f"/api/v1/orders/{number}").get_json()["payment_url"] == started["payment_url"]

    r = pay_on_the_test_gateway(app, started["payment_url"])
    assert r.status_code == 303 and r.headers["Location"] == f"http://shop.test/checkout/success/{number}"
    run_jobs()  # the gateway's signed webhook event, delivered through the outbox

    body = customer_api.get(f"/api/v1/orders/{number}").get_json()
    assert body["status"] == "paid" and body["paid_at"] and body["payment_url"] is None
    assert [(line["title"], line["quantity"], line["total"]["cents"]) for line in body["lines"]] == [
        ("Paid For", 2, 3000)]
    assert [e["status"] for e in body["timeline"]] == ["pending_payment", "paid"]
    assert body["can_cancel"] is True
    db.session.expire_all()
    row = db.session.get(Inventory, book.id)
    assert (row.on_hand, row.reserved) == (2, 0)
    assert customer_api.get("/api/v1/cart").get_json()["lines"] == []  # paid lines leave the cart


def test_cancelling_an_unpaid_order_gives_the_copies_back(db, customer_api, make_book):
    book = make_book("Changed Mind", on_hand=3)
    db.session.commit()
    number = _checkout(customer_api, book, 2)["order"]["number"]
    assert db.session.get(Inventory, book.id).reserved == 2
    r = customer_api.post(f"/api/v1/orders/{number}/cancel")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "cancelled" and r.get_json()["can_cancel"] is False
    assert r.get_json()["payment_url"] is None
    db.session.expire_all()
    row = db.session.get(Inventory, book.id)
    assert (row.on_hand, row.reserved) == (3, 0)
    err = assert_error(customer_api.post(f"/api/v1/orders/{number}/cancel"), 409, "order_state")
    assert "cannot be cancelled" in err["message"]


def test_cancelling_a_card_paid_order_refunds_the_card_as_the_website_does(app, db, customer_api, make_book,
                                                                          run_jobs):
    book = make_book("Regret", on_hand=4)
    db.session.commit()
    started = _checkout(customer_api, book)
    number = started["order"]["number"]
    pay_on_the_test_gateway(app, started["payment_url"])
    run_jobs()
    r = customer_api.post(f"/api/v1/orders/{number}/cancel", json={"refund_to": "card"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "cancelled"  # the card refund is on its way through the outbox
    run_jobs()
    body = customer_api.get(f"/api/v1/orders/{number}").get_json()
    assert body["status"] == "refunded"
    assert any("to your card" in (e["note"] or "") for e in body["timeline"])  # in the customer's words
    db.session.expire_all()
    order = db.session.scalar(select(Order).where(Order.number == number))
    assert order.refunded_cents == order.total_cents
    assert db.session.get(Inventory, book.id).on_hand == 4


def test_cancelling_a_paid_order_to_the_wallet(db, customer_api, make_book):
    from tests.checkout_helpers import settle
    from webapp.services.circulation import wallet

    book = make_book("To Wallet", on_hand=4, price_cents=2000)
    db.session.commit()
    number = _checkout(customer_api, book)["order"]["number"]
    order = db.session.scalar(select(Order).where(Order.number == number))
    settle(order)
    db.session.commit()
    r = customer_api.post(f"/api/v1/orders/{number}/cancel", json={"refund_to": "wallet"})
    assert r.status_code == 200 and r.get_json()["status"] == "refunded"
    assert wallet.balance(_uid(db)) == order.total_cents
    assert_error(customer_api.post(f"/api/v1/orders/{number}/cancel", json={"refund_to": "bank"}), 422)


def test_a_shipped_order_cannot_be_cancelled(db, auth, customer_api, make_book):
    from tests.checkout_helpers import settle
    from webapp.services.commerce import orders

    book = make_book("Shipped", on_hand=4)
    staff = auth.user("staffer", role="admin")
    number = _checkout(customer_api, book)["order"]["number"]
    order = db.session.scalar(select(Order).where(Order.number == number))
    settle(order)
    orders.mark_shipped(order, actor=staff)
    db.session.commit()
    before = db.session.scalar(select(OrderEvent.id).order_by(OrderEvent.id.desc()).limit(1))
    err = assert_error(customer_api.post(f"/api/v1/orders/{number}/cancel"), 409, "order_state")
    assert "shipped" in err["message"]
    db.session.expire_all()
    assert db.session.scalar(select(Order.status).where(Order.number == number)) == "shipped"
    assert db.session.scalar(select(OrderEvent.id).order_by(OrderEvent.id.desc()).limit(1)) == before
    assert customer_api.get(f"/api/v1/orders/{number}").get_json()["can_cancel"] is False


def test_a_payment_made_before_the_page_closed_keeps_the_order(app, db, customer_api, make_book, run_jobs):
    """Paid in the browser a moment before the cancel arrived (the webhook not yet in): the order stands."""
    from tests.checkout_helpers import pay

    book = make_book("Raced Cancel", on_hand=4)
    db.session.commit()
    number = _checkout(customer_api, book)["order"]["number"]
    pay(db.session.scalar(select(Order).where(Order.number == number)))  # the webhook has not arrived
    assert_error(customer_api.post(f"/api/v1/orders/{number}/cancel"), 409, "already_paid")
    assert customer_api.get(f"/api/v1/orders/{number}").get_json()["status"] == "paid"
