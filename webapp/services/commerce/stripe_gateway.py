"""Stripe Checkout (test-mode keys): the real provider, used when STRIPE_SECRET_KEY is set. Not reachable from
this sandbox; the tests run it against a local Stripe-shaped stub (STRIPE_API_BASE).

Stripe's SDK objects are loosely typed (optional fields, expandable ids, errors with optional codes): they are
turned into this app's own types (provider.CheckoutSession, provider.SessionState) here and go no further.
"""
from __future__ import annotations

import stripe
from flask import current_app

from ...models.payments import SessionStatus
from ..platform import outbox
from .provider import (
    AlreadyPaid,
    CheckoutRequest,
    CheckoutSession,
    NoSuchSession,
    PaymentError,
    SessionState,
    leave_transaction,
)


def _intent_id(value: str | stripe.PaymentIntent | None) -> str | None:
    """A payment intent's id, whether Stripe gave the id or (expanded) the object."""
    if value is None or isinstance(value, str):
        return value
    return value.id


def _says(exc: stripe.StripeError) -> str:
    """What Stripe said, for people (its user message when it has one)."""
    return str(exc.user_message or exc)


class StripeGateway:
    """Real Stripe calls. Each leaves the caller's transaction first (provider.leave_transaction)."""

    def __init__(self, key: str):
        base = current_app.config.get("STRIPE_API_BASE")  # a local stub in tests; Stripe itself otherwise
        if base:
            self.client = stripe.StripeClient(key, max_network_retries=0, base_addresses={"api": base})
        else:
            self.client = stripe.StripeClient(key, max_network_retries=2)

    def create_checkout(self, request: CheckoutRequest, success_url: str, cancel_url: str) -> CheckoutSession:
        leave_transaction()
        try:
            session = self.client.v1.checkout.sessions.create(
                params={
                    "mode": "payment",
                    "client_reference_id": request.reference,
                    "metadata": request.metadata,
                    "payment_intent_data": {"metadata": request.metadata},
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
                options={"idempotency_key": request.idempotency_key},
            )
        except stripe.StripeError as exc:
            raise PaymentError(f"Stripe could not start the payment: {_says(exc)}") from exc
        if not session.url:
            raise PaymentError("Stripe could not start the payment: it gave no payment page.")
        return CheckoutSession(session.id, session.url)

    def retrieve(self, session_id: str) -> SessionState:
        leave_transaction()
        try:
            s = self.client.v1.checkout.sessions.retrieve(session_id)
        except stripe.InvalidRequestError as exc:
            if exc.code == "resource_missing":
                raise NoSuchSession() from exc
            raise PaymentError(f"Stripe could not be asked about the payment: {_says(exc)}") from exc
        except stripe.StripeError as exc:
            raise PaymentError(f"Stripe could not be asked about the payment: {_says(exc)}") from exc
        return SessionState(s.id, s.status or "", s.payment_status, _intent_id(s.payment_intent), s.amount_total,
                            s.currency)

    def expire(self, session_id: str) -> None:
        """Close the payment page. Raises AlreadyPaid if the customer paid first."""
        leave_transaction()
        try:
            self.client.v1.checkout.sessions.expire(session_id)
        except stripe.InvalidRequestError as exc:
            state = self.retrieve(session_id)
            if state.status == SessionStatus.COMPLETE:
                raise AlreadyPaid() from exc
            if state.status != SessionStatus.EXPIRED:
                raise PaymentError(f"Stripe could not close the payment page: {_says(exc)}") from exc
        except stripe.StripeError as exc:
            raise PaymentError(f"Stripe could not close the payment page: {_says(exc)}") from exc

    def refund(self, payment_intent_id: str, amount_cents: int, *, idempotency_key: str,
               metadata: dict[str, str]) -> None:
        leave_transaction()
        try:
            self.client.v1.refunds.create(params={"payment_intent": payment_intent_id, "amount": amount_cents,
                                                  "metadata": metadata},
                                          options={"idempotency_key": idempotency_key})
        except stripe.InvalidRequestError as exc:
            if exc.code == "charge_already_refunded":
                return
            # The request itself is refused (no such payment, more than is left to refund ...): asking again
            # cannot help, so staff are told at once instead of after a day and a half of retries.
            raise outbox.PermanentFailure(f"Stripe refused the refund: {_says(exc)}") from exc
        except stripe.StripeError as exc:
            raise PaymentError(f"Stripe could not refund: {_says(exc)}") from exc
