"""The offline test gateway: a hosted-checkout look-alike at /pay/test/<session> for when Stripe keys are not
set (development, tests, demos; never production). It behaves like Stripe where it matters:

- a session takes one payment: Pay moves it open -> complete with one conditional UPDATE (`_move`, which
  allows only the moves in models.payments.SESSION_TRANSITIONS), so a double-clicked Pay charges once and
  the second submit shows the first result;
- closing a session (expire) and paying it race to the same row: exactly one wins, and a close that
  loses answers AlreadyPaid, as Stripe's expire does for a completed session;
- refunds name the payment intent that was charged and are idempotent by key;
- Stripe-format events signed with STRIPE_WEBHOOK_SECRET are written to the outbox in the same
  transaction as the change they report, and delivered to our own webhook through the full WSGI stack.
"""
from __future__ import annotations

import json
import logging
import secrets
import time
from typing import Any

import stripe
from flask import current_app
from sqlalchemy import ColumnElement, select, update
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...models import Charge, GatewaySession, Order, utcnow
from ...models.payments import SESSION_TRANSITIONS, SessionPayment, SessionStatus
from ..platform import dml, outbox
from ..platform.states import IllegalMove, require_move
from . import payment_issues
from .provider import (
    API_VERSION,
    AlreadyPaid,
    CheckoutRequest,
    CheckoutSession,
    NoSuchSession,
    PaymentError,
    SessionState,
    leave_transaction,
)

log = logging.getLogger(__name__)

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


def card_problem(card_number: str, exp_month: int, exp_year: int, cvc: str) -> str | None:
    """What is wrong with the card details, as Stripe's page would say it (None: a usable test card)."""
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
    return TEST_CARDS[number]


class SessionStateError(IllegalMove):
    """A move of a session's status that SESSION_TRANSITIONS does not allow (a bug, never a customer's doing)."""


def _move(session_id: str, from_status: SessionStatus, to_status: SessionStatus, *conditions: ColumnElement[bool],
          **values: object) -> bool:
    """Move the session from `from_status` to `to_status` if it is still there (and meets `conditions`); True
    if this call did it. The one way a session's status changes."""
    require_move(SESSION_TRANSITIONS, (from_status,), to_status, what="a checkout session", error=SessionStateError)
    return dml.changed(update(GatewaySession)
                       .where(GatewaySession.id == session_id, GatewaySession.status == from_status, *conditions)
                       .values(status=to_status, **values).execution_options(synchronize_session=False)) == 1


class TestGateway:
    """The offline gateway. Each method is a provider call: it runs outside the caller's transaction and
    commits its own work, as Stripe's servers would."""

    def create_checkout(self, request: CheckoutRequest, success_url: str, cancel_url: str) -> CheckoutSession:
        leave_transaction()
        existing = self._by_key(request.idempotency_key)
        if existing is None:
            session = GatewaySession(
                id="cs_test_" + secrets.token_urlsafe(24), order_id=request.order_id, charge_id=request.charge_id,
                idempotency_key=request.idempotency_key, amount_total=request.amount_cents,
                currency=request.currency, customer_email=request.email, line_items=request.line_items,
                success_url=success_url, cancel_url=cancel_url, expires_at=request.expires_at)
            db.session.add(session)
            try:
                db.session.commit()
                existing = session
            except IntegrityError:  # the same request at the same moment: Stripe answers both with one session
                db.session.rollback()
                existing = self._by_key(request.idempotency_key)
                if existing is None:
                    raise
        return CheckoutSession(existing.id, f"/pay/test/{existing.id}")

    def _by_key(self, key: str) -> GatewaySession | None:
        return db.session.scalar(select(GatewaySession).where(GatewaySession.idempotency_key == key))

    def _session(self, session_id: str) -> GatewaySession:
        session = db.session.get(GatewaySession, session_id)
        if session is None:
            db.session.rollback()
            raise NoSuchSession()
        return session

    def retrieve(self, session_id: str) -> SessionState:
        leave_transaction()
        # A page whose time is up is closed for good, as at Stripe (which also sends checkout.session.expired;
        # here the reconciliation job does that work).
        _move(session_id, SessionStatus.OPEN, SessionStatus.EXPIRED, GatewaySession.expires_at < utcnow())
        db.session.commit()
        s = self._session(session_id)
        state = SessionState(s.id, s.status, _stripe_payment_status(s), s.payment_intent_id, s.amount_total,
                             s.currency)
        db.session.rollback()
        return state

    def expire(self, session_id: str) -> None:
        """Close the payment page; AlreadyPaid if it was paid first. Stripe sends checkout.session.expired."""
        leave_transaction()
        if not _move(session_id, SessionStatus.OPEN, SessionStatus.EXPIRED):
            s = self._session(session_id)
            status = s.status
            db.session.rollback()
            if status == SessionStatus.COMPLETE:
                raise AlreadyPaid()
            return  # already expired
        s = self._session(session_id)
        db.session.refresh(s)
        _queue_event("checkout.session.expired", session_object(s), key=f"expired-{session_id}")
        db.session.commit()

    def refund(self, payment_intent_id: str, amount_cents: int, *, idempotency_key: str,
               metadata: dict[str, str]) -> None:
        """Refund part or all of the payment; the same idempotency key refunds once."""
        leave_transaction()
        s = db.session.scalar(select(GatewaySession).where(GatewaySession.payment_intent_id == payment_intent_id))
        if s is None or s.payment_status == SessionPayment.UNPAID:
            db.session.rollback()
            raise outbox.PermanentFailure(f"No payment {payment_intent_id} to refund.")
        if outbox.exists(f"event-refund-{idempotency_key}"):
            db.session.rollback()
            return  # this refund was made already (a retry after a lost answer)
        done = db.session.execute(
            update(GatewaySession)
            .where(GatewaySession.id == s.id, GatewaySession.amount_refunded + amount_cents <= GatewaySession.amount_total)
            .values(amount_refunded=GatewaySession.amount_refunded + amount_cents,
                    payment_status=SessionPayment.REFUNDED)
            .returning(GatewaySession.amount_refunded)
            .execution_options(synchronize_session=False)).scalar_one_or_none()
        if done is None:
            db.session.rollback()
            raise outbox.PermanentFailure(f"Refund of {amount_cents} exceeds what is left of {payment_intent_id}.")
        charge = {"id": "ch_test_" + secrets.token_hex(8), "object": "charge", "payment_intent": payment_intent_id,
                  "amount": s.amount_total, "amount_refunded": done, "refunded": done >= s.amount_total,
                  "currency": s.currency, "metadata": metadata}
        if not _queue_event("charge.refunded", charge, key=f"refund-{idempotency_key}"):
            db.session.rollback()  # this refund was made already: undo the second one
            return
        db.session.commit()

    def pay(self, session_id: str, card_number: str, exp_month: int, exp_year: int, cvc: str) -> str | None:
        """Charge a test card: None when the session is paid (now, or already by an earlier submit), else the
        decline message. Raises PaymentError when the page is closed."""
        leave_transaction()
        s = self._session(session_id)
        if s.status == SessionStatus.COMPLETE:
            db.session.rollback()
            return None  # a second submit shows the first result
        if s.status != SessionStatus.OPEN or s.expires_at < utcnow():
            db.session.rollback()
            raise PaymentError("This checkout session is no longer open.")
        problem = card_problem(card_number, exp_month, exp_year, cvc)
        if problem:
            if problem in TEST_CARDS.values():  # a real decline is remembered on the session, as Stripe does
                db.session.execute(update(GatewaySession).where(GatewaySession.id == session_id)
                                   .values(last_error=problem).execution_options(synchronize_session=False))
                db.session.commit()
            else:
                db.session.rollback()
            return problem
        intent = "pi_test_" + secrets.token_hex(12)
        paid = _move(session_id, SessionStatus.OPEN, SessionStatus.COMPLETE, GatewaySession.expires_at > utcnow(),
                     payment_status=SessionPayment.PAID, payment_intent_id=intent, last_error=None)
        if not paid:  # a twin submit or a close won the race: report what happened
            db.session.rollback()
            s = self._session(session_id)
            status = s.status
            db.session.rollback()
            if status == SessionStatus.COMPLETE:
                return None
            raise PaymentError("This checkout session is no longer open.")
        db.session.refresh(s)
        _queue_event("checkout.session.completed", session_object(s), key=f"completed-{session_id}")
        db.session.commit()
        return None


def order_for(s: GatewaySession) -> Order | None:
    """The order a payment page takes money for (None: a charge), so that the page itemises it as the order has it:
    lines, discounts, shipping, tax, the wallet's part and the rest to pay, adding up to what is charged."""
    return db.session.get(Order, s.order_id) if s.order_id is not None else None


def _stripe_payment_status(s: GatewaySession) -> str:
    """The session's payment status as Stripe reports it (Stripe has no "refunded" here: a refund is its own object)."""
    return "unpaid" if s.payment_status == SessionPayment.UNPAID else "paid"


def session_object(s: GatewaySession) -> dict[str, Any]:
    """The Stripe-format checkout.session object for a test gateway session."""
    if s.order_id is not None:
        reference = db.session.scalar(select(Order.number).where(Order.id == s.order_id))
        metadata = {"order_number": reference}
    else:
        reference = db.session.scalar(select(Charge.reference).where(Charge.id == s.charge_id))
        metadata = {"charge_reference": reference}
    return {
        "id": s.id, "object": "checkout.session", "mode": "payment", "status": s.status,
        "payment_status": _stripe_payment_status(s),
        "payment_intent": s.payment_intent_id, "amount_total": s.amount_total, "currency": s.currency,
        "customer_email": s.customer_email, "client_reference_id": reference,
        "metadata": metadata, "livemode": False,
        "expires_at": int(s.expires_at.timestamp()),
    }


def _queue_event(event_type: str, obj: dict[str, Any], *, key: str) -> bool:
    """A Stripe-format event for our webhook, in the outbox with the change it reports (once per key)."""
    event = {"id": "evt_test_" + secrets.token_hex(12), "object": "event", "api_version": API_VERSION,
             "created": int(time.time()), "livemode": False, "type": event_type, "data": {"object": obj},
             "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None}}
    return outbox.add("test_gateway_event", f"event-{key}", {"event": event})


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """A Stripe-Signature header for `payload` (what Stripe sends with each webhook)."""
    return str(stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp))


class DeliveryFailed(RuntimeError):
    pass


@outbox.handler("test_gateway_event", gave_up=payment_issues.outbox_gave_up)
def _deliver(payload: dict[str, Any]) -> None:
    """POST the signed event to our own webhook, through the same WSGI stack a Stripe delivery takes, in
    a fresh app context (the webhook's own session). Non-2xx answers raise, so the outbox retries."""
    app = current_app  # the proxy names the same app inside the fresh context pushed below
    body = json.dumps(payload["event"])
    signature = sign(body, app.config["STRIPE_WEBHOOK_SECRET"])
    with app.app_context(), app.test_client() as client:
        response = client.post("/webhooks/stripe", data=body, content_type="application/json",
                               headers={"Stripe-Signature": signature, "User-Agent": "Folio-TestGateway/1.0"})
    if response.status_code >= 300:
        raise DeliveryFailed(f"webhook answered {response.status_code}: {response.get_data(as_text=True)[:200]}")
