"""Payment providers: Stripe Checkout when STRIPE_SECRET_KEY is set (services.commerce.stripe_gateway),
otherwise the offline test gateway (services.commerce.test_gateway), which follows the same flow (a hosted
page, signed webhook events). Both implement provider.Gateway: create_checkout, retrieve, expire, refund.

Every provider call happens outside any database transaction (`leave_transaction`): the reservation is
committed before the provider is asked, and no row lock or snapshot is held while the network is slow.
Work a transaction must cause at the provider (refunds, closing a superseded payment page) goes through
the outbox, so it happens once it commits and never if it rolls back.

The provider-neutral types and errors live in services.commerce.provider and are re-exported here, so
callers need one module: `payments.gateway(...)`, `payments.PaymentError`, `payments.CheckoutRequest`.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import current_app

from ...extensions import db
from ..platform import outbox
from . import payment_issues
from .provider import (
    AlreadyPaid,
    CheckoutRequest,
    CheckoutSession,
    Gateway,
    NoSuchSession,
    PaymentError,
    SessionState,
    leave_transaction,
)
from .stripe_gateway import StripeGateway
from .test_gateway import TestGateway

__all__ = [
    "AlreadyPaid", "CheckoutRequest", "CheckoutSession", "Gateway", "NoSuchSession", "PaymentError", "SessionState",
    "close_page", "gateway", "leave_transaction", "provider_name", "request_expiry", "request_refund",
    "settle_paid_with",
]

log = logging.getLogger(__name__)


def provider_name() -> str:
    return "stripe" if current_app.config.get("STRIPE_SECRET_KEY") else "test"


def gateway(provider: str | None = None) -> Gateway:
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
        return TestGateway()
    raise PaymentError(f"No payment provider {provider!r}.")


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
def _refund(payload: dict[str, Any]) -> None:
    metadata = {k: payload[k] for k in ("order_number", "charge_reference") if payload.get(k)}
    gateway(payload["provider"]).refund(payload["payment_intent_id"], payload["amount_cents"],
                                        idempotency_key=payload["idempotency_key"],
                                        metadata=metadata)


def request_expiry(*, provider: str, session_id: str, reference: str) -> bool:
    """Close a payment page once this transaction commits (a superseded checkout)."""
    return outbox.add("expire_session", f"expire-{session_id}", {"provider": provider, "session_id": session_id,
                                                                 "reference": reference})


ApplyPaid = Callable[[SessionState], str]
_apply_paid: ApplyPaid | None = None


def settle_paid_with(apply: ApplyPaid) -> None:
    """Name what applies a payment that came in while its page was being closed. That is
    services.commerce.payment_events (`services.connect()` hands over `apply_provider_state`): it applies payments
    to orders and charges, which use this module, so this module cannot import it."""
    global _apply_paid
    _apply_paid = apply


@outbox.handler("expire_session", gave_up=payment_issues.outbox_gave_up)
def _expire(payload: dict[str, Any]) -> None:
    try:
        close_page(payload["provider"], payload["session_id"])
    except AlreadyPaid:
        # Paid before it could be closed: apply the payment now (its order was cancelled meanwhile, so it is
        # fulfilled if the stock can be taken again, else refunded), whether or not the webhook comes.
        if _apply_paid is None:
            raise RuntimeError("nothing applies payments (services.connect() was not called)") from None
        _apply_paid(gateway(payload["provider"]).retrieve(payload["session_id"]))
        db.session.commit()
