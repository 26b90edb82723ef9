"""What every payment provider speaks, and nothing else: the request for a hosted payment page, the page
and its state, the errors, and the rule that no provider call happens inside a transaction that has
written. Stripe (services.commerce.stripe_gateway) and the offline test gateway (services.commerce.test_gateway)
implement `Gateway`; services.commerce.payments picks one. Kept apart so that the gateways, the code that
chooses them and the code that applies their answers all import this module and none of them each other.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ...extensions import db
from ...models.payments import SessionStatus
from ..platform import txn
from ..platform.money import money

API_VERSION = "2025-01-27.acacia"  # Stripe's API version, which the test gateway's events also follow


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
    line_items: list[dict[str, Any]]
    expires_at: datetime
    order_id: int | None = None
    charge_id: int | None = None

    @property
    def metadata(self) -> dict[str, str]:
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
    status: str  # a SessionStatus: open | complete | expired
    payment_status: str  # unpaid | paid | no_payment_required
    payment_intent: str | None
    amount_total: int | None
    currency: str | None

    @property
    def paid(self) -> bool:
        return self.status == SessionStatus.COMPLETE and self.payment_status == "paid"

    @property
    def unpaid_outcome(self) -> str:
        """What asking about an unpaid session comes to: "pending" while the page is open, else its status."""
        return "pending" if self.status == SessionStatus.OPEN else self.status


class Gateway(Protocol):
    """A payment provider. Each method is a network call (or, offline, stands for one): it runs outside
    the caller's transaction (`leave_transaction`)."""

    def create_checkout(self, request: CheckoutRequest, success_url: str, cancel_url: str) -> CheckoutSession: ...

    def retrieve(self, session_id: str) -> SessionState: ...

    def expire(self, session_id: str) -> None:
        """Close the payment page; AlreadyPaid if the customer paid first."""

    def refund(self, payment_intent_id: str, amount_cents: int, *, idempotency_key: str,
               metadata: dict[str, str]) -> None: ...


def leave_transaction() -> None:
    """End the session's (read-only) transaction before a provider call. A transaction that has written
    anything must be committed by its owner first: calling the provider inside it would hold its locks
    across the network, and a rollback after the provider acted would leave the two disagreeing."""
    session = db.session
    if txn.has_writes(session):
        raise RuntimeError("payment-provider call inside a transaction that has written: commit first")
    session.rollback()


@dataclass(frozen=True)
class Payment:
    """A payment the provider reports as taken for a checkout session."""

    session_id: str
    payment_intent_id: str | None
    amount_cents: int | None
    currency: str | None

    def mismatch(self, amount_cents: int, currency: str, what: str) -> str | None:
        """Why this payment cannot pay `amount_cents` in `currency` (for `what`), or None: nothing is
        fulfilled for less than its total, nor in another currency."""
        if not isinstance(self.amount_cents, int) or isinstance(self.amount_cents, bool):
            return "the provider did not say how much was paid"
        if (self.currency or "").lower() != currency.lower():
            return f"it was paid in {(self.currency or '?').upper()} but {what} is in {currency.upper()}"
        if self.amount_cents != amount_cents:
            return f"{money(self.amount_cents, currency)} was paid but {what} needed {money(amount_cents, currency)}"
        if not self.payment_intent_id and amount_cents:
            return "the provider did not name the payment"
        return None
