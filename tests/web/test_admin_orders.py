"""Admin orders: the filtered list (htmx and plain), the detail page and each staff action through the web."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select, update

from tests.checkout_helpers import fresh, paid_order, pay, shopper, start
from webapp.models import AuditLog, Inventory, Order, OutboundEmail, User, utcnow
from webapp.services.circulation import wallet
from webapp.services.commerce import orders


def post(admin_client, auth, url, data=None):
    data = dict(data or {})
    data["csrf_token"] = auth.csrf(admin_client)
    return admin_client.post(url, data=data)


def flashes(html: str) -> list[str]:
    return re.findall(r'<p class="flash flash-\w+">(.*?)</p>', html, re.S)


def test_orders_list_filters_by_status_customer_and_dates(admin_client, auth, db, make_book, run_jobs):
    book = make_book(on_hand=20)
    alice, bob = auth.user("alice_buyer"), auth.user("bob_buyer")
    with time_machine.travel(utcnow() - timedelta(days=40), tick=False):
        old = start(alice, [(book, 1, "buy", 1)])
    new = paid_order(db, run_jobs, bob, book)

    page = admin_client.get("/admin/orders").get_data(as_text=True)
    assert page.index(new.number) < page.index(old.number)  # newest first
    assert "<form" in page and 'hx-push-url="true"' in page and "alice_buyer" in page

    body = admin_client.get("/admin/orders?status=paid").get_data(as_text=True)
    assert new.number in body and old.number not in body
    body = admin_client.get("/admin/orders?q=alice").get_data(as_text=True)
    assert old.number in body and new.number not in body
    body = admin_client.get("/admin/orders?q=bob_buyer%40example.com").get_data(as_text=True)
    assert new.number in body and old.number not in body
    body = admin_client.get(f"/admin/orders?q={old.number.lower()}").get_data(as_text=True)
    assert old.number in body and new.number not in body
    today = utcnow().date()
    body = admin_client.get(f"/admin/orders?date_from={today - timedelta(days=1)}").get_data(as_text=True)
    assert new.number in body and old.number not in body
    body = admin_client.get(f"/admin/orders?dates=paid&date_to={today - timedelta(days=30)}").get_data(as_text=True)
    assert "No orders match" in body

    r = admin_client.get("/admin/orders?status=shipped", headers={"HX-Request": "true"})
    assert "HX-Request" in r.headers.get("Vary", "")
    assert "<html" not in r.get_data(as_text=True) and "No orders match" in r.get_data(as_text=True)
    r = admin_client.get("/admin/orders?status=nonsense&dates=zzz&date_from=yesterday&page=-3")
    assert r.status_code == 200 and new.number in r.get_data(as_text=True)
    assert "No orders match" in admin_client.get("/admin/orders?q=%25").get_data(as_text=True)  # no wildcards
    r = admin_client.get(f"/admin/orders?date_from={today}&date_to={today - timedelta(days=3)}")
    assert "The end date is before the start date." in r.get_data(as_text=True)


def test_orders_list_pages_and_keeps_filters_in_pager_links(admin_client, auth, db, make_book):
    book = make_book(on_hand=100)
    numbers = [start(shopper(f"bulk_buyer_{i}"), [(book, 1, "buy", 1)]).number for i in range(27)]
    page1 = admin_client.get("/admin/orders?status=pending_payment").get_data(as_text=True)
    page2 = admin_client.get("/admin/orders?status=pending_payment&page=2").get_data(as_text=True)
    on1 = set(re.findall(r">(FO-[A-Z0-9-]{14})<", page1))
    on2 = set(re.findall(r">(FO-[A-Z0-9-]{14})<", page2))
    assert len(on1) == 25 and len(on2) == 2 and on1 | on2 == set(numbers)
    next_link = re.search(r'<a href="([^"]+)" hx-get="([^"]+)"[^>]*rel="next"', page1)
    assert next_link and next_link.group(1) == next_link.group(2)
    assert set(next_link.group(1).split("?")[1].split("&amp;")) == {"status=pending_payment", "page=2"}


def test_orders_list_query_count_does_not_grow_with_rows(admin_client, auth, db, make_book, count_queries):
    book = make_book(on_hand=100)
    users = [auth.user(f"buyer_{i}") for i in range(5)]
    for user in users[:2]:
        start(user, [(book, 1, "buy", 1)])

    def queries() -> int:
        with count_queries() as statements:
            r = admin_client.get("/admin/orders", headers={"HX-Request": "true"})
            assert r.status_code == 200
        return len(statements)

    few = queries()
    for i in range(20):
        start(users[i % 5], [(book, 1, "buy", 1)])
    assert queries() == few
    assert few <= 8  # session user, count, page of orders + customers, their lines


def test_order_detail_shows_lines_payment_address_and_timeline(admin_client, auth, db, make_book, run_jobs):
    book = make_book("The <Detailed> Book", on_hand=5, price_cents=4000)
    user = auth.user("detail_buyer")
    wallet.credit(user.id, 1500, "adjustment", reference="gift")
    db.session.commit()
    from tests.checkout_helpers import ADDRESS
    from webapp.services.commerce import cart, checkout

    items = [cart.CartItem(book.id, "buy", 1, 7, book.price_cents)]
    order, _ = checkout.start_checkout(user, items, ADDRESS, code=None, use_wallet=True,
                                     success_url=lambda o: "/s", cancel_url=lambda o: "/c")
    db.session.commit()
    pay(order)
    run_jobs()
    page = admin_client.get(f"/admin/orders/{order.number}").get_data(as_text=True)
    assert "The &lt;Detailed&gt; Book" in page and "<Detailed>" not in page
    assert "$40.00" in page and "$15.00" in page and "$25.00" in page  # total, wallet part, card part
    assert "Ann Reader" in page and "1 Main Street" in page
    assert f'href="/admin/users/{user.id}"' in page and "detail_buyer" in page
    assert "Card (test gateway)" in page and "pi_test_" in page
    assert "pending payment" in page and "Payment received." in page
    assert f'action="/admin/orders/{order.number}/ship"' in page
    assert "/mark-paid" not in page  # only the actions the status allows
    assert admin_client.get("/admin/orders/FO-NOPE-NOPE-NOPE").status_code == 404


def test_mark_paid_through_the_web_needs_a_reference(admin_client, auth, db, make_book):
    book = make_book(on_hand=3)
    order = start(auth.user("transfer_payer"), [(book, 1, "buy", 1)])
    r = post(admin_client, auth, f"/admin/orders/{order.number}/mark-paid", {"reference": ""})
    assert r.status_code == 200 and "Enter the payment reference or a note." in r.get_data(as_text=True)
    assert fresh(db, order).status == "pending_payment"

    r = post(admin_client, auth, f"/admin/orders/{order.number}/mark-paid", {"reference": "IBAN transfer 77"})
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/admin/orders/{order.number}")
    assert fresh(db, order).status == "paid" and fresh(db, order).payment_provider == "manual"
    db.session.expire_all()
    assert db.session.get(Inventory, book.id).on_hand == 2
    page = admin_client.get(r.headers["Location"]).get_data(as_text=True)
    assert any("marked paid" in f for f in flashes(page))
    assert "IBAN transfer 77" in page and "by <a" in page  # the timeline names the admin

    r = post(admin_client, auth, f"/admin/orders/{order.number}/mark-paid", {"reference": "again"})
    assert r.status_code == 303
    page = admin_client.get(r.headers["Location"]).get_data(as_text=True)
    assert any("is paid, so it cannot be marked paid" in f for f in flashes(page))


def test_ship_deliver_refund_through_the_web(admin_client, auth, db, make_book, run_jobs):
    book = make_book(on_hand=3, price_cents=2000)
    user = auth.user("full_journey")
    order = paid_order(db, run_jobs, user, book)
    r = post(admin_client, auth, f"/admin/orders/{order.number}/ship", {"tracking": "<script>alert(1)</script>"})
    assert r.status_code == 303 and fresh(db, order).status == "shipped"
    page = admin_client.get(f"/admin/orders/{order.number}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert db.session.scalars(select(OutboundEmail).where(OutboundEmail.subject.contains("on its way"))).one()

    r = post(admin_client, auth, f"/admin/orders/{order.number}/ship")  # a second click, from a stale page
    page = admin_client.get(r.headers["Location"]).get_data(as_text=True)
    assert any("is shipped, so it cannot be shipped" in f for f in flashes(page))

    assert post(admin_client, auth, f"/admin/orders/{order.number}/deliver").status_code == 303
    assert fresh(db, order).status == "delivered"

    r = post(admin_client, auth, f"/admin/orders/{order.number}/refund", {"refund_reason": "", "refund_to": "wallet"})
    assert r.status_code == 200 and "Enter the reason for the refund." in r.get_data(as_text=True)
    r = post(admin_client, auth, f"/admin/orders/{order.number}/refund",
             {"refund_reason": "Arrived damaged", "refund_to": "wallet"})
    assert r.status_code == 303
    order = fresh(db, order)
    assert order.status == "refunded" and wallet.balance(user.id) == order.total_cents
    r = post(admin_client, auth, f"/admin/orders/{order.number}/refund",
             {"refund_reason": "Arrived damaged", "refund_to": "wallet"})
    page = admin_client.get(r.headers["Location"]).get_data(as_text=True)
    assert any("was already refunded" in f for f in flashes(page))
    assert wallet.balance(user.id) == order.total_cents

    boss = db.session.scalars(select(User).where(User.username == "boss")).one()
    actions = db.session.execute(select(AuditLog.action, AuditLog.actor_id, AuditLog.before, AuditLog.after)
                                 .where(AuditLog.object_id == order.number).order_by(AuditLog.id)).all()
    assert [(a, actor, b["status"], af["status"]) for a, actor, b, af in actions] == [
        ("order.shipped", boss.id, "paid", "shipped"), ("order.delivered", boss.id, "shipped", "delivered"),
        ("order.refunded", boss.id, "delivered", "refunded")]
    assert all(ip == "127.0.0.1" for ip in db.session.scalars(select(AuditLog.ip).where(
        AuditLog.object_id == order.number)))


def test_cancel_through_the_web(admin_client, auth, db, make_book, run_jobs):
    book = make_book(on_hand=3)
    pending = start(auth.user("cancel_me"), [(book, 2, "buy", 1)])
    r = post(admin_client, auth, f"/admin/orders/{pending.number}/cancel",
             {"cancel_reason": "Duplicate order", "cancel_refund_to": "card"})
    assert r.status_code == 303 and fresh(db, pending).status == "cancelled"
    db.session.expire_all()
    assert db.session.get(Inventory, book.id).reserved == 0

    user = auth.user("cancel_paid")
    order = paid_order(db, run_jobs, user, book)
    r = post(admin_client, auth, f"/admin/orders/{order.number}/cancel",
             {"cancel_reason": "Out of stock at the warehouse", "cancel_refund_to": "bitcoin"})
    assert r.status_code == 200 and "Not a valid choice" in r.get_data(as_text=True)
    r = post(admin_client, auth, f"/admin/orders/{order.number}/cancel",
             {"cancel_reason": "Out of stock at the warehouse", "cancel_refund_to": "card"})
    assert r.status_code == 303 and fresh(db, order).status == "cancelled"
    run_jobs()  # the gateway confirms the card refund
    assert fresh(db, order).status == "refunded"


def test_actions_are_post_only_with_csrf_and_admin_only(app, admin_client, auth, client, db, make_book, run_jobs):
    order = paid_order(db, run_jobs, auth.user("csrf_buyer"), make_book(on_hand=2))
    assert admin_client.post(f"/admin/orders/{order.number}/ship", data={}).status_code == 400
    assert admin_client.get(f"/admin/orders/{order.number}/ship").status_code == 405
    auth.login("csrf_buyer")
    assert auth.post(f"/admin/orders/{order.number}/ship").status_code == 403
    assert fresh(db, order).status == "paid"
    assert post(admin_client, auth, "/admin/orders/FO-NONE-NONE-NONE/ship").status_code == 404


def test_a_race_lost_in_the_web_flashes_a_clear_message(admin_client, auth, db, make_book, run_jobs, monkeypatch):
    """Another admin's change lands between this request loading the order and updating it."""
    order = paid_order(db, run_jobs, auth.user("race_buyer"), make_book(on_hand=2))
    real = orders.by_number

    def load_then_someone_cancels(number):
        found = real(number)
        from webapp.extensions import db as request_db

        request_db.session.execute(update(Order).where(Order.id == found.id).values(status="cancelled")
                                   .execution_options(synchronize_session=False))
        return found

    monkeypatch.setattr(orders, "by_number", load_then_someone_cancels)
    r = post(admin_client, auth, f"/admin/orders/{order.number}/ship")
    monkeypatch.setattr(orders, "by_number", real)
    page = admin_client.get(r.headers["Location"]).get_data(as_text=True)
    assert any("changed by someone else meanwhile (it is now cancelled)" in f for f in flashes(page))


@pytest.mark.parametrize("path", ["/admin/orders", "/admin/orders/FO-AAAA-BBBB-CCCC"])
def test_customers_cannot_see_admin_orders(client, auth, path):
    auth.user("nosy")
    auth.login("nosy")
    assert client.get(path).status_code == 403
