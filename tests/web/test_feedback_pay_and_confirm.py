"""Issue 17 (feedback): the test gateway's page itemises the order and adds up; cancel, refund and delete forms ask
for a confirmation (a dialog with JavaScript, a required checkbox without); rentals are worded by the day."""
import re

from tests.checkout_helpers import ADDRESS, shopper
from webapp.extensions import db
from webapp.models import DiscountCode, Order
from webapp.services.circulation import wallet
from webapp.services.commerce import cart, checkout


def _cents(html: str, testid: str) -> list[int]:
    return [int(c) for c in re.findall(rf'data-testid="{testid}" data-cents="(-?\d+)"', html)]


def _order_with_everything(app, make_book, tax_bps=0) -> Order:
    app.config["TAX_RATE_BPS"] = tax_bps
    user = shopper("payer")
    buy = make_book("Bought Book", price_cents=1200, on_hand=5)
    rent = make_book("Rented Book", price_cents=2100, on_hand=5)
    db.session.add(DiscountCode(code="TENOFF", kind="percent", value=10))
    wallet.credit(user.id, 300, "top_up", reference="opening")
    db.session.commit()
    items: list[cart.CartItem] = []
    cart.add(items, buy.id, mode="buy", quantity=1, user=user)
    cart.add(items, rent.id, mode="rent", quantity=1, days=3, user=user)
    order, url = checkout.start_checkout(user, items, ADDRESS, code="TENOFF", use_wallet=True,
                                         success_url=lambda o: "http://shop.test/ok", cancel_url=lambda o: "http://shop.test/no")
    db.session.commit()
    assert url == f"/pay/test/{order.payment_session_id}"
    return order


def test_payment_page_itemises_and_adds_up(app, client, make_book):
    try:
        order = _order_with_everything(app, make_book, tax_bps=825)
        html = client.get(f"/pay/test/{order.payment_session_id}").get_data(as_text=True)
    finally:
        app.config["TAX_RATE_BPS"] = 0
    lines, [subtotal] = _cents(html, "pay-line"), _cents(html, "pay-subtotal")
    minus, plus = _cents(html, "pay-minus"), _cents(html, "pay-plus")
    [total], [from_wallet], [to_pay] = _cents(html, "pay-total"), _cents(html, "pay-minus-wallet"), _cents(html, "pay-to-pay")
    assert sum(lines) == subtotal
    assert order.shipping_cents > 0 and order.tax_cents > 0 and order.discount_cents > 0 and order.wallet_cents == 300
    assert set(plus) == {order.shipping_cents, order.tax_cents} and len(plus) == 2
    assert subtotal - sum(minus) + sum(plus) == total == order.total_cents
    assert total - from_wallet == to_pay == order.card_cents
    assert "Discount (TENOFF)" in html and "Shipping" in html and "Tax" in html and "Paid from your wallet" in html
    assert "rented for 3 days" in html
    assert f'data-cents="{order.card_cents}"' in html


def test_customer_cancel_asks_first(app, auth, make_book):
    from tests.checkout_helpers import start
    user = auth.user("canceller")
    book = make_book("Cancel Me", on_hand=3)
    order = start(user, [(book, 1, "buy", 1)])
    client = app.test_client()
    auth.login("canceller", client=client)
    html = client.get(f"/orders/{order.number}").get_data(as_text=True)
    form = re.search(r'<form method="post" action="/orders/[^"]+/cancel"[^>]*>.*?</form>', html, re.S).group(0)
    assert 'data-confirm-dialog="cancel-order-dialog"' in form
    assert re.search(r'<input type="checkbox" name="confirmed" value="yes" required', form)
    assert '<dialog id="cancel-order-dialog"' in html and "No, keep my order" in html and "Yes, cancel the order" in html


def test_every_cancel_refund_and_delete_form_asks_first(admin_client, auth, make_book):
    from tests.checkout_helpers import settle, start
    book = make_book("Admin Order Book", on_hand=3)
    user = auth.user("admincust")
    order = start(user, [(book, 1, "buy", 1)])
    settle(order)
    db.session.commit()
    spare = make_book("Never Sold", on_hand=1)
    code = DiscountCode(code="UNUSED", kind="percent", value=5)
    db.session.add(code)
    db.session.commit()
    pages = {f"/admin/orders/{order.number}": ("admin-cancel-dialog", "admin-refund-dialog"),
             f"/admin/books/{spare.id}/edit": ("delete-book-dialog",),
             f"/admin/discounts/{code.id}/edit": ("delete-discount-dialog",)}
    for url, dialogs in pages.items():
        r = admin_client.get(url)
        assert r.status_code == 200, url
        html = r.get_data(as_text=True)
        for dialog in dialogs:
            assert f'<dialog id="{dialog}"' in html and f'data-confirm-dialog="{dialog}"' in html, (url, dialog)
            assert 'name="confirmed" value="yes" required' in html, url


def test_account_and_address_deletion_ask_first(app, auth):
    from webapp.models import Address
    user = auth.user("leaver")
    db.session.add(Address(user_id=user.id, full_name="Lee Leaver", line1="2 Side <b>Street</b>", city="Town",
                           postcode="12345", country="US"))
    db.session.commit()
    client = app.test_client()
    auth.login("leaver", client=client)
    html = client.get("/account/addresses").get_data(as_text=True)
    assert 'data-confirm-dialog="remove-address-' in html and 'name="confirmed" value="yes" required' in html
    # the button names the address for screen readers, escaped like everything the customer typed
    assert 'Remove<span class="visually-hidden"> 2 Side &lt;b&gt;Street&lt;/b&gt;</span>' in html
    assert "<b>Street</b>" not in html
    html = client.get("/account/delete").get_data(as_text=True)
    assert '<dialog id="delete-account-dialog"' in html and "Yes, delete my account" in html


def test_confirmed_no_js_post_still_cancels(app, auth, make_book):
    """The checkbox is the browser's guard; the server still takes the plain post (the API and old pages do)."""
    from tests.checkout_helpers import fresh, start
    user = auth.user("plainpost")
    book = make_book("Plain Cancel", on_hand=3)
    order = start(user, [(book, 1, "buy", 1)])
    client = app.test_client()
    auth.login("plainpost", client=client)
    r = auth.post(f"/orders/{order.number}/cancel", {"confirmed": "yes"}, client=client)
    assert r.status_code == 303
    assert fresh(db, order).status == "cancelled"


def test_rentals_worded_by_the_day(client, make_book):
    book = make_book("Day Priced", price_cents=1995)  # rents at 399 a week: 57 a day
    html = client.get(f"/books/{book.id}").get_data(as_text=True)
    assert "or rent from $0.57 a day" in html and "a week" not in html
    assert ">3 days for $1.71</option>" in html
