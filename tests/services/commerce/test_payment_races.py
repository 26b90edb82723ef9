"""Every payment ends in exactly one fulfilled order or one refund, whatever the clicks and races: real
PostgreSQL, one connection per thread (tests/concurrency.race), the offline gateway's conditional UPDATEs,
the outbox delivered to the real webhook, and the reconciler.

Each test says which behaviour of the code before the payments rework (7a10944: services/orders.py and
services/payments.py) it catches.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select

from tests.checkout_helpers import ADDRESS, pay, settle, shopper, start
from tests.concurrency import race
from tests.conftest import using_postgres
from webapp.models import (
    DiscountCode,
    DiscountRedemption,
    GatewaySession,
    Inventory,
    Order,
    OrderEvent,
    OutboundEmail,
    OutboxMessage,
    StockMovement,
    User,
    WalletEntry,
    utcnow,
)
from webapp.services.circulation import wallet
from webapp.services.commerce import cart, checkout, fulfilment, orders, payment_events, reconcile, test_gateway
from webapp.services.platform import outbox

pytestmark = pytest.mark.skipif(not using_postgres(), reason="needs TEST_DATABASE_URL (PostgreSQL): "
                                "SQLite serialises writers, so there is no race to test")

CARD = "4242424242424242"
NO_LONGER_OPEN = "PaymentError: This checkout session is no longer open."


# ---- small helpers ----

def _items(book, quantity: int = 1) -> list[cart.CartItem]:
    return [cart.CartItem(book.id, "buy", quantity, 7, book.price_cents)]


def _checkout(user, items, *, code=None, use_wallet=False, token=None):
    return checkout.start_checkout(user, items, ADDRESS, code=code, use_wallet=use_wallet, token=token,
                                   success_url=lambda o: f"http://shop.test/checkout/success/{o.number}",
                                   cancel_url=lambda o: f"http://shop.test/checkout/cancelled/{o.number}")


def _pay_on_gateway(session_id: str) -> str | None:
    return test_gateway.TestGateway().pay(session_id, CARD, 12, 2099, "123")


def _past_expiry(app):
    """A reconciler run after every page made now has expired and its grace has passed."""
    minutes = app.config["CHECKOUT_EXPIRY_MINUTES"] + 1 + app.config["RESERVATION_GRACE_MINUTES"] + 1
    return utcnow() + timedelta(minutes=minutes)


def _deliver_all(db, run_jobs) -> None:
    """Deliver everything due (gateway events to the webhook, refunds to the gateway) and run the queued jobs,
    until nothing is due; then every outbox message must have been delivered (none failed or left over)."""
    for _ in range(10):
        counts = outbox.dispatch_due()
        run_jobs()
        if not counts:
            break
    db.session.expire_all()
    left = db.session.execute(select(OutboxMessage.key, OutboxMessage.status, OutboxMessage.last_error)
                              .where(OutboxMessage.status != "delivered")).all()
    assert left == [], left


def _count(db, model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _paid_entries(db, order) -> int:
    return _count(db, OrderEvent, OrderEvent.order_id == order.id, OrderEvent.status == "paid")


def _receipts(db, order) -> int:
    return _count(db, OutboundEmail, OutboundEmail.subject.contains("receipt"),
                  OutboundEmail.subject.contains(order.number))


def _sales(db, order) -> int:
    return _count(db, StockMovement, StockMovement.reference == order.number, StockMovement.reason == "sale")


def _messages(db, kind: str) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)))


def _gateway_events(db, event_type: str) -> list[dict]:
    return [m.payload["event"] for m in _messages(db, "test_gateway_event") if m.payload["event"]["type"] == event_type]


def _refunds_for(db, order) -> list[dict]:
    return [m.payload for m in _messages(db, "refund") if m.payload["order_number"] == order.number]


def _stock(db, book_id: int) -> tuple[int, int]:
    row = db.session.get(Inventory, book_id)
    return row.on_hand, row.reserved


def _ledger_matches_inventory(db) -> int:
    """Sum of the stock ledger per book == the inventory row; returns the copies on hand in all."""
    ledger = {book_id: (on_hand, reserved) for book_id, on_hand, reserved in db.session.execute(
        select(StockMovement.book_id, func.sum(StockMovement.on_hand_delta), func.sum(StockMovement.reserved_delta))
        .group_by(StockMovement.book_id))}
    rows = {row.book_id: (row.on_hand, row.reserved) for row in db.session.scalars(select(Inventory))}
    assert ledger == rows
    return sum(on_hand for on_hand, _ in rows.values())


# ---- 1. Pay and "Back to my cart" at the same moment ----

PAY_CANCEL_ROUNDS = 30


def test_pay_and_back_to_my_cart_at_once_end_in_one_sale_or_one_refund(app, db, make_book, run_jobs, capsys):
    """Old behaviour caught: "Back to my cart" was orders.cancel(), which cancelled the order and released
    its stock first and closed the page afterwards by an ORM read-modify-write of the gateway session, while
    TestGateway.pay() checked `status == "open"` and then wrote "complete" with no condition. Both could win:
    the card was charged on a page already closed, the order stayed cancelled with its copies back on the
    shelf, and the completed event then found a cancelled (not expired) order, so fulfil() answered
    "already": money taken, nothing sold, nothing refunded."""
    rounds = []
    for i in range(PAY_CANCEL_ROUNDS):
        book = make_book(f"Race {i}", on_hand=3, price_cents=1500)
        user = shopper(f"racer{i}")
        order, _url = _checkout(user, _items(book))
        db.session.commit()
        session_id, order_id, user_id = order.payment_session_id, order.id, user.id
        answers: dict[str, object] = {}

        # The pay call reads the session before its UPDATE, the close does not: from the same start line the
        # close nearly always wins. A sweep of small head starts for the payment (0 to 1 ms) covers both orders
        # and the overlaps between them.
        head_start = (i % 5) * 0.00025

        def work(t: int, session_id=session_id, order_id=order_id, user_id=user_id, answers=answers,
                 head_start=head_start):
            if t == 0:
                db.session.get(GatewaySession, session_id)  # connect before the start line
                return lambda: answers.__setitem__("pay", _pay_on_gateway(session_id))
            thread_order, thread_user = db.session.get(Order, order_id), db.session.get(User, user_id)

            def back_to_cart():
                time.sleep(head_start)
                answers["abandon"] = checkout.abandon(thread_order, actor=thread_user)
            return back_to_cart

        outcomes = race(app, work, 2)
        rounds.append((book.id, order_id, session_id, outcomes, answers))

    _deliver_all(db, run_jobs)
    reconciled = reconcile.run(_past_expiry(app))
    db.session.commit()
    _deliver_all(db, run_jobs)

    tally: Counter[str] = Counter()
    for book_id, order_id, session_id, outcomes, answers in rounds:
        order = db.session.get(Order, order_id)
        session = db.session.get(GatewaySession, session_id)
        where = f"order {order.number}: {outcomes} {answers}"
        completed = [e for e in _gateway_events(db, "checkout.session.completed")
                     if e["data"]["object"]["id"] == session_id]
        refunds = _refunds_for(db, order)
        assert answers.get("abandon") == order.status, where  # the page's answer is the order's final state
        if session.payment_intent_id is not None:  # charged: exactly once, by exactly one intent
            assert session.status == "complete" and len(completed) == 1, where
            assert completed[0]["data"]["object"]["payment_intent"] == session.payment_intent_id, where
            assert Counter(outcomes) == {"ok": 2} and answers["pay"] is None, where
            fulfilled = order.status == "paid"
            refunded = session.amount_refunded == session.amount_total
            assert fulfilled != refunded, where  # exactly one of: a sale, or the money back
            if fulfilled:
                assert order.paid_at is not None and order.payment_intent_id == session.payment_intent_id, where
                assert (_paid_entries(db, order), _receipts(db, order), _sales(db, order)) == (1, 1, 1), where
                assert _stock(db, book_id) == (2, 0) and session.amount_refunded == 0 and refunds == [], where
                tally["paid"] += 1
            else:
                assert order.paid_at is None and order.status in ("cancelled", "expired"), where
                assert (_paid_entries(db, order), _receipts(db, order), _sales(db, order)) == (0, 0, 0), where
                assert _stock(db, book_id) == (3, 0), where
                assert [(r["payment_intent_id"], r["amount_cents"]) for r in refunds] == [
                    (session.payment_intent_id, session.amount_total)], where
                tally["refunded"] += 1
        else:  # not charged: the order is cancelled, its copies back, nothing to refund
            assert session.status == "expired" and completed == [] and session.amount_refunded == 0, where
            assert sorted(outcomes) == sorted(["ok", NO_LONGER_OPEN]), where
            assert order.status == "cancelled" and order.paid_at is None, where
            assert (_paid_entries(db, order), _receipts(db, order), _sales(db, order)) == (0, 0, 0), where
            assert _stock(db, book_id) == (3, 0) and refunds == [], where
            tally["cancelled"] += 1

    on_hand = _ledger_matches_inventory(db)
    assert on_hand == 3 * PAY_CANCEL_ROUNDS - tally["paid"]  # every sold copy left once, every other came back
    assert _count(db, Order, Order.status == "pending_payment") == 0
    with capsys.disabled():
        print(f"\npay vs back-to-cart: {PAY_CANCEL_ROUNDS} rounds: {tally['paid']} paid, {tally['cancelled']} "
              f"cancelled, {tally['refunded']} refunded; reconciler afterwards: {reconciled or 'nothing to do'}")


# ---- 2. Pay submitted four times at once ----

def test_four_pay_submits_charge_once_and_the_refund_names_that_charge(app, db, make_book, run_jobs):
    """Old behaviour caught: TestGateway.pay() checked `status == "open"` and then wrote "complete" and a
    fresh payment intent with no condition, so four submits at once were four charges with four intents and
    four checkout.session.completed events; the order kept the intent of the first event delivered while
    the session (and so the refund, which the old refund() read from the session) kept the last one
    written: the refund could name a charge that was not the order's."""
    book = make_book("Four Clicks", on_hand=3, price_cents=1500)
    user = shopper("quad")
    order, _url = _checkout(user, _items(book))
    db.session.commit()
    session_id = order.payment_session_id
    answers: list[str | None] = []

    def work(_i: int):
        db.session.get(GatewaySession, session_id)
        return lambda: answers.append(_pay_on_gateway(session_id))

    assert race(app, work, 4) == ["ok"] * 4
    assert answers == [None] * 4  # the later submits show the first result
    db.session.expire_all()
    session = db.session.get(GatewaySession, session_id)
    intent = session.payment_intent_id
    completed = _gateway_events(db, "checkout.session.completed")
    assert intent and len(completed) == 1 and completed[0]["data"]["object"]["payment_intent"] == intent

    _deliver_all(db, run_jobs)
    order = db.session.get(Order, order.id)
    assert order.status == "paid" and order.payment_intent_id == intent
    assert (_paid_entries(db, order), _receipts(db, order), _sales(db, order)) == (1, 1, 1)

    orders.cancel(order, actor=db.session.get(User, user.id))
    db.session.commit()
    _deliver_all(db, run_jobs)
    refunds = _refunds_for(db, order)
    assert [(r["payment_intent_id"], r["amount_cents"]) for r in refunds] == [(intent, order.total_cents)]
    confirmed = _gateway_events(db, "charge.refunded")
    assert [(e["data"]["object"]["payment_intent"], e["data"]["object"]["amount_refunded"]) for e in confirmed] == [
        (intent, order.total_cents)]
    session, order = db.session.get(GatewaySession, session_id), db.session.get(Order, order.id)
    assert session.amount_refunded == session.amount_total == order.total_cents
    assert order.status == "refunded" and order.refunded_cents == order.total_cents
    assert _stock(db, book.id) == (3, 0) and _ledger_matches_inventory(db) == 3


# ---- 3. Discount code limits under simultaneous checkouts ----

def _code(db, **values) -> DiscountCode:
    code = DiscountCode(kind="percent", value=50, **values)
    db.session.add(code)
    db.session.commit()
    return code


def test_a_once_per_customer_code_is_used_once_by_six_simultaneous_checkouts(app, db, make_book):
    """Old behaviour caught: the per-customer limit was only checked by the price quote (a read), with no
    lock on the customer for a purchase (lock_member was taken for rentals only), and old _redeem() checked
    the total limit alone: six checkouts at once each counted zero earlier uses and each got 50 % off."""
    books = [make_book(f"Half {i}", on_hand=2, price_cents=2000 + 100 * i) for i in range(6)]
    code = _code(db, code="HALF", max_uses_per_user=1)
    user = shopper("coupon")
    wallet.credit(user.id, 200_00, "adjustment", reference="gift")  # covers every one of them
    db.session.commit()
    user_id, carts = user.id, [_items(book) for book in books]  # plain values: no ORM object crosses threads
    made: list[str] = []

    def work(i: int):
        thread_user = db.session.get(User, user_id)
        return lambda: made.append(_checkout(thread_user, carts[i], code="HALF", use_wallet=True)[0].number)

    outcomes = race(app, work, 6)
    assert outcomes.count("ok") == 1, outcomes
    assert all("already used" in o for o in outcomes if o != "ok"), outcomes
    db.session.expire_all()
    placed = db.session.scalars(select(Order).where(Order.user_id == user.id)).all()
    assert [o.number for o in placed] == made
    (order,) = placed
    assert order.status == "paid" and order.discount_code_id == code.id and order.discount_cents > 0
    assert db.session.get(DiscountCode, code.id).uses_count == 1
    assert _count(db, DiscountRedemption, DiscountRedemption.discount_code_id == code.id) == 1
    assert wallet.balance(user.id) == 200_00 - order.total_cents
    assert _count(db, WalletEntry, WalletEntry.user_id == user.id, WalletEntry.reason == "order_payment") == 1
    assert _ledger_matches_inventory(db) == 6 * 2 - 1


def test_a_code_for_three_uses_is_used_three_times_by_ten_customers_clicking_twice(app, db, make_book):
    """Ten customers at once, each submitting the same checkout twice (a double click without the form token),
    for a code with three uses in all: three customers get it, once each.
    Old behaviour caught: the total limit was already one conditional UPDATE (that part passed), but nothing
    made a customer's two submits find each other (no customer lock, no resume by checkout key), so one
    double click made two orders and burned two of the three uses."""
    book = make_book("Popular", on_hand=20, price_cents=3000)
    code = _code(db, code="THREE", max_uses=3)
    users = [shopper(f"crowd{i}") for i in range(10)]
    user_ids, book_id, items = [u.id for u in users], book.id, _items(book)
    got: dict[int, list[str]] = {uid: [] for uid in user_ids}

    def work(i: int):
        uid = user_ids[i // 2]
        thread_user, thread_items = db.session.get(User, uid), [cart.CartItem(**vars(it)) for it in items]
        return lambda: got[uid].append(_checkout(thread_user, thread_items, code="THREE")[1])

    outcomes = race(app, work, 20)
    assert all(o == "ok" or "used up" in o for o in outcomes), outcomes
    db.session.expire_all()
    assert db.session.get(DiscountCode, code.id).uses_count == 3
    redeemers = db.session.scalars(select(DiscountRedemption.user_id)
                                   .where(DiscountRedemption.discount_code_id == code.id)).all()
    assert len(redeemers) == 3 and len(set(redeemers)) == 3
    placed = db.session.scalars(select(Order)).all()
    assert sorted(o.user_id for o in placed) == sorted(redeemers)  # one order each, all three with the code
    assert all(o.discount_code_id == code.id and o.status == "pending_payment" for o in placed)
    for uid in set(redeemers):
        assert len(got[uid]) == 2 and len(set(got[uid])) == 1  # both clicks went to the same payment page
    assert outcomes.count("ok") == 6
    assert _stock(db, book_id) == (20, 3) and _ledger_matches_inventory(db) == 20


# ---- 4. One cart submitted five times at once by one customer ----

@pytest.mark.parametrize("use_wallet,shared_token", [(False, False), (True, False), (False, True), (True, True)],
                         ids=["card", "wallet", "card-same-token", "wallet-same-token"])
def test_five_simultaneous_checkouts_of_one_cart_make_one_order(app, db, make_book, use_wallet, shared_token):
    """Five submits of one cart (two tabs, a double click; with or without the form's one-time token) find
    each other: one order, one reservation, one payment page or one wallet debit, the same answer for all.
    Old behaviour caught: start_checkout() took no lock on the customer and had neither a form token nor
    a checkout key, so five submits of one cart made five orders, reserved the copies five times, opened
    five payment pages and (with the wallet) debited the wallet five times."""
    book = make_book("Five Clicks", on_hand=10, price_cents=1500)
    user = shopper("clicker")
    total = cart.view(_items(book, 2), user=user).quote.total_cents
    if use_wallet:
        wallet.credit(user.id, 5 * total, "adjustment", reference="gift")  # enough to pay for all five
    db.session.commit()
    token = checkout.new_token() if shared_token else None
    user_id, items = user.id, _items(book, 2)
    answers: list[tuple[str, str]] = []

    def work(_i: int):
        thread_user, thread_items = db.session.get(User, user_id), [cart.CartItem(**vars(it)) for it in items]

        def submit():
            order, url = _checkout(thread_user, thread_items, use_wallet=use_wallet, token=token)
            answers.append((order.number, url))
        return submit

    outcomes = race(app, work, 5)
    assert outcomes == ["ok"] * 5
    db.session.expire_all()
    placed = db.session.scalars(select(Order).where(Order.user_id == user.id)).all()
    assert len(placed) == 1, [(o.number, o.status) for o in placed]
    (order,) = placed
    assert len(set(answers)) == 1 and answers[0][0] == order.number
    if use_wallet:
        assert order.status == "paid" and answers[0][1] == f"http://shop.test/checkout/success/{order.number}"
        assert wallet.balance(user.id) == 4 * total
        assert _count(db, WalletEntry, WalletEntry.user_id == user.id, WalletEntry.reason == "order_payment") == 1
        assert _stock(db, book.id) == (8, 0) and _sales(db, order) == 1
    else:
        assert order.status == "pending_payment" and answers[0][1] == f"/pay/test/{order.payment_session_id}"
        assert _stock(db, book.id) == (10, 2)  # one reservation of the two copies
        assert _count(db, GatewaySession) == 1
    assert _ledger_matches_inventory(db) == _stock(db, book.id)[0]


# ---- 5. A payment whose event never left ----

def _lose_completed_event(db, order) -> None:
    """The gateway charged the card but its checkout.session.completed event never left (the outbox row is
    gone; the RQ job queued for it then finds nothing to deliver)."""
    gone = db.session.execute(delete(OutboxMessage).where(OutboxMessage.key == f"event-completed-{order.payment_session_id}")
                              .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    assert gone == 1


def test_a_lost_payment_event_is_finished_by_the_reconciler_once(app, db, make_book, run_jobs):
    """Old behaviour caught: the old sweeper (sweep_expired_reservations) tried to close the page of a pending
    order, got "already completed" for a paid one, logged it and moved on, every run: a payment whose event
    was lost left the order pending for ever (the customer charged, nothing sent)."""
    book = make_book("Lost Event", on_hand=5, price_cents=1500)
    first = start(shopper("lost1"), [(book, 1, "buy", 1)])
    assert pay(first) is None
    _lose_completed_event(db, first)
    later = _past_expiry(app)
    assert reconcile.run(later) == {"order_paid": 1}
    _deliver_all(db, run_jobs)
    first = db.session.get(Order, first.id)
    assert first.status == "paid" and first.payment_intent_id
    assert (_paid_entries(db, first), _receipts(db, first), _sales(db, first)) == (1, 1, 1)

    # The same, with two reconciler runs and the success page's server-side check all at once.
    second = start(shopper("lost2"), [(book, 1, "buy", 1)])
    assert pay(second) is None
    _lose_completed_event(db, second)
    second_id = second.id

    def work(i: int):
        thread_order = db.session.get(Order, second_id)  # connect before the start line
        if i < 2:
            return lambda: reconcile.run(later)
        return lambda: checkout.confirm(thread_order)

    assert race(app, work, 3) == ["ok"] * 3
    _deliver_all(db, run_jobs)
    second = db.session.get(Order, second.id)
    assert second.status == "paid"
    assert (_paid_entries(db, second), _receipts(db, second), _sales(db, second)) == (1, 1, 1)
    assert reconcile.run(later) == {}
    assert _stock(db, book.id) == (3, 0) and _ledger_matches_inventory(db) == 3


# ---- 6. A late payment applied by the webhook, the success side and the provider's answer at once ----

LATE_ROUNDS = 3


@pytest.mark.parametrize("books_left", [True, False], ids=["honoured", "refunded"])
def test_a_late_payment_applied_from_three_sides_at_once_counts_once(app, db, make_book, run_jobs, books_left):
    """The order expired (its stock released) while its page stayed open, then the customer paid. The signed
    event reaches the webhook while, at the same moment, the checkout side applies the payment (fulfil) and
    the provider's answer is applied as the reconciler and the outbox do (apply_provider_state(retrieve())).
    Exactly one of them acts: paid once, or (the last copy sold to someone else meanwhile) refunded once.
    Old behaviour caught: _fulfil_after_expiry() took the stock again before any claim on the order, so two
    callers at once both reserved and the loser raised RuntimeError("order changed while fulfilling") (a 500
    for the webhook); with the stock gone both answered "refunded" and the refund was a provider call made
    inside the transaction."""
    expected = "paid" if books_left else "refunded"
    later = _past_expiry(app)
    for r in range(LATE_ROUNDS):
        book = make_book(f"Late {r}", on_hand=2 if books_left else 1, price_cents=1500)
        order = start(shopper(f"late{r}"), [(book, 1, "buy", 1)])
        assert fulfilment.expire(order.payment_session_id) == "expired"
        db.session.commit()
        if not books_left:  # the released copy goes to another customer first
            rival = start(shopper(f"rival{r}"), [(book, 1, "buy", 1)])
            assert settle(rival, f"pi_rival_{r}") == "paid"
            db.session.commit()
        assert pay(order) is None  # the page was still open: the payment arrives after expiry
        session_id = order.payment_session_id
        (event,) = [e for e in _gateway_events(db, "checkout.session.completed")
                    if e["data"]["object"]["id"] == session_id]
        session = db.session.get(GatewaySession, session_id)
        payment = fulfilment.Payment(session_id, session.payment_intent_id, session.amount_total, session.currency)
        db.session.rollback()
        body = json.dumps(event)
        answers: dict[str, str] = {}

        def work(i: int, body=body, payment=payment, session_id=session_id, answers=answers):
            db.session.get(GatewaySession, session_id)
            if i == 0:
                client = app.test_client()
                headers = {"Stripe-Signature": test_gateway.sign(body, app.config["STRIPE_WEBHOOK_SECRET"])}

                def webhook():
                    response = client.post("/webhooks/stripe", data=body, content_type="application/json",
                                           headers=headers)
                    assert response.status_code == 200, response.get_data(as_text=True)[:300]
                    answers["webhook"] = response.get_json()["outcome"]
                return webhook
            if i == 1:
                return lambda: answers.__setitem__("fulfil", fulfilment.fulfil(payment))
            return lambda: answers.__setitem__("provider", payment_events.apply_provider_state(
                test_gateway.TestGateway().retrieve(session_id)))

        outcomes = race(app, work, 3)
        assert outcomes == ["ok"] * 3, (outcomes, answers)
        assert sorted(answers.values()) == sorted([expected, "already", "already"]), answers
        _deliver_all(db, run_jobs)  # the outbox's copy of the event now arrives as a duplicate

        order = db.session.get(Order, order.id)
        session = db.session.get(GatewaySession, session_id)
        assert order.payment_intent_id == session.payment_intent_id
        refunds = _refunds_for(db, order)
        returned = _count(db, OutboundEmail, OutboundEmail.subject.contains(f"order {order.number} is being refunded"))
        if books_left:
            assert order.status == "paid" and order.paid_at is not None
            assert (_paid_entries(db, order), _receipts(db, order), _sales(db, order)) == (1, 1, 1)
            assert refunds == [] and session.amount_refunded == 0 and returned == 0
            assert _stock(db, book.id) == (1, 0)
        else:
            assert order.status == "expired" and order.paid_at is None
            assert (_paid_entries(db, order), _receipts(db, order), _sales(db, order)) == (0, 0, 0)
            assert [(p["payment_intent_id"], p["amount_cents"]) for p in refunds] == [
                (session.payment_intent_id, session.amount_total)]
            assert session.amount_refunded == session.amount_total and returned == 1
            assert _stock(db, book.id) == (0, 0)
    assert reconcile.run(later) == {}
    _ledger_matches_inventory(db)
