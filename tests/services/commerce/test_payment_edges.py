"""The edges a hostile review found: account deletion with payments open, limits for late payments, refunds
made at the provider (before, after and instead of ours), partial refunds, malformed ids. Both databases."""
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.checkout_helpers import ADDRESS, drain, pay, settle, shopper, signed, start
from tests.conftest import PASSWORD
from webapp.models import (
    Charge,
    DiscountCode,
    DiscountRedemption,
    GatewaySession,
    Hold,
    Inventory,
    Order,
    OutboundEmail,
    PaymentIssue,
    utcnow,
)
from webapp.services.circulation import holds, wallet
from webapp.services.closure import deletion
from webapp.services.commerce import cart, charges, checkout, fulfilment, orders, payments, test_gateway
from webapp.services.people import accounts
from webapp.services.platform import outbox


def fresh(db, model, row_id):
    db.session.expire_all()
    return db.session.get(model, row_id)




def refund_event(client, app, intent, amount, event_id):
    event = {"id": event_id, "object": "event", "type": "charge.refunded",
             "data": {"object": {"id": "ch_x", "object": "charge", "payment_intent": intent,
                                 "amount_refunded": amount}}}
    body, headers = signed(event, app.config["STRIPE_WEBHOOK_SECRET"])
    return client.post("/webhooks/stripe", data=body, headers=headers)


# ---- account deletion ----

def test_deleting_an_account_closes_its_open_payment_pages_first(app, db, make_book):
    book = make_book(on_hand=2)
    user = shopper("leaver")
    order = start(user, [(book, 1, "buy", 1)])
    charge, _ = charges.start(user, "top_up", 2000, success_url=lambda c: "s", cancel_url=lambda c: "c")
    deletion.delete_account(user, PASSWORD)
    db.session.commit()
    assert fresh(db, Order, order.id).status == "cancelled" and fresh(db, Inventory, book.id).reserved == 0
    assert db.session.get(GatewaySession, order.payment_session_id).status == "expired"
    assert fresh(db, Charge, charge.id).status == "expired"
    assert db.session.get(GatewaySession, charge.payment_session_id).status == "expired"
    with pytest.raises(payments.PaymentError, match="no longer open"):
        pay(order)  # nothing can be paid once the account is gone
    with pytest.raises(payments.PaymentError, match="no longer open"):
        test_gateway.TestGateway().pay(charge.payment_session_id, "4242424242424242", 12, 2099, "123")


def test_a_wallet_part_given_back_by_closing_a_checkout_blocks_deletion(app, db, make_book):
    book = make_book(on_hand=2, price_cents=4000)
    user = shopper("partpayer")
    wallet.credit(user.id, 1000, "adjustment", reference="gift")
    db.session.commit()
    order, _ = checkout.start_checkout(user, [cart.CartItem(book.id, "buy", 1, 1, 4000)], ADDRESS, code=None,
                                       use_wallet=True, success_url=lambda o: "s", cancel_url=lambda o: "c")
    assert wallet.balance(user.id) == 0
    with pytest.raises(accounts.AccountError, match="wallet still holds"):
        deletion.delete_account(user, PASSWORD)
    db.session.rollback()
    assert fresh(db, Order, order.id).status == "cancelled" and wallet.balance(user.id) == 1000
    assert fresh(db, accounts.User, user.id).deleted_at is None


def test_a_copy_held_for_a_deleted_account_goes_to_the_next_reader(app, db, make_book):
    book = make_book(on_hand=1)
    leaver, next_reader, renter = shopper("leaver"), shopper("next"), shopper("renter")
    rented = start(renter, [(book, 1, "buy", 1)])
    settle(rented, "pi_r")
    hold_a = holds.place(leaver, book)
    hold_b = holds.place(next_reader, book)
    db.session.commit()
    orders.cancel(fresh(db, Order, rented.id), actor=renter, refund_to="wallet")  # the copy comes back: to leaver
    db.session.commit()
    assert fresh(db, Hold, hold_a.id).status == "ready"
    start(leaver, [(book, 1, "buy", 1)])  # leaver collects it in a checkout ... then deletes the account
    deletion.delete_account(fresh(db, accounts.User, leaver.id), PASSWORD)
    db.session.commit()
    assert fresh(db, Hold, hold_a.id).status == "cancelled"
    assert fresh(db, Hold, hold_b.id).status == "ready"  # not left waiting behind a closed account


def test_a_late_payment_for_a_closed_account_is_refunded(app, db, make_book):
    book = make_book(on_hand=2)
    user = shopper("gone")
    order = start(user, [(book, 1, "buy", 1)])
    fulfilment.expire(order.payment_session_id)
    user = fresh(db, accounts.User, user.id)
    user.deleted_at = utcnow()
    db.session.commit()
    assert settle(order, "pi_late") == "refunded"
    db.session.commit()
    assert fresh(db, Order, order.id).paid_at is None and fresh(db, Inventory, book.id).reserved == 0


# ---- limits for late payments ----

def test_a_late_payment_cannot_use_a_once_per_customer_code_twice(app, db, make_book):
    a, b = make_book("Tab A", on_hand=2, price_cents=2000), make_book("Tab B", on_hand=2, price_cents=2000)
    db.session.add(DiscountCode(code="HALF", kind="percent", value=50, max_uses_per_user=1))
    db.session.commit()
    user = shopper()
    first = start(user, [(a, 1, "buy", 1)], code="HALF")
    second = start(user, [(b, 1, "buy", 1)], code="HALF")  # another tab: replaces the first, takes the code
    assert pay(first) is None  # ... but the first page was paid before the outbox closed it
    assert pay(second) is None
    drain()
    assert fresh(db, Order, first.id).paid_at is None  # refunded: the code was this customer's once
    assert fresh(db, Order, second.id).status == "paid"
    assert db.session.scalar(select(func.count()).select_from(DiscountRedemption)) == 1
    assert db.session.get(GatewaySession, first.payment_session_id).payment_status == "refunded"
    mail = db.session.scalars(select(OutboundEmail).where(OutboundEmail.subject.contains("being refunded"))).one()
    assert "discount code" in mail.body_text


# ---- refunds made at the provider ----

def test_a_refund_before_its_payment_is_answered_409_and_applied_after_it(app, client, db, make_book):
    book = make_book(on_hand=2, price_cents=4000)
    order = start(shopper(), [(book, 1, "buy", 1)])
    early = refund_event(client, app, "pi_first", order.card_cents, "evt_refund_early")
    assert early.status_code == 409 and early.json["error"]["code"] == "unknown_payment"
    assert settle(order, "pi_first") == "paid"
    db.session.commit()
    again = refund_event(client, app, "pi_first", order.card_cents, "evt_refund_early")  # the provider retries
    assert again.status_code == 200 and again.json["outcome"] == "refunded"
    order = fresh(db, Order, order.id)
    assert order.status == "refunded" and order.refunded_cents == order.total_cents
    assert fresh(db, Inventory, book.id).on_hand == 2  # the books are back: nothing ships for a refunded payment


def test_a_full_refund_at_the_provider_calls_off_an_unshipped_order_with_a_wallet_part(app, client, db, make_book):
    book = make_book(on_hand=2, price_cents=4000)
    user = shopper()
    wallet.credit(user.id, 1000, "adjustment", reference="gift")
    db.session.commit()
    order, _ = checkout.start_checkout(user, [cart.CartItem(book.id, "buy", 1, 1, 4000)], ADDRESS, code=None,
                                       use_wallet=True, success_url=lambda o: "s", cancel_url=lambda o: "c")
    settle(order, "pi_dash")
    db.session.commit()
    r = refund_event(client, app, "pi_dash", order.card_cents, "evt_dash")
    assert r.json["outcome"] == "refunded"
    order = fresh(db, Order, order.id)
    assert order.status == "refunded" and order.refunded_cents == order.total_cents
    assert wallet.balance(user.id) == 1000 and fresh(db, Inventory, book.id).on_hand == 2
    assert orders.allowed_actions(order) == set()


def test_a_partial_refund_at_the_provider_is_shown_to_staff_and_a_cancel_refunds_only_the_rest(app, client, db,
                                                                                               make_book):
    book = make_book(on_hand=2, price_cents=3000)
    user = shopper()
    order = start(user, [(book, 1, "buy", 1)])
    assert pay(order) is None
    drain()
    order = fresh(db, Order, order.id)
    r = refund_event(client, app, order.payment_intent_id, 1000, "evt_partial")
    assert r.json["outcome"] == "refunded"
    assert db.session.scalars(select(PaymentIssue)).one().kind == "provider_refund"
    order = fresh(db, Order, order.id)
    assert order.status == "paid" and order.refunded_cents == 1000
    orders.cancel(order, actor=user)
    db.session.commit()
    refund = outbox.exists(f"refund-{order.number}")
    assert refund
    from webapp.models import OutboxMessage

    message = db.session.scalars(select(OutboxMessage).where(OutboxMessage.key == f"refund-{order.number}")).one()
    assert message.payload["amount_cents"] == order.total_cents - 1000  # only what was not refunded yet
    mail = db.session.scalars(select(OutboundEmail).where(OutboundEmail.subject.contains("is cancelled"))).one()
    assert f"${(order.total_cents - 1000) / 100:.2f} to your card" in mail.body_text


def test_a_top_up_refunded_at_the_provider_leaves_the_wallet(app, client, db):
    user = shopper("topper")
    charge, _ = charges.start(user, "top_up", 2500, success_url=lambda c: "s", cancel_url=lambda c: "c")
    assert test_gateway.TestGateway().pay(charge.payment_session_id, "4242424242424242", 12, 2099, "123") is None
    drain()
    assert wallet.balance(user.id) == 2500
    wallet.debit(user.id, 500, "order_payment", reference="spent")
    db.session.commit()
    intent = fresh(db, Charge, charge.id).payment_intent_id
    assert refund_event(client, app, intent, 2500, "evt_topup_back").json["outcome"] == "refunded"
    assert wallet.balance(user.id) == 0
    issue = db.session.scalars(select(PaymentIssue)).one()
    assert issue.kind == "provider_refund" and issue.amount_cents == 500
    assert refund_event(client, app, intent, 2500, "evt_topup_back_2").json["outcome"] == "already"


# ---- staff and input ----

def test_staff_cannot_mark_paid_an_expired_order_whose_late_card_payment_is_being_refunded(app, db, make_book):
    book = make_book(on_hand=1)
    order = start(shopper(), [(book, 1, "buy", 1)])
    fulfilment.expire(order.payment_session_id)
    db.session.commit()
    start(shopper("quicker"), [(book, 1, "buy", 1)])
    assert settle(order, "pi_late") == "refunded"
    db.session.commit()
    staff = accounts.create_user("staffer", "staff@example.com", PASSWORD, role="admin", check_strength=False)
    with pytest.raises(orders.OrderStateError, match="being refunded"):
        orders.mark_paid(fresh(db, Order, order.id), actor=staff, reference="cash")


@pytest.mark.parametrize("bad", ["evt_\x00x", "evt_\ud800"])
def test_ids_with_nul_or_lone_surrogates_answer_400(app, client, db, make_book, bad):
    book = make_book(on_hand=1)
    order = start(shopper(), [(book, 1, "buy", 1)])
    for event in ({"id": bad, "type": "checkout.session.completed", "data": {"object": {"id": "cs_x"}}},
                  {"id": "evt_ok", "type": "checkout.session.completed",
                   "data": {"object": {"id": order.payment_session_id + bad[-2:]}}}):
        payload = json.dumps(event)
        headers = {"Stripe-Signature": test_gateway.sign(payload, app.config["STRIPE_WEBHOOK_SECRET"]),
                   "Content-Type": "application/json"}
        r = client.post("/webhooks/stripe", data=payload, headers=headers)
        assert r.status_code == 400 and r.json["error"]["code"] == "malformed_event"


def test_the_reconciler_goes_on_past_a_record_that_fails(app, db, make_book, monkeypatch):
    from webapp.services.commerce import reconcile

    a, b = make_book("Fails", on_hand=1), make_book("Works", on_hand=1)
    bad = start(shopper("one"), [(a, 1, "buy", 1)])
    good = start(shopper("two"), [(b, 1, "buy", 1)])
    real = reconcile._order

    def flaky(order_id):
        if order_id == bad.id:
            raise RuntimeError("unexpected")
        return real(order_id)

    monkeypatch.setattr(reconcile, "_order", flaky)
    assert reconcile.run(utcnow() + timedelta(minutes=45)) == {"order_error": 1, "order_expired": 1}
    assert fresh(db, Order, good.id).status == "expired" and fresh(db, Order, bad.id).status == "pending_payment"
