"""The order timeline speaks to the customer on their order page, and to staff on the admin order page."""
from __future__ import annotations

from tests.checkout_helpers import paid_order
from tests.conftest import PASSWORD


def test_customer_and_staff_read_the_same_cancellation_in_their_own_words(app, db, auth, client, admin_client,
                                                                            make_book, run_jobs):
    from webapp.services.platform.money import money

    book = make_book("Timeline", on_hand=3, price_cents=2000)
    customer = auth.user("reader1")
    order = paid_order(db, run_jobs, customer, book)
    auth.login("reader1", PASSWORD)
    response = auth.post(f"/orders/{order.number}/cancel", {"refund_to": "wallet"})
    assert response.status_code == 303

    mine = client.get(f"/orders/{order.number}").get_data(as_text=True)
    assert "You cancelled this order." in mine
    assert f"{money(order.total_cents)} was returned to your wallet." in mine
    assert "the customer" not in mine and "Cancelled by the customer" not in mine

    staff = admin_client.get(f"/admin/orders/{order.number}").get_data(as_text=True)
    assert "Cancelled by the customer." in staff
    assert f"{money(order.total_cents)} refunded to the customer&#39;s wallet." in staff
    assert "You cancelled this order." not in staff


def test_shipping_reads_as_on_its_way_for_the_customer(app, db, auth, client, make_book, run_jobs):
    from webapp.services.commerce import orders

    book = make_book("Posted", on_hand=3)
    customer = auth.user("reader1")
    staffer = auth.user("staffer", role="admin")
    order = paid_order(db, run_jobs, customer, book)
    orders.mark_shipped(order, actor=staffer, tracking="1Z999")
    db.session.commit()
    auth.login("reader1", PASSWORD)
    mine = client.get(f"/orders/{order.number}").get_data(as_text=True)
    assert "Your order is on its way. Tracking: 1Z999" in mine and "Shipped. Tracking" not in mine
    assert "We received your payment." in mine
