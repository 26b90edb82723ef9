"""Payment providers: Stripe Checkout when STRIPE_SECRET_KEY is set, otherwise the offline test gateway
(services.commerce.test_gateway), which follows the same flow (a hosted page, signed webhook events).

Both expose: create_checkout, retrieve, expire, refund. Every provider call happens outside any database
transaction (`leave_transaction`): the reservation is committed before the provider is asked, and no
row lock or snapshot is held while the network is slow. Work a transaction must cause at the provider
(refunds, closing a superseded payment page) goes through the outbox, so it happens once it commits and
never if it rolls back.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import stripe
from flask import current_app

from ...extensions import db
from ..platform import outbox, txn
from . import payment_issues

log = logging.getLogger(__name__)
API_VERSION = "2025-01-27.acacia"


class PaymentError(Exception):
    pass


class NoSuchSession(PaymentError):
    """The provider does not know this payment page (so nobody can pay it)."""

    def __init__(self, message: str = "No such checkout session."):
        super().__init__(message)


class AlreadyPaid(PaymentError):
    """The provider took the payment before the page could be closed."""

    def __init__(self, message: str = "The payment was already completed."):
        super().__init__(message)


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
    expires_at: datetime
    order_id: int | None = None
    charge_id: int | None = None

    @property
    def metadata(self) -> dict:
        if self.order_id is not None:
            return {"order_number": self.reference, "order_id": str(self.order_id)}
        return {"charge_reference": self.reference, "charge_id": str(self.charge_id)}

    @property
    def idempotency_key(self) -> str:
        """The same reference opens the same session however often it is asked (a resubmit, a second tab)."""
        return f"checkout-{self.reference}"


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
    currency: str | None

    @property
    def paid(self) -> bool:
        return self.status == "complete" and self.payment_status == "paid"


def provider_name() -> str:
    return "stripe" if current_app.config.get("STRIPE_SECRET_KEY") else "test"


def gateway(provider: str | None = None):
    """The gateway for `provider` (the one that took a payment), or the configured one."""
    provider = provider or provider_name()
    if provider == "stripe":
        key = current_app.config.get("STRIPE_SECRET_KEY")
        if not key:
            raise PaymentError("Stripe is not configured (STRIPE_SECRET_KEY).")
        return StripeGateway(key)
    if provider == "test":
        if current_app.config.get("FOLIO_CONFIG") == "production":
            raise PaymentError("The offline test gateway is not available in production.")
        from .test_gateway import TestGateway

        return TestGateway()
    raise PaymentError(f"No payment provider {provider!r}.")


# ---- no transaction across a network call ----

def leave_transaction() -> None:
    """End the session's (read-only) transaction before a provider call. A transaction that has written
    anything must be committed by its owner first: calling the provider inside it would hold its locks
    across the network, and a rollback after the provider acted would leave the two disagreeing."""
    session = db.session
    if txn.has_writes(session):
        raise RuntimeError("payment-provider call inside a transaction that has written: commit first")
    session.rollback()


def close_page(provider: str, session_id: str) -> None:
    """Make sure the payment page can no longer take money (outside any transaction). Raises AlreadyPaid if it
    was paid first; a page the provider does not know counts as closed. The one way a page is closed."""
    try:
        gateway(provider).expire(session_id)
    except NoSuchSession:
        log.warning("no payment page %s at %s: nothing to close", session_id, provider)


# ---- work for the provider, through the outbox ----

def request_refund(*, provider: str, payment_intent_id: str, amount_cents: int, currency: str, key: str,
                   reason: str, order_number: str | None = None, charge_reference: str | None = None) -> bool:
    """Refund `amount_cents` of the payment `payment_intent_id` once this transaction commits (once per
    `key`, which is also the provider's idempotency key). The provider's refund event confirms it."""
    return outbox.add("refund", key, {
        "idempotency_key": key, "provider": provider, "payment_intent_id": payment_intent_id, "amount_cents": amount_cents,
        "currency": currency, "reason": reason, "order_number": order_number, "charge_reference": charge_reference})


@outbox.handler("refund", gave_up=payment_issues.outbox_gave_up)
def _refund(payload: dict) -> None:
    metadata = {k: payload[k] for k in ("order_number", "charge_reference") if payload.get(k)}
    gateway(payload["provider"]).refund(payload["payment_intent_id"], payload["amount_cents"],
                                        idempotency_key=payload["idempotency_key"],
                                        metadata=metadata)


def request_expiry(*, provider: str, session_id: str, reference: str) -> bool:
    """Close a payment page once this transaction commits (a superseded checkout)."""
    return outbox.add("expire_session", f"expire-{session_id}", {"provider": provider, "session_id": session_id,
                                                                 "reference": reference})


@outbox.handler("expire_session", gave_up=payment_issues.outbox_gave_up)
def _expire(payload: dict) -> None:
    try:
        close_page(payload["provider"], payload["session_id"])
    except AlreadyPaid:
        # Paid before it could be closed: apply the payment now (its order was cancelled meanwhile, so it is
        # fulfilled if the stock can be taken again, else refunded), whether or not the webhook comes.
        from . import payment_events

        payment_events.apply_provider_state(gateway(payload["provider"]).retrieve(payload["session_id"]))
        db.session.commit()


# ---- Stripe ----

def _intent_id(value) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return getattr(value, "id", None)


class StripeGateway:
    """Real Stripe calls (test mode keys). Not reachable from this sandbox; used when keys are set."""

    def __init__(self, key: str):
        base = current_app.config.get("STRIPE_API_BASE")  # a local stub in tests; Stripe itself otherwise
        extra = {"base_addresses": {"api": base}} if base else {}
        self.client = stripe.StripeClient(key, max_network_retries=0 if base else 2, **extra)

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
            raise PaymentError(f"Stripe could not start the payment: {exc.user_message or exc}") from exc
        return CheckoutSession(session.id, session.url)

    def retrieve(self, session_id: str) -> SessionState:
        leave_transaction()
        try:
            s = self.client.v1.checkout.sessions.retrieve(session_id)
        except stripe.InvalidRequestError as exc:
            if getattr(exc, "code", None) == "resource_missing":
                raise NoSuchSession() from exc
            raise PaymentError(f"Stripe could not be asked about the payment: {exc.user_message or exc}") from exc
        except stripe.StripeError as exc:
            raise PaymentError(f"Stripe could not be asked about the payment: {exc.user_message or exc}") from exc
        return SessionState(s.id, s.status, s.payment_status, _intent_id(s.payment_intent), s.amount_total,
                            s.currency)

    def expire(self, session_id: str) -> None:
        """Close the payment page. Raises AlreadyPaid if the customer paid first."""
        leave_transaction()
        try:
            self.client.v1.checkout.sessions.expire(session_id)
        except stripe.InvalidRequestError as exc:
            state = self.retrieve(session_id)
            if state.status == "complete":
                raise AlreadyPaid() from exc
            if state.status != "expired":
                raise PaymentError(f"Stripe could not close the payment page: {exc.user_message or exc}") from exc
        except stripe.StripeError as exc:
            raise PaymentError(f"Stripe could not close the payment page: {exc.user_message or exc}") from exc

    def refund(self, payment_intent_id: str, amount_cents: int, *, idempotency_key: str, metadata: dict) -> None:
        leave_transaction()
        try:
            self.client.v1.refunds.create(params={"payment_intent": payment_intent_id, "amount": amount_cents,
                                                  "metadata": metadata},
                                          options={"idempotency_key": idempotency_key})
        except stripe.InvalidRequestError as exc:
            if getattr(exc, "code", None) == "charge_already_refunded":
                return
            # The request itself is refused (no such payment, more than is left to refund ...): asking again
            # cannot help, so staff are told at once instead of after a day and a half of retries.
            raise outbox.PermanentFailure(f"Stripe refused the refund: {exc.user_message or exc}") from exc
        except stripe.StripeError as exc:
            raise PaymentError(f"Stripe could not refund: {exc.user_message or exc}") from exc
