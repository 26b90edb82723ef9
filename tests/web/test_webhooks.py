import time

from sqlalchemy import func, select

from tests.checkout_helpers import completed_event, shopper, signed, start
from webapp.models import Inventory, Order, OrderEvent, PaymentEvent


def post_event(client, app, event, *, secret=None, timestamp=None, payload=None):
    body, headers = signed(event, secret or app.config["STRIPE_WEBHOOK_SECRET"], timestamp)
    return client.post("/webhooks/stripe", data=payload or body, headers=headers)


def status(db, order):
    db.session.expire_all()
    return db.session.get(Order, order.id).status


def test_same_event_three_times_has_one_effect(app, client, db, make_book):
    book = make_book(on_hand=4)
    order = start(shopper(), [(book, 2, "buy", 1)])
    event = completed_event(order)
    answers = [post_event(client, app, event) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].json["outcome"] == "paid" and answers[1].json["duplicate"] and answers[2].json["duplicate"]
    assert status(db, order) == "paid"
    assert db.session.get(Inventory, book.id).on_hand == 2
    assert db.session.scalar(select(func.count()).select_from(OrderEvent).where(OrderEvent.status == "paid")) == 1


def test_a_new_event_for_the_same_session_is_harmless_too(app, client, db, make_book):
    book = make_book(on_hand=4)
    order = start(shopper(), [(book, 1, "buy", 1)])
    post_event(client, app, completed_event(order, "evt_a"))
    r = post_event(client, app, completed_event(order, "evt_b"))
    assert r.json["outcome"] == "already"
    assert db.session.get(Inventory, book.id).on_hand == 3


def test_expired_after_completed_changes_nothing(app, client, db, make_book):
    book = make_book(on_hand=4)
    order = start(shopper(), [(book, 1, "buy", 1)])
    completed = completed_event(order)
    post_event(client, app, completed)
    expired = {"id": "evt_exp", "type": "checkout.session.expired", "object": "event",
               "data": {"object": dict(completed["data"]["object"], status="expired")}}
    r = post_event(client, app, expired)
    assert r.status_code == 200 and r.json["outcome"] == "already"
    assert status(db, order) == "paid"
    db.session.expire_all()
    assert (db.session.get(Inventory, book.id).on_hand, db.session.get(Inventory, book.id).reserved) == (3, 0)


def test_expired_event_releases_the_reservation(app, client, db, make_book):
    book = make_book(on_hand=4)
    order = start(shopper(), [(book, 3, "buy", 1)])
    r = post_event(client, app, {"id": "evt_e", "type": "checkout.session.expired", "object": "event",
                                 "data": {"object": {"id": order.payment_session_id, "status": "expired"}}})
    assert r.json["outcome"] == "expired" and status(db, order) == "expired"
    assert db.session.get(Inventory, book.id).reserved == 0


def test_forged_signature_and_stale_timestamp_are_rejected(app, client, db, make_book):
    book = make_book(on_hand=4)
    order = start(shopper(), [(book, 1, "buy", 1)])
    event = completed_event(order)
    forged = post_event(client, app, event, secret="whsec_wrong")
    stale = post_event(client, app, event, timestamp=int(time.time()) - 3600)
    body, headers = signed(event, app.config["STRIPE_WEBHOOK_SECRET"])
    tampered = client.post("/webhooks/stripe", data=body.replace('"paid"', '"PAID"'), headers=headers)
    missing = client.post("/webhooks/stripe", data=body, headers={"Content-Type": "application/json"})
    for response in (forged, stale, tampered, missing):
        assert response.status_code == 400 and response.json["error"]["code"] == "invalid_signature"
    assert status(db, order) == "pending_payment"
    assert db.session.scalar(select(func.count()).select_from(PaymentEvent)) == 0


def test_unknown_event_type_is_acknowledged_and_ignored(app, client, db):
    r = post_event(client, app, {"id": "evt_x", "type": "customer.created", "object": "event",
                                 "data": {"object": {"id": "cus_1"}}})
    assert r.status_code == 200 and r.json["outcome"] == "ignored"


def test_async_payment_failed_releases_stock(app, client, db, make_book):
    book = make_book(on_hand=2)
    order = start(shopper(), [(book, 2, "buy", 1)])
    r = post_event(client, app, {"id": "evt_f", "type": "checkout.session.async_payment_failed", "object": "event",
                                 "data": {"object": {"id": order.payment_session_id, "payment_status": "unpaid"}}})
    assert r.json["outcome"] == "expired"
    assert db.session.get(Inventory, book.id).reserved == 0


def test_completed_but_unpaid_waits_for_async_success(app, client, db, make_book):
    book = make_book(on_hand=2)
    order = start(shopper(), [(book, 1, "buy", 1)])
    obj = {"id": order.payment_session_id, "payment_status": "unpaid", "payment_intent": "pi_async",
           "amount_total": order.total_cents, "currency": "usd"}
    r = post_event(client, app, {"id": "evt_c", "type": "checkout.session.completed", "object": "event",
                                 "data": {"object": obj}})
    assert r.json["outcome"] == "awaiting_payment" and status(db, order) == "pending_payment"
    r = post_event(client, app, {"id": "evt_s", "type": "checkout.session.async_payment_succeeded", "object": "event",
                                 "data": {"object": dict(obj, payment_status="paid")}})
    assert r.json["outcome"] == "paid" and status(db, order) == "paid"
