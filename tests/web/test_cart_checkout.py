import json
import re

from sqlalchemy import select

from tests.conftest import PASSWORD
from webapp.models import DiscountCode, Inventory, Order, OutboundEmail


def csrf(client):
    return re.search(r'"X-CSRFToken": "([^"]+)"', client.get("/genres").get_data(as_text=True)).group(1)


def post(client, url, data=None, **kwargs):
    data = dict(data or {})
    data["csrf_token"] = csrf(client)
    return client.post(url, data=data, **kwargs)


def test_htmx_add_to_cart_updates_badge_through_hx_trigger(client, make_book):
    book = make_book("Htmx Book", on_hand=3)
    r = post(client, "/cart/add", {"book_id": book.id, "mode": "buy"}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and "Added" in r.get_data(as_text=True) and "<html" not in r.get_data(as_text=True)
    assert json.loads(r.headers["HX-Trigger"]) == {"cartUpdated": {"count": 1}}
    assert 'data-testid="cart-count">1<' in client.get("/cart/mini").get_data(as_text=True)


def test_add_without_javascript_redirects_with_a_message(client, make_book):
    book = make_book("Plain Add", on_hand=3)
    r = post(client, "/cart/add", {"book_id": book.id, "mode": "rent", "days": 2, "next": f"/books/{book.id}"})
    assert r.status_code == 303 and r.headers["Location"] == f"/books/{book.id}"
    body = client.get("/cart").get_data(as_text=True)
    assert "Plain Add" in body and "for 2 days" in body


def test_cart_quantity_capped_with_a_clear_message(client, make_book):
    book = make_book("Two Left", on_hand=2)
    r = post(client, "/cart/add", {"book_id": book.id, "mode": "buy", "quantity": 5}, headers={"HX-Request": "true"})
    assert "Only 2 left" in r.get_data(as_text=True)
    r = post(client, "/cart/add", {"book_id": book.id, "mode": "buy"}, headers={"HX-Request": "true"})
    assert "Only 2 left" in r.get_data(as_text=True) or "No more" in r.get_data(as_text=True)


def test_cart_update_remove_and_switch_mode_with_htmx(client, make_book):
    book = make_book("Switcher", on_hand=5, price_cents=2000)
    post(client, "/cart/add", {"book_id": book.id, "mode": "buy"})
    r = post(client, "/cart/update", {"book_id": book.id, "mode": "buy", "quantity": 3}, headers={"HX-Request": "true"})
    body = r.get_data(as_text=True)
    assert "$60.00" in body and json.loads(r.headers["HX-Trigger"])["cartUpdated"]["count"] == 3
    r = post(client, "/cart/update", {"book_id": book.id, "mode": "buy", "new_mode": "rent"},
             headers={"HX-Request": "true"})
    assert "for 7 days" in r.get_data(as_text=True)
    r = post(client, "/cart/update", {"book_id": book.id, "mode": "rent", "quantity": "abc"},
             headers={"HX-Request": "true"})
    assert "Please enter a quantity" in r.get_data(as_text=True)
    r = post(client, "/cart/remove", {"book_id": book.id, "mode": "rent"}, headers={"HX-Request": "true"})
    assert "Your cart is empty" in r.get_data(as_text=True)


def test_bad_cart_input_never_errors(client, make_book):
    for data in ({"book_id": "x"}, {"book_id": 999999, "mode": "buy"}, {"book_id": 1, "mode": "steal"}, {}):
        r = post(client, "/cart/add", data)
        assert r.status_code == 303
    assert post(client, "/cart/update", {"book_id": 5, "mode": "buy", "quantity": 2}).status_code == 303
    with client.session_transaction() as s:
        s["cart"] = [{"book_id": "garbage"}, {"nonsense": True}]
    assert client.get("/cart").status_code == 200


def test_discount_code_inline_error_and_success(client, db, make_book):
    book = make_book("Discounted", on_hand=5, price_cents=4000)
    db.session.add(DiscountCode(code="SPRING", kind="percent", value=25))
    db.session.commit()
    post(client, "/cart/add", {"book_id": book.id, "mode": "buy"})
    r = post(client, "/cart/discount", {"code": "nope"}, headers={"HX-Request": "true"})
    assert "is not a valid discount code" in r.get_data(as_text=True)
    r = post(client, "/cart/discount", {"code": "spring"}, headers={"HX-Request": "true"})
    body = r.get_data(as_text=True)
    assert "-$10.00" in body and "$34.99" in body  # $40 - 25% + $4.99 shipping


def test_visitor_cart_is_merged_at_sign_in(client, auth, make_book):
    book = make_book("Merge Me", on_hand=5)
    user = auth.user("merger")
    from webapp.extensions import db
    from webapp.services.commerce import cart as cart_service

    items = []
    cart_service.add(items, book.id, quantity=1)
    cart_service.save_user_items(user.id, items)
    db.session.commit()
    post(client, "/cart/add", {"book_id": book.id, "mode": "buy", "quantity": 2})
    auth.login("merger")
    body = client.get("/cart").get_data(as_text=True)
    assert 'value="3"' in body and "Merge Me" in body


def test_checkout_is_open_to_guests_and_asks_a_signed_in_customer_to_verify(client, auth, make_book):
    book = make_book("Gate", on_hand=2)
    post(client, "/cart/add", {"book_id": book.id, "mode": "buy"})
    r = client.get("/checkout")
    assert r.status_code == 200 and 'name="email"' in r.get_data(as_text=True)  # a visitor checks out as a guest
    auth.user("unverified_buyer", verified=False)
    auth.login("unverified_buyer")
    r = client.get("/checkout")
    assert r.status_code == 302 and "/verify" in r.headers["Location"]
    assert "Gate" in client.get("/cart").get_data(as_text=True)  # the cart survived sign-in


def _checkout_through_the_site(client, auth, db, run_jobs, book, card="4242424242424242"):
    post(client, "/cart/add", {"book_id": book.id, "mode": "buy", "quantity": 2})
    r = post(client, "/checkout", {"address_id": "new", "full_name": "Ann Reader", "line1": "1 Main St",
                                   "city": "Springfield", "postcode": "12345", "country": "us",
                                   "save_address": "y"})
    assert r.status_code == 303 and r.headers["Location"].startswith("/pay/test/cs_test_")
    pay_url = r.headers["Location"]
    page = client.get(pay_url).get_data(as_text=True)
    assert "Pay $" in page
    r = post(client, pay_url, {"card_number": card, "exp_month": 12, "exp_year": 2099, "cvc": "123",
                               "name": "Ann Reader"})
    return r, pay_url


def test_full_checkout_through_the_site(client, auth, db, make_book, run_jobs):
    book = make_book("Checkout Book", on_hand=4, price_cents=1500)
    auth.user("buyer")
    auth.login("buyer")
    r, _ = _checkout_through_the_site(client, auth, db, run_jobs, book)
    assert r.status_code == 303 and "/checkout/success/FO-" in r.headers["Location"]
    success_url = r.headers["Location"].removeprefix("http://shop.test")
    order = db.session.scalars(select(Order)).one()
    # the success page asks the gateway server-side, so it may already show "paid"
    page = client.get(success_url).get_data(as_text=True)
    assert "Payment received" in page or "Waiting for the payment" in page
    run_jobs()
    status = client.get(f"/checkout/success/{order.number}/status", headers={"HX-Request": "true"})
    assert status.status_code == 286 and "Payment received" in status.get_data(as_text=True)
    assert "Your cart is empty" in client.get("/cart").get_data(as_text=True)
    detail = client.get(f"/orders/{order.number}").get_data(as_text=True)
    assert "paid" in detail and "Checkout Book" in detail and "$30.00" in detail
    assert client.get(f"/orders/{order.number}/receipt").status_code == 200
    assert "Springfield" in client.get("/account/addresses").get_data(as_text=True)  # saved
    run_jobs()
    assert db.session.scalars(select(OutboundEmail).where(OutboundEmail.subject.contains("receipt"))).one()


def test_declined_card_then_back_to_cart_releases_stock(client, auth, db, make_book, run_jobs):
    book = make_book("Declined Book", on_hand=4)
    auth.user("buyer")
    auth.login("buyer")
    r, pay_url = _checkout_through_the_site(client, auth, db, run_jobs, book, card="4000 0000 0000 0002")
    assert r.status_code == 200 and "Your card was declined." in r.get_data(as_text=True)
    order = db.session.scalars(select(Order)).one()
    assert db.session.get(Inventory, book.id).reserved == 2
    assert "Payment not completed" in client.get(f"/checkout/cancelled/{order.number}").get_data(as_text=True)
    r = post(client, f"/checkout/cancelled/{order.number}")
    assert r.status_code == 303
    db.session.expire_all()
    row = db.session.get(Inventory, book.id)
    assert (row.on_hand, row.reserved) == (4, 0)
    assert "Declined Book" in client.get("/cart").get_data(as_text=True)


def test_buy_now_skips_the_cart(client, auth, db, make_book):
    keep = make_book("In Cart", on_hand=3)
    now = make_book("Right Now", on_hand=3)
    auth.user("hasty")
    auth.login("hasty")
    post(client, "/cart/add", {"book_id": keep.id, "mode": "buy"})
    r = post(client, "/buy-now", {"book_id": now.id, "mode": "buy"})
    assert r.status_code == 303 and r.headers["Location"] == "/checkout?buy_now=1"
    page = client.get("/checkout?buy_now=1").get_data(as_text=True)
    assert "Right Now" in page and "In Cart" not in page
    assert "In Cart" in client.get("/cart").get_data(as_text=True)


def test_orders_are_private(client, auth, db, make_book):
    from tests.checkout_helpers import shopper, start

    book = make_book(on_hand=3)
    owner = shopper("owner")
    order = start(owner, [(book, 1, "buy", 1)])
    auth.user("snoop")
    auth.login("snoop")
    for url in (f"/orders/{order.number}", f"/orders/{order.number}/receipt", f"/checkout/success/{order.number}",
                f"/checkout/cancelled/{order.number}"):
        assert client.get(url).status_code == 404, url
    assert post(client, f"/orders/{order.number}/cancel").status_code == 404
    assert order.number not in client.get("/orders").get_data(as_text=True)
    assert db.session.get(Order, order.id).status == "pending_payment"


def test_customer_cancels_paid_order_and_gets_refund(client, auth, db, make_book, run_jobs):
    book = make_book("Regret", on_hand=4)
    auth.user("buyer")
    auth.login("buyer")
    _checkout_through_the_site(client, auth, db, run_jobs, book)
    run_jobs()
    order = db.session.scalars(select(Order)).one()
    r = post(client, f"/orders/{order.number}/cancel")
    assert r.status_code == 303
    run_jobs()
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "refunded"
    assert db.session.get(Inventory, book.id).on_hand == 4
    assert "refunded" in client.get(f"/orders/{order.number}").get_data(as_text=True)


def test_pay_page_is_404_when_stripe_is_configured(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "sk_test_dummy")
    assert client.get("/pay/test/cs_test_x").status_code == 404


def test_admin_reads_orders_of_deleted_accounts(client, auth, admin_client, db, make_book, run_jobs):
    from tests.checkout_helpers import pay, start
    from webapp.services.closure import deletion

    book = make_book(on_hand=3)
    user = auth.user("gone_soon")
    order = start(user, [(book, 1, "buy", 1)])
    pay(order)
    run_jobs()
    db.session.execute(Order.__table__.update().values(status="delivered"))
    db.session.commit()
    deletion.delete_account(db.session.get(type(user), user.id), PASSWORD)
    db.session.commit()
    page = admin_client.get(f"/admin/orders/{order.number}").get_data(as_text=True)
    assert order.number in page and "Deleted customer" in page and "gone_soon@example.com" not in page
    assert "delivered" in page


def test_back_to_cart_after_paying_in_another_tab_confirms_the_payment(client, auth, db, make_book, run_jobs):
    from tests.checkout_helpers import pay, start
    from webapp.models import User

    book = make_book("Two Tabs", on_hand=3)
    auth.user("tabby")
    auth.login("tabby")
    user = db.session.scalars(select(User).where(User.username == "tabby")).one()
    order = start(user, [(book, 1, "buy", 1)])
    pay(order)  # paid in the other tab; the webhook has not arrived yet
    r = post(client, f"/checkout/cancelled/{order.number}")
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/checkout/success/{order.number}")
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "paid"
    assert db.session.get(Inventory, book.id).on_hand == 2


def test_pay_with_wallet_through_the_site_and_refund_to_wallet(client, auth, db, make_book):
    from webapp.services.circulation import wallet

    book = make_book("Wallet Paid", on_hand=3, price_cents=4000)
    user = auth.user("walletuser")
    wallet.credit(user.id, 5000, "adjustment", reference="welcome")
    db.session.commit()
    auth.login("walletuser")
    post(client, "/cart/add", {"book_id": book.id, "mode": "buy"})
    page = client.get("/checkout").get_data(as_text=True)
    assert "Pay with my wallet ($50.00 available)" in page
    r = post(client, "/checkout", {"address_id": "new", "full_name": "Wal Let", "line1": "2 Coin St", "city": "Mint",
                                   "postcode": "99999", "country": "US", "use_wallet": "y"})
    assert r.status_code == 303 and "/checkout/success/" in r.headers["Location"]
    order = db.session.scalars(select(Order)).one()
    assert "Payment received" in client.get(r.headers["Location"].removeprefix("http://shop.test")).get_data(as_text=True)
    assert wallet.balance(user.id) == 5000 - order.total_cents
    assert "refund to my wallet" in client.get(f"/orders/{order.number}").get_data(as_text=True)
    post(client, f"/orders/{order.number}/cancel")
    db.session.expire_all()
    assert wallet.balance(user.id) == 5000 and db.session.get(Order, order.id).status == "refunded"
    assert "Order " + order.number in client.get("/account/wallet").get_data(as_text=True)


def _checkout_form(client, **fields):
    page = client.get("/checkout").get_data(as_text=True)
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', page).group(1)
    data = {"address_id": "new", "full_name": "Ann Reader", "line1": "1 Main St", "city": "Springfield",
            "postcode": "12345", "country": "us", "token": token} | fields
    return data


def test_a_double_submitted_checkout_makes_one_order_and_one_payment_page(client, auth, db, make_book):
    book = make_book("Double Click", on_hand=5, price_cents=1500)
    auth.user("clicker")
    auth.login("clicker")
    post(client, "/cart/add", {"book_id": book.id, "mode": "buy", "quantity": 1})
    data = _checkout_form(client)
    first, second = post(client, "/checkout", data), post(client, "/checkout", data)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    # a second tab (a new form, a new token) with the same cart lands on the same page too
    third = post(client, "/checkout", _checkout_form(client))
    assert third.headers["Location"] == first.headers["Location"]
    assert len(db.session.scalars(select(Order)).all()) == 1
    assert db.session.get(Inventory, book.id).reserved == 1


def test_a_double_submitted_wallet_checkout_pays_once(client, auth, db, make_book):
    from webapp.services.circulation import wallet

    book = make_book("Wallet Click", on_hand=5, price_cents=4000)
    user = auth.user("walleter")
    wallet.credit(user.id, 10000, "adjustment", reference="gift")
    db.session.commit()
    auth.login("walleter")
    post(client, "/cart/add", {"book_id": book.id, "mode": "buy", "quantity": 1})
    data = _checkout_form(client, use_wallet="y")
    first, second = post(client, "/checkout", data), post(client, "/checkout", data)
    number = db.session.scalars(select(Order)).one().number
    assert [r.headers["Location"].removeprefix("http://shop.test") for r in (first, second)] == [
        f"/checkout/success/{number}"] * 2
    assert wallet.balance(user.id) == 6000
    assert db.session.scalars(select(Order)).one().status == "paid"


def test_a_double_clicked_pay_button_charges_once(client, auth, db, make_book, run_jobs):
    from webapp.models import GatewaySession, OutboxMessage

    book = make_book("Pay Twice", on_hand=5, price_cents=1500)
    auth.user("payer")
    auth.login("payer")
    r, pay_url = _checkout_through_the_site(client, auth, db, run_jobs, book)
    assert r.status_code == 303
    session = db.session.scalars(select(GatewaySession)).one()
    intent = session.payment_intent_id
    again = post(client, pay_url, {"card_number": "4242424242424242", "exp_month": 12, "exp_year": 2099,
                                   "cvc": "123", "name": "Ann Reader"})
    assert again.status_code == 303 and again.headers["Location"] == r.headers["Location"]  # the first result
    db.session.expire_all()
    assert db.session.scalars(select(GatewaySession)).one().payment_intent_id == intent
    assert len(db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "test_gateway_event")).all()) == 1


def test_the_success_page_says_what_happened_to_the_money(client, auth, db, make_book):
    from tests.checkout_helpers import settle, start
    from webapp.models import User
    from webapp.services.commerce import fulfilment

    book = make_book("Told", on_hand=3)
    auth.user("told")
    auth.login("told")
    user = db.session.scalars(select(User).where(User.username == "told")).one()
    order = start(user, [(book, 1, "buy", 1)])
    fulfilment.expire(order.payment_session_id)
    db.session.commit()
    page = client.get(f"/checkout/success/{order.number}").get_data(as_text=True)
    assert "This checkout expired before it was paid. No payment was taken." in page
    assert settle(order, "pi_short", amount=1) == "mismatch"  # a payment that cannot pay it
    db.session.commit()
    page = client.get(f"/checkout/success/{order.number}").get_data(as_text=True)
    assert "the payment is being refunded to your card in full" in page and "No payment was taken" not in page
    assert "being refunded to your card" in client.get(f"/checkout/cancelled/{order.number}").get_data(as_text=True)
