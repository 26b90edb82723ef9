import json
import time

import pytest
from sqlalchemy import func, select

from tests.checkout_helpers import completed_event, shopper, signed, start
from webapp.models import Inventory, Order, OrderEvent, PaymentEvent
from webapp.services.commerce.test_gateway import sign


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


# ---- forged amounts, other currencies, malformed events (issue 11, findings 1 and 7) ----

def _completed(order, *, amount, currency="usd", intent="pi_forged", event_id="evt_forged"):
    obj = {"id": order.payment_session_id, "object": "checkout.session", "status": "complete",
           "payment_status": "paid", "payment_intent": intent, "amount_total": amount, "currency": currency}
    return {"id": event_id, "object": "event", "type": "checkout.session.completed", "data": {"object": obj}}


def _sold(db, book):
    db.session.expire_all()
    row = db.session.get(Inventory, book.id)
    return row.on_hand, row.reserved


def test_a_signed_event_for_less_than_the_total_fulfils_nothing_and_refunds(app, client, db, make_book, run_jobs):
    from webapp.models import AuditLog, OutboundEmail, OutboxMessage, PaymentIssue

    book = make_book(on_hand=3, price_cents=1699)
    order = start(shopper(), [(book, 1, "buy", 1)])
    assert order.total_cents == 1699 + 499
    r = post_event(client, app, _completed(order, amount=1))
    assert r.status_code == 200 and r.json["outcome"] == "mismatch"
    assert status(db, order) == "cancelled" and _sold(db, book) == (3, 0)  # nothing sold, the copy is back
    assert not db.session.scalars(select(OrderEvent).where(OrderEvent.status == "paid")).all()
    issue = db.session.scalars(select(PaymentIssue)).one()
    assert issue.kind == "amount_mismatch" and issue.amount_cents == 1 and issue.resolved_at is None
    assert "$0.01 was paid but the order (by card) needed $21.98" in issue.message
    refund = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "refund")).one()
    assert refund.payload["payment_intent_id"] == "pi_forged" and refund.payload["amount_cents"] == 1
    assert db.session.scalar(select(AuditLog.id).where(AuditLog.action == "payment.amount_mismatch"))
    subjects = db.session.scalars(select(OutboundEmail.subject)).all()
    assert not any("receipt" in s for s in subjects) and any("being refunded" in s for s in subjects)
    # the provider repeats it (new event id): no second issue, refund or email
    again = post_event(client, app, _completed(order, amount=1, event_id="evt_forged_2"))
    assert again.json["outcome"] == "already"
    assert db.session.scalar(select(func.count()).select_from(PaymentIssue)) == 1
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "refund")) == 1


def test_a_payment_in_another_currency_is_refused(app, client, db, make_book):
    book = make_book(on_hand=3, price_cents=4000)
    order = start(shopper(), [(book, 1, "buy", 1)])
    r = post_event(client, app, _completed(order, amount=order.total_cents, currency="jpy"))
    assert r.json["outcome"] == "mismatch" and status(db, order) == "cancelled"
    assert _sold(db, book) == (3, 0)


def test_a_top_up_paid_for_less_is_not_credited(app, client, db):
    from webapp.models import Charge, OutboxMessage, PaymentIssue
    from webapp.services.circulation import wallet
    from webapp.services.commerce import charges

    user = shopper("topper")
    charge, _ = charges.start(user, "top_up", 50000, success_url=lambda c: "https://shop.test/s",
                              cancel_url=lambda c: "https://shop.test/c")
    event = {"id": "evt_topup", "object": "event", "type": "checkout.session.completed",
             "data": {"object": {"id": charge.payment_session_id, "payment_status": "paid", "currency": "usd",
                                 "payment_intent": "pi_cheap", "amount_total": 100}}}
    r = post_event(client, app, event)
    assert r.json["outcome"] == "mismatch"
    assert wallet.balance(user.id) == 0
    db.session.expire_all()
    stored = db.session.get(Charge, charge.id)
    assert stored.status == "expired" and stored.refunded_at is not None and stored.paid_at is None
    assert db.session.scalars(select(PaymentIssue)).one().charge_id == charge.id
    assert db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "refund")).one().payload[
        "charge_reference"] == charge.reference


def test_the_right_amount_still_pays(app, client, db, make_book):
    book = make_book(on_hand=3, price_cents=4000)
    order = start(shopper(), [(book, 1, "buy", 1)])
    r = post_event(client, app, _completed(order, amount=order.total_cents, currency="USD"))
    assert r.json["outcome"] == "paid" and status(db, order) == "paid" and _sold(db, book) == (2, 0)


MALFORMED = {
    "no id": {"object": "event", "type": "checkout.session.completed", "data": {"object": {"id": "cs_x"}}},
    "list as object": {"id": "evt_m1", "type": "checkout.session.completed", "data": {"object": ["cs_x"]}},
    "no data": {"id": "evt_m2", "type": "checkout.session.completed"},
    "text amount": {"id": "evt_m3", "type": "checkout.session.completed",
                    "data": {"object": {"id": "SESSION", "payment_status": "paid", "amount_total": "2198",
                                        "currency": "usd", "payment_intent": "pi_1"}}},
    "negative amount": {"id": "evt_m4", "type": "checkout.session.completed",
                        "data": {"object": {"id": "SESSION", "payment_status": "paid", "amount_total": -5,
                                            "currency": "usd", "payment_intent": "pi_1"}}},
    "boolean amount": {"id": "evt_m5", "type": "checkout.session.completed",
                       "data": {"object": {"id": "SESSION", "payment_status": "paid", "amount_total": True,
                                           "currency": "usd", "payment_intent": "pi_1"}}},
    "300-character id": {"id": "evt_" + "x" * 296, "type": "checkout.session.completed",
                         "data": {"object": {"id": "SESSION"}}},
    "300-character session id": {"id": "evt_m6", "type": "checkout.session.completed",
                                 "data": {"object": {"id": "cs_" + "y" * 297}}},
    "intent object without id": {"id": "evt_m7", "type": "checkout.session.completed",
                                 "data": {"object": {"id": "SESSION", "payment_status": "paid", "amount_total": 1,
                                                     "currency": "usd", "payment_intent": {"object": "x"}}}},
    "refund without amount": {"id": "evt_m8", "type": "charge.refunded",
                              "data": {"object": {"payment_intent": "pi_1", "amount_refunded": "all"}}},
    "a number as type": {"id": "evt_m9", "type": 7, "data": {"object": {}}},
    "odd payment status": {"id": "evt_m10", "type": "checkout.session.completed",
                           "data": {"object": {"id": "SESSION", "payment_status": ["paid"]}}},
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_signed_events_answer_400_and_change_nothing(app, client, db, make_book, case):
    book = make_book(on_hand=2)
    order = start(shopper(), [(book, 1, "buy", 1)])
    event = json.loads(json.dumps(MALFORMED[case]).replace("SESSION", order.payment_session_id))
    r = post_event(client, app, event)
    assert r.status_code == 400 and r.json["error"]["code"] == "malformed_event"
    assert status(db, order) == "pending_payment" and _sold(db, book) == (2, 1)
    assert db.session.scalar(select(func.count()).select_from(PaymentEvent)) == 0


def test_a_signed_body_that_is_not_an_event_object_answers_400(app, client, db):
    for body in ("[1, 2]", '"text"', "null"):
        headers = {"Stripe-Signature": sign(body, app.config["STRIPE_WEBHOOK_SECRET"]),
                   "Content-Type": "application/json"}
        r = client.post("/webhooks/stripe", data=body, headers=headers)
        assert r.status_code == 400 and r.is_json, body


def test_an_expanded_payment_intent_object_is_understood(app, client, db, make_book):
    book = make_book(on_hand=2)
    order = start(shopper(), [(book, 1, "buy", 1)])
    event = _completed(order, amount=order.total_cents)
    event["data"]["object"]["payment_intent"] = {"id": "pi_expanded", "object": "payment_intent"}
    assert post_event(client, app, event).json["outcome"] == "paid"
    db.session.expire_all()
    assert db.session.get(Order, order.id).payment_intent_id == "pi_expanded"
