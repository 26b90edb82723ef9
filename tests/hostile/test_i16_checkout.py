"""Issue 16, hostile checkout: the delivery method forged or flipped between the confirm page and the payment.
Whatever is sent, the order records one method and charges that method's shipping; never a 500."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from webapp.models import Order, User

ADDRESS = {"address_id": "new", "full_name": "Ann Reader", "line1": "1 Long Road", "city": "Leeds",
           "postcode": "LS1 1AA", "country": "GB"}


def _token(client, query=""):
    page = client.get(f"/checkout{query}").get_data(as_text=True)
    return re.search(r'name="token" type="hidden" value="([^"]+)"', page).group(1)


@pytest.fixture
def shopper_cart(client, auth, make_book):
    book = make_book("Flip Copy", on_hand=3, price_cents=1500)
    auth.user("flipper")
    auth.login("flipper")
    auth.post("/cart/add", {"book_id": book.id, "mode": "rent", "days": 3})
    return book


def _orders(db):
    db.session.expire_all()
    user = db.session.scalar(select(User).where(User.username == "flipper"))
    return db.session.scalars(select(Order).where(Order.user_id == user.id)).all()


def _consistent(app, order):
    if order.delivery_method == "collect":
        assert order.shipping_cents == 0 and order.ship_line1 == app.config["SHOP_ADDRESS"]["line1"]
    else:
        assert order.delivery_method == "post" and order.shipping_cents > 0 and order.ship_line1 == "1 Long Road"
    assert order.total_cents == order.subtotal_cents - order.discount_cents + order.shipping_cents


@pytest.mark.parametrize("query,form", [("?delivery_method=collect", "post"), ("?delivery_method=post", "collect"),
                                        ("", "teleport"), ("?delivery_method=teleport", "collect"),
                                        ("", "Collect"), ("", ""), ("?delivery_method=", "post")])
def test_a_flipped_or_forged_delivery_method_charges_what_the_order_records(app, client, auth, db, shopper_cart,
                                                                           query, form):
    token = _token(client)
    r = auth.post(f"/checkout{query}", {**ADDRESS, "delivery_method": form, "token": token})
    assert r.status_code in (200, 303, 400), r.status_code
    for order in _orders(db):
        _consistent(app, order)


def test_the_confirm_page_shows_collect_then_the_post_form_is_sent_the_charge_is_posts(app, client, auth, db,
                                                                                      shopper_cart):
    token = _token(client, "?delivery_method=collect")
    r = auth.post("/checkout", {**ADDRESS, "delivery_method": "post", "token": token})
    assert r.status_code == 303
    [order] = _orders(db)
    assert order.delivery_method == "post"
    _consistent(app, order)
    again = auth.post("/checkout", {"delivery_method": "collect", "token": token})  # same form, flipped
    assert again.status_code in (200, 303)
    orders = _orders(db)
    for o in orders:
        _consistent(app, o)
    assert sum(o.delivery_method == "post" for o in orders) == 1


def test_api_checkout_with_a_forged_delivery_method_is_refused(app, auth, db, make_book):
    from tests.api.conftest import ApiClient

    book = make_book("Api Flip", on_hand=3, price_cents=1500)
    auth.user("apiflip")
    api = ApiClient(app)
    assert api.sign_in("apiflip").status_code == 200
    for method in ("teleport", "COLLECT", "", None, 1):
        body = {"items": [{"book_id": book.id, "mode": "rent", "days": 3, "quantity": 1}],
                "delivery_method": method}
        r = api.post("/api/v1/checkout", json=body)
        assert r.status_code in (400, 422), (method, r.status_code, r.get_json())
    assert not db.session.scalars(select(Order).where(Order.user_id == db.session.scalar(
        select(User.id).where(User.username == "apiflip")))).all()
