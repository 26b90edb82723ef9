"""Payments: Stripe Checkout when STRIPE_SECRET_KEY is set, otherwise the offline test gateway,
which follows the same flow (hosted page, signed webhook events sent by the worker).

Both gateways expose: create_checkout, retrieve, expire_checkout, refund. `handle_event` turns a
verified provider event into order changes; `record_event` makes every event id count once.
"""
from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass

import stripe
from flask import current_app

from ..extensions import db
from ..models import GatewaySession, Order, PaymentEvent, utcnow

log = logging.getLogger(__name__)
API_VERSION = "2025-01-27.acacia"


class PaymentError(Exception):
    pass


@dataclass
class CheckoutRequest:
    """What to take payment for: an order (its card part) or a charge (a wallet top-up, a plan)."""

    reference: str  # order number or charge reference
    amount_cents: int
    currency: str
    email: str
    title: str
    description: str
    line_items: list[dict]
    expires_at: object  # datetime
    order_id: int | None = None
    charge_id: int | None = None

    @property
    def metadata(self) -> dict:
        if self.order_id is not None:
            return {"order_number": self.reference, "order_id": str(self.order_id)}
        return {"charge_reference": self.reference, "charge_id": str(self.charge_id)}


def order_request(order: Order) -> CheckoutRequest:
    items = [{"title": line.title, "quantity": line.quantity, "amount": line.line_cents, "mode": line.mode}
             for line in order.lines]
    if order.wallet_cents:
        items.append({"title": "Paid from your wallet", "quantity": 1, "amount": -order.wallet_cents, "mode": "wallet"})
    return CheckoutRequest(reference=order.number, amount_cents=order.card_cents, currency=order.currency,
                           email=order.email, title=f"{current_app.config['SHOP_NAME']} order {order.number}",
                           description=_line_summary(order), line_items=items, expires_at=order.reservation_expires_at,
                           order_id=order.id)


@dataclass
class CheckoutSession:
    id: str
    url: str


@dataclass
class SessionState:
    id: str
    status: str  # open | complete | expired
    payment_status: str  # unpaid | paid | no_payment_required
    payment_intent: str | None
    amount_total: int | None


def provider_name() -> str:
    return "stripe" if current_app.config.get("STRIPE_SECRET_KEY") else "test"


def gateway():
    return StripeGateway(current_app.config["STRIPE_SECRET_KEY"]) if provider_name() == "stripe" else TestGateway()


def _line_summary(order: Order) -> str:
    parts = [f"{line.quantity} × {line.title}" + (" (rental)" if line.mode == "rent" else "") for line in order.lines]
    return "; ".join(parts)[:500]


class StripeGateway:
    """Real Stripe calls (test mode keys). Not reachable from this sandbox; used when keys are set."""

    def __init__(self, key: str):
        base = current_app.config.get("STRIPE_API_BASE")  # a local stub in tests; Stripe itself otherwise
        extra = {"base_addresses": {"api": base}} if base else {}
        self.client = stripe.StripeClient(key, max_network_retries=0 if base else 2, **extra)

    def create_checkout(self, request: CheckoutRequest, success_url: str, cancel_url: str) -> CheckoutSession:
        try:
            session = self.client.v1.checkout.sessions.create(
                params={
                    "mode": "payment",
                    "client_reference_id": request.reference,
                    "metadata": request.metadata,
                    "customer_email": request.email,
                    "expires_at": int(request.expires_at.timestamp()),
                    "success_url": success_url + ("&" if "?" in success_url else "?") + "session_id={CHECKOUT_SESSION_ID}",
                    "cancel_url": cancel_url,
                    "line_items": [{
                        "quantity": 1,
                        "price_data": {
                            "currency": request.currency,
                            "unit_amount": request.amount_cents,
                            "product_data": {"name": request.title, "description": request.description},
                        },
                    }],
                },
                options={"idempotency_key": f"checkout-{request.reference}"},
            )
        except stripe.StripeError as exc:
            raise PaymentError(f"Stripe could not start the payment: {exc.user_message or exc}") from exc
        return CheckoutSession(session.id, session.url)

    def retrieve(self, session_id: str) -> SessionState:
        s = self.client.v1.checkout.sessions.retrieve(session_id)
        intent = s.payment_intent if isinstance(s.payment_intent, str) or s.payment_intent is None else s.payment_intent.id
        return SessionState(s.id, s.status, s.payment_status, intent, s.amount_total)

    def expire_checkout(self, order: Order) -> None:
        if not order.payment_session_id:
            return
        try:
            self.client.v1.checkout.sessions.expire(order.payment_session_id)
        except stripe.InvalidRequestError as exc:
            state = self.retrieve(order.payment_session_id)
            if state.status == "complete":
                raise PaymentError("The payment was already completed.") from exc
            # already expired: nothing to do

    def refund(self, order: Order, amount_cents: int) -> None:
        if not order.payment_intent_id:
            raise PaymentError("Nothing was paid, so there is nothing to refund.")
        try:
            self.client.v1.refunds.create(params={"payment_intent": order.payment_intent_id, "amount": amount_cents},
                                          options={"idempotency_key": f"refund-{order.number}-{amount_cents}"})
        except stripe.StripeError as exc:
            raise PaymentError(f"Stripe could not refund: {exc.user_message or exc}") from exc


# ---- the offline test gateway ----

TEST_CARDS = {
    "4242424242424242": None,
    "4000056655665556": None,
    "5555555555554444": None,
    "4000000000000002": "Your card was declined.",
    "4000000000009995": "Your card has insufficient funds.",
    "4000000000009987": "Your card was declined (lost card).",
    "4000000000000069": "Your card has expired.",
    "4000000000000127": "Your card's security code is incorrect.",
}


def _luhn_ok(number: str) -> bool:
    total = 0
    for i, digit in enumerate(reversed(number)):
        d = int(digit)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


class TestGateway:
    """A hosted-checkout look-alike at /pay/test/<session>: Stripe's test cards, Stripe-format
    events signed with STRIPE_WEBHOOK_SECRET and delivered to the webhook by the worker."""

    def create_checkout(self, request: CheckoutRequest, success_url: str, cancel_url: str) -> CheckoutSession:
        session = GatewaySession(
            id="cs_test_" + secrets.token_urlsafe(24), order_id=request.order_id, charge_id=request.charge_id,
            idempotency_key=f"checkout-{request.reference}", amount_total=request.amount_cents,
            currency=request.currency, customer_email=request.email, line_items=request.line_items,
            success_url=success_url, cancel_url=cancel_url, expires_at=request.expires_at)
        db.session.add(session)
        db.session.flush()
        return CheckoutSession(session.id, f"/pay/test/{session.id}")

    def _session(self, session_id: str) -> GatewaySession:
        session = db.session.get(GatewaySession, session_id)
        if session is None:
            raise PaymentError("No such checkout session.")
        return session

    def retrieve(self, session_id: str) -> SessionState:
        s = self._session(session_id)
        if s.status == "open" and s.expires_at < utcnow():
            s.status = "expired"
        payment_status = "paid" if s.payment_status in ("paid", "refunded") else "unpaid"
        return SessionState(s.id, s.status, payment_status, s.payment_intent_id, s.amount_total)

    def expire_checkout(self, order: Order) -> None:
        if not order.payment_session_id:
            return
        s = self._session(order.payment_session_id)
        if s.status == "complete":
            raise PaymentError("The payment was already completed.")
        if s.status == "open":
            s.status = "expired"
            send_test_event("checkout.session.expired", session_object(s))

    def refund(self, order: Order, amount_cents: int) -> None:
        s = self._session(order.payment_session_id) if order.payment_session_id else None
        if s is None or s.payment_status != "paid":
            raise PaymentError("Nothing was paid, so there is nothing to refund.")
        s.payment_status = "refunded"
        send_test_event("charge.refunded", {
            "id": "ch_test_" + secrets.token_hex(8), "object": "charge", "payment_intent": s.payment_intent_id,
            "amount": s.amount_total, "amount_refunded": amount_cents, "refunded": amount_cents >= s.amount_total,
            "currency": s.currency, "metadata": {"order_number": order.number}})

    def pay(self, session_id: str, card_number: str, exp_month: int, exp_year: int, cvc: str) -> str | None:
        """Charge a test card. Returns None on success or the decline message (the page shows it)."""
        s = self._session(session_id)
        if s.status != "open" or s.expires_at < utcnow():
            raise PaymentError("This checkout session is no longer open.")
        number = "".join(ch for ch in card_number if ch.isdigit())
        now = utcnow()
        if not (12 <= len(number) <= 19) or not _luhn_ok(number):
            return "Your card number is invalid."
        if (exp_year, exp_month) < (now.year, now.month) or not 1 <= exp_month <= 12:
            return "Your card's expiration date is in the past."
        if not (cvc.isdigit() and 3 <= len(cvc) <= 4):
            return "Your card's security code is invalid."
        if number not in TEST_CARDS:
            return "Use a Stripe test card, e.g. 4242 4242 4242 4242."
        decline = TEST_CARDS[number]
        if decline:
            s.last_error = decline
            return decline
        s.status, s.payment_status = "complete", "paid"
        s.payment_intent_id = "pi_test_" + secrets.token_hex(12)
        s.last_error = None
        send_test_event("checkout.session.completed", session_object(s))
        return None


def session_object(s: GatewaySession) -> dict:
    """The Stripe-format checkout.session object for a test gateway session."""
    from ..models import Charge

    if s.order_id is not None:
        order = db.session.get(Order, s.order_id)
        reference, metadata = (order.number if order else None), {"order_number": order.number if order else None}
    else:
        charge = db.session.get(Charge, s.charge_id)
        reference = charge.reference if charge else None
        metadata = {"charge_reference": reference}
    return {
        "id": s.id, "object": "checkout.session", "mode": "payment", "status": s.status,
        "payment_status": "paid" if s.payment_status in ("paid", "refunded") else "unpaid",
        "payment_intent": s.payment_intent_id, "amount_total": s.amount_total, "currency": s.currency,
        "customer_email": s.customer_email, "client_reference_id": reference,
        "metadata": metadata, "livemode": False,
        "expires_at": int(s.expires_at.timestamp()),
    }


def send_test_event(event_type: str, obj: dict) -> None:
    """Queue a signed delivery of a Stripe-format event to our webhook, after this transaction commits."""
    from rq import Retry

    from jobs.payments import deliver_test_event

    from . import tasks

    event = {"id": "evt_test_" + secrets.token_hex(12), "object": "event", "api_version": API_VERSION,
             "created": int(time.time()), "livemode": False, "type": event_type, "data": {"object": obj},
             "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None}}
    tasks.enqueue_after_commit(db.session, deliver_test_event, json.dumps(event), queue_name="default",
                               retry=Retry(max=5, interval=[2, 10, 30, 120, 600]))


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """A Stripe-Signature header for `payload` (what Stripe sends with each webhook)."""
    return stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp)


# ---- events ----

def verify_event(payload: bytes, signature_header: str | None) -> dict:
    """The event if the signature (and its timestamp) is valid; raises ValueError otherwise."""
    secret = current_app.config["STRIPE_WEBHOOK_SECRET"]
    try:
        event = stripe.Webhook.construct_event(payload, signature_header or "", secret)
    except (stripe.SignatureVerificationError, ValueError) as exc:
        raise ValueError(str(exc)) from None
    return event.to_dict() if hasattr(event, "to_dict") else dict(event)


def record_event(event: dict) -> bool:
    """Store the event id; False when it was seen before (a replay changes nothing)."""
    dialect = db.session.get_bind().dialect.name
    values = {"id": event["id"], "type": event["type"], "payload": event, "received_at": utcnow()}
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    stored = db.session.execute(dialect_insert(PaymentEvent).values(**values).on_conflict_do_nothing()
                                .returning(PaymentEvent.id)).first()
    return stored is not None


def handle_event(event: dict) -> str:
    """Apply a verified, first-seen event. Unknown types are acknowledged and ignored."""
    from . import charges, orders

    kind = event.get("type", "")
    obj = (event.get("data") or {}).get("object") or {}
    if kind.startswith("checkout.session.") and "id" in obj and orders.order_for_session(obj["id"]) is None:
        return charges.handle_session_event(kind, obj)  # a top-up or plan payment, not an order
    if kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        if obj.get("payment_status") == "paid":
            return orders.fulfil(obj["id"], payment_intent_id=obj.get("payment_intent"),
                                 amount_total=obj.get("amount_total"))
        return "awaiting_payment"  # e.g. bank debits: async_payment_succeeded follows
    if kind == "checkout.session.async_payment_failed":
        return orders.payment_failed(obj["id"])
    if kind == "checkout.session.expired":
        return orders.expire(obj["id"])
    if kind == "charge.refunded":
        if obj.get("payment_intent"):
            return orders.mark_refunded(obj["payment_intent"], int(obj.get("amount_refunded") or 0))
        return "ignored"
    return "ignored"


def confirm_from_provider(order: Order) -> str:
    """Success page: ask the provider (server side) whether the session is paid, and fulfil if so."""
    from . import orders

    if order.status != "pending_payment" or not order.payment_session_id:
        return order.status
    state = gateway().retrieve(order.payment_session_id)
    if state.payment_status == "paid":
        return orders.fulfil(state.id, payment_intent_id=state.payment_intent, amount_total=state.amount_total)
    return "pending"
