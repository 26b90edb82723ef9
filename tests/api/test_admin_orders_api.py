"""Staff API: the orders list and one order, and the staff actions (mark paid, ship, refund) through
services.commerce.orders, audited as the admin panel's buttons are; a refused move answers 409 order_state."""
from __future__ import annotations

from datetime import timedelta

import time_machine
from sqlalchemy import select

from tests.api.conftest import ApiClient, assert_error, boss_id
from tests.checkout_helpers import fresh, paid_order, shopper, start
from webapp.models import AuditLog, Inventory, OutboundEmail, utcnow
from webapp.services.circulation import wallet


def order_audits(db, number: str) -> list[tuple[str, int, str, str, str | None]]:
    db.session.expire_all()
    rows = db.session.scalars(select(AuditLog).where(AuditLog.object_type == "order", AuditLog.object_id == number)
                              .order_by(AuditLog.id))
    return [(a.action, a.actor_id, a.before["status"], a.after["status"], a.ip) for a in rows]




def test_staff_order_routes_refuse_customers_admins_without_2fa_and_strangers(app, db, make_book, customer_api,
                                                                              no2fa_api):
    order = start(shopper("guarded_buyer"), [(make_book(on_hand=3), 1, "buy", 1)])
    calls = [("get", "/api/v1/admin/orders", None), ("get", f"/api/v1/admin/orders/{order.number}", None),
             ("post", f"/api/v1/admin/orders/{order.number}/mark-paid", {"reference": "x"}),
             ("post", f"/api/v1/admin/orders/{order.number}/ship", {}),
             ("post", f"/api/v1/admin/orders/{order.number}/refund", {"reason": "x", "refund_to": "wallet"})]
    for method, url, body in calls:
        kwargs = {"json": body} if body is not None else {}
        assert_error(getattr(customer_api, method)(url, **kwargs), 403, "forbidden")
        assert_error(getattr(no2fa_api, method)(url, **kwargs), 403, "two_factor_required")
        assert_error(getattr(ApiClient(app), method)(url, **kwargs), 401, "unauthorized")
    assert fresh(db, order).status == "pending_payment" and order_audits(db, order.number) == []


def test_list_filters_and_pages_like_the_admin_list(db, auth, make_book, run_jobs, admin_api):
    book = make_book(on_hand=50)
    alice, bob = auth.user("alice_buyer"), auth.user("bob_buyer")
    with time_machine.travel(utcnow() - timedelta(days=40), tick=False):
        old = start(alice, [(book, 1, "buy", 1)])
    new = paid_order(db, run_jobs, bob, book)

    body = admin_api.get("/api/v1/admin/orders").get_json()
    assert [o["number"] for o in body["items"]] == [new.number, old.number]  # newest first
    first = body["items"][0]
    assert first["status"] == "paid" and first["customer"] == "bob_buyer" and first["item_count"] == 1
    assert first["total"] == {"cents": new.total_cents, "currency": "USD"} and first["paid_at"]
    assert body["page"] == {"next_cursor": None, "limit": 20, "total": 2, "total_capped": False}

    def numbers(query: str) -> list[str]:
        r = admin_api.get(f"/api/v1/admin/orders?{query}")
        assert r.status_code == 200, r.get_json()
        return [o["number"] for o in r.get_json()["items"]]

    assert numbers("status=paid") == [new.number]
    assert numbers("status=sales") == [new.number]
    assert numbers("q=alice") == [old.number]
    assert numbers(f"q={old.number.lower()}") == [old.number]
    assert numbers("q=bob_buyer%40example.com") == [new.number]
    assert numbers(f"date_from={utcnow().date() - timedelta(days=1)}") == [new.number]
    assert numbers(f"dates=paid&date_to={utcnow().date() - timedelta(days=30)}") == []
    assert numbers("q=%25") == []  # no wildcards

    error = assert_error(admin_api.get("/api/v1/admin/orders?status=nonsense"), 422, "validation_failed")
    assert "status" in error["fields"]
    error = assert_error(admin_api.get(f"/api/v1/admin/orders?date_from={utcnow().date()}"
                                       f"&date_to={utcnow().date() - timedelta(days=3)}"), 422)
    assert "date_to" in error["fields"]
    assert "cursor" in assert_error(admin_api.get("/api/v1/admin/orders?cursor=abc"), 422)["fields"]
    assert "limit" in assert_error(admin_api.get("/api/v1/admin/orders?limit=1000"), 422)["fields"]


def test_list_cursor_walks_every_order_once(db, make_book, admin_api):
    book = make_book(on_hand=100)
    made = {start(shopper(f"bulk_{i}"), [(book, 1, "buy", 1)]).number for i in range(5)}
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        r = admin_api.get("/api/v1/admin/orders?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        body = r.get_json()
        assert r.status_code == 200, body
        seen += [o["number"] for o in body["items"]]
        assert body["page"]["total"] == 5 and len(body["items"]) <= 2
        cursor = body["page"]["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(made) and len(seen) == 5
    assert admin_api.get("/api/v1/admin/orders?limit=2&cursor=40").get_json()["items"] == []  # past the end


def test_order_detail(db, auth, make_book, run_jobs, admin_api):
    book = make_book("Detailed", on_hand=5, price_cents=4000)
    order = paid_order(db, run_jobs, auth.user("detail_buyer"), book, quantity=2)
    r = admin_api.get(f"/api/v1/admin/orders/{order.number}")
    assert r.status_code == 200
    body = r.get_json()
    assert body["number"] == order.number and body["status"] == "paid" and body["customer"] == "detail_buyer"
    assert body["lines"] == [{"book_id": book.id, "title": "Detailed", "isbn13": book.isbn13, "mode": "buy",
                              "days": None, "quantity": 2, "unit_price": {"cents": 4000, "currency": "USD"},
                              "total": {"cents": 8000, "currency": "USD"}}]
    assert body["total"]["cents"] == order.total_cents and body["shipping_address"]["full_name"] == "Ann Reader"
    assert body["allowed_actions"] == sorted({"ship", "cancel", "refund"})
    assert [t["status"] for t in body["timeline"]][-1] == "paid"
    assert_error(admin_api.get("/api/v1/admin/orders/FO-NONE-NONE-NONE"), 404, "not_found")
    assert_error(admin_api.get("/api/v1/admin/orders/" + "X" * 300), 404, "not_found")


def test_mark_paid_needs_a_reference_and_happens_once(db, auth, make_book, admin_api):
    book = make_book(on_hand=3)
    order = start(auth.user("transfer_payer"), [(book, 1, "buy", 1)])
    url = f"/api/v1/admin/orders/{order.number}/mark-paid"
    assert "reference" in assert_error(admin_api.post(url, json={"reference": "   "}), 422)["fields"]
    assert "reference" in assert_error(admin_api.post(url, json={}), 422)["fields"]
    assert fresh(db, order).status == "pending_payment"

    r = admin_api.post(url, json={"reference": "IBAN transfer 77"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["status"] == "paid" and body["payment_provider"] == "manual"
    assert any("IBAN transfer 77" in (t["note"] or "") and t["actor"] == "boss" for t in body["timeline"])
    assert fresh(db, order).status == "paid"
    assert db.session.get(Inventory, book.id).on_hand == 2  # the sale took its copy
    assert order_audits(db, order.number) == [("order.marked_paid", boss_id(db), "pending_payment", "paid",
                                               "127.0.0.1")]

    again = assert_error(admin_api.post(url, json={"reference": "again"}), 409, "order_state")
    assert "cannot be marked paid" in again["message"]
    assert len(order_audits(db, order.number)) == 1
    assert_error(admin_api.post("/api/v1/admin/orders/FO-NONE-NONE-NONE/mark-paid", json={"reference": "x"}),
                 404, "not_found")


def test_ship_then_refund_to_the_wallet(db, auth, make_book, run_jobs, admin_api):
    book = make_book(on_hand=3, price_cents=2000)
    user = auth.user("full_journey")
    order = paid_order(db, run_jobs, user, book)
    url = f"/api/v1/admin/orders/{order.number}"
    r = admin_api.post(f"{url}/ship", json={"tracking": "TRACK-123"})
    assert r.status_code == 200 and r.get_json()["status"] == "shipped"
    assert any(t["note"] == "Shipped. Tracking: TRACK-123" for t in r.get_json()["timeline"])
    assert fresh(db, order).status == "shipped"
    assert db.session.scalars(select(OutboundEmail).where(OutboundEmail.subject.contains("on its way"))).one()
    assert_error(admin_api.post(f"{url}/ship", json={}), 409, "order_state")  # a second click

    assert "reason" in assert_error(admin_api.post(f"{url}/refund", json={"reason": "", "refund_to": "wallet"}),
                                    422)["fields"]
    assert "refund_to" in assert_error(admin_api.post(f"{url}/refund", json={"reason": "x", "refund_to": "cash"}),
                                       422)["fields"]
    r = admin_api.post(f"{url}/refund", json={"reason": "Arrived damaged", "refund_to": "wallet"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["status"] == "refunded" and body["refunded"]["cents"] == order.total_cents
    assert wallet.balance(user.id) == order.total_cents
    again = assert_error(admin_api.post(f"{url}/refund", json={"reason": "twice", "refund_to": "wallet"}),
                         409, "order_state")
    assert "already refunded" in again["message"]
    assert wallet.balance(user.id) == order.total_cents
    boss = boss_id(db)
    assert order_audits(db, order.number) == [("order.shipped", boss, "paid", "shipped", "127.0.0.1"),
                                              ("order.refunded", boss, "shipped", "refunded", "127.0.0.1")]


def test_refund_of_an_unshipped_order_cancels_it_and_returns_the_stock(db, auth, make_book, run_jobs, admin_api):
    book = make_book(on_hand=4, price_cents=1500)
    user = auth.user("changed_mind")
    order = paid_order(db, run_jobs, user, book, quantity=2)
    assert db.session.get(Inventory, book.id).on_hand == 2
    r = admin_api.post(f"/api/v1/admin/orders/{order.number}/refund",
                       json={"reason": "Customer asked", "refund_to": "wallet"})
    assert r.status_code == 200 and r.get_json()["status"] == "refunded"
    db.session.expire_all()
    assert db.session.get(Inventory, book.id).on_hand == 4
    assert wallet.balance(user.id) == order.total_cents
    assert [a[0] for a in order_audits(db, order.number)] == ["order.cancelled"]


def test_ship_an_unpaid_order_is_a_conflict(db, auth, make_book, admin_api):
    order = start(auth.user("not_yet"), [(make_book(on_hand=2), 1, "buy", 1)])
    error = assert_error(admin_api.post(f"/api/v1/admin/orders/{order.number}/ship", json={}), 409, "order_state")
    assert "cannot be shipped" in error["message"]
    assert fresh(db, order).status == "pending_payment"
    assert_error(admin_api.post(f"/api/v1/admin/orders/{order.number}/refund",
                                json={"reason": "x", "refund_to": "card"}), 409, "order_state")


def test_list_query_count_does_not_grow_with_rows(db, make_book, admin_api, count_queries):
    book = make_book(on_hand=100)
    buyers = [shopper(f"counted_{i}") for i in range(4)]
    start(buyers[0], [(book, 1, "buy", 1)])

    def queries() -> int:
        with count_queries() as statements:
            assert admin_api.get("/api/v1/admin/orders?limit=50").status_code == 200
        return len(statements)

    few = queries()
    for i in range(12):
        start(buyers[i % 4], [(book, 1, "buy", 1)])
    assert queries() == few
