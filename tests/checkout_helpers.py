"""Shared helpers for checkout tests: a verified shopper, a cart, and paying through the test gateway."""
from __future__ import annotations

import json

from webapp.extensions import db
from webapp.models import GatewaySession, Order
from webapp.services.commerce import cart, checkout, fulfilment, test_gateway
from webapp.services.commerce.checkout import ShippingAddress
from webapp.services.people import accounts

ADDRESS = ShippingAddress("Ann Reader", "1 Main Street", "Springfield", "12345", "US")


def shopper(username="shopper", verified=True):
    user = accounts.create_user(username, f"{username}@example.com", "correct horse battery staple 42",
                                verified=verified, check_strength=False)
    db.session.commit()
    return user


def start(user, lines, code=None) -> Order:
    """lines: [(book, quantity, mode, rental days)]"""
    items: list[cart.CartItem] = []
    for book, quantity, mode, days in lines:
        cart.add(items, book.id, mode=mode, quantity=quantity, days=days, user=user)
    order, url = checkout.start_checkout(user, items, ADDRESS, code=code,
                                       success_url=lambda o: f"http://shop.test/checkout/success/{o.number}",
                                       cancel_url=lambda o: f"http://shop.test/checkout/cancelled/{o.number}")
    db.session.commit()
    assert url == f"/pay/test/{order.payment_session_id}"
    return order


def pay(order: Order, card="4242424242424242") -> str | None:
    result = test_gateway.TestGateway().pay(order.payment_session_id, card, 12, 2099, "123")
    db.session.commit()
    return result


def fresh(db, order) -> Order:
    """The order as the database has it now."""
    db.session.expire_all()
    return db.session.get(Order, order.id)


def paid_order(db, run_jobs, user, book, quantity=1) -> Order:
    """An order of `quantity` copies of `book`, paid on the test gateway, its jobs run."""
    order = start(user, [(book, quantity, "buy", 1)])
    assert pay(order) is None
    run_jobs()
    return fresh(db, order)


def signed(event: dict, secret: str, timestamp: int | None = None) -> tuple[str, dict]:
    payload = json.dumps(event)
    return payload, {"Stripe-Signature": test_gateway.sign(payload, secret, timestamp), "Content-Type": "application/json"}


def completed_event(order: Order, event_id="evt_1") -> dict:
    session = db.session.get(GatewaySession, order.payment_session_id)
    session.status, session.payment_status, session.payment_intent_id = "complete", "paid", "pi_test_x" + event_id
    db.session.commit()
    return {"id": event_id, "object": "event", "type": "checkout.session.completed",
            "data": {"object": test_gateway.session_object(session)}}


def settle(order: Order, intent: str | None = "pi_test", amount: int | None = None, currency: str | None = None) -> str:
    """Apply a provider-confirmed payment of the order's card part (or `amount`) as the webhook would."""
    return fulfilment.fulfil(fulfilment.Payment(order.payment_session_id, intent,
                                                order.card_cents if amount is None else amount,
                                                currency or order.currency))


def drain() -> int:
    """Deliver outbox messages until none is due (a delivery can write new ones, as a refund's confirmation
    event); returns how many were delivered."""
    from webapp.services.platform import outbox

    delivered = 0
    while (done := outbox.dispatch_due().get("delivered", 0)):
        delivered += done
    return delivered


def deliver(order: Order, actor=None) -> Order:
    """Staff ship a paid order and mark it delivered (its rentals' loans start now), as the admin order page
    does."""
    from webapp.models import User
    from webapp.services.commerce import orders

    actor = actor or db.session.get(User, order.user_id)
    orders.mark_shipped(order, actor=actor)
    orders.mark_delivered(order, actor=actor)
    db.session.commit()
    db.session.refresh(order)
    return order
