"""Payment records: charges (money taken through the gateway for something other than an order: wallet top-ups
and plan periods; changed only through services.commerce.charges), verified provider events (each applied
once), the offline test gateway's checkout sessions (what Stripe keeps on its side), the outbox of work a
payment must trigger, and the payment issues staff must look at. Also the states a charge and a gateway
session move through, with the one table of moves each allows (the services' conditional UPDATEs refuse
any other)."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import UTCDateTime, utcnow


class ChargeStatus(StrEnum):
    """A charge (a top-up or a plan paid by card): waiting for its payment page, paid (credited), or
    expired (the page closed unpaid; a refused payment leaves it expired too, with refunded_at set)."""

    PENDING = "pending"
    PAID = "paid"
    EXPIRED = "expired"


CHARGE_TRANSITIONS: dict[ChargeStatus, frozenset[ChargeStatus]] = {
    ChargeStatus.PENDING: frozenset({ChargeStatus.PAID, ChargeStatus.EXPIRED}),
    # A payment that arrives after its page closed is credited all the same (a wallet can always take it),
    # or, when it cannot be used, refunded: the charge then stays expired and records the refund.
    ChargeStatus.EXPIRED: frozenset({ChargeStatus.PAID, ChargeStatus.EXPIRED}),
    ChargeStatus.PAID: frozenset(),
}


class Charge(Model):
    """Money paid through the gateway that is not an order: it lands in the wallet (a top-up), and for a
    subscription is then taken from the wallet for the plan, so the ledger shows both."""

    __tablename__ = "charges"
    __table_args__ = (
        CheckConstraint("purpose IN ('top_up','subscription')", name="purpose_valid"),
        CheckConstraint("status IN ('pending','paid','expired')", name="status_valid"),
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint("tier IS NULL OR tier IN ('plus','premium')", name="tier_valid"),
        Index("ix_charges_user_created", "user_id", "created_at"),
        Index("ix_charges_status_expires", "status", "expires_at"),  # the reconciliation job's scan
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(30), unique=True)  # CH-XXXXXXXX, shown to the customer
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(20))
    tier: Mapped[str | None] = mapped_column(String(10))
    amount_cents: Mapped[int] = mapped_column()
    currency: Mapped[str] = mapped_column(String(3), default="usd")
    status: Mapped[str] = mapped_column(String(10), default=ChargeStatus.PENDING)
    payment_provider: Mapped[str] = mapped_column(String(10))
    payment_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), index=True)
    payment_url: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # when the payment page closes
    # A payment that could not be applied (wrong amount or currency) is refunded: status stays expired.
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SessionStatus(StrEnum):
    """A hosted payment page, at Stripe or the offline gateway: open, complete (paid, or a bank debit on its
    way) or expired (closed unpaid)."""

    OPEN = "open"
    COMPLETE = "complete"
    EXPIRED = "expired"


# One payment per page: it is taken or the page closes, and either is final.
SESSION_TRANSITIONS: dict[SessionStatus, frozenset[SessionStatus]] = {
    SessionStatus.OPEN: frozenset({SessionStatus.COMPLETE, SessionStatus.EXPIRED}),
    SessionStatus.COMPLETE: frozenset(),
    SessionStatus.EXPIRED: frozenset(),
}


class SessionPayment(StrEnum):
    """The money side of an offline-gateway session (Stripe reports only unpaid or paid)."""

    UNPAID = "unpaid"
    PAID = "paid"
    REFUNDED = "refunded"  # in part or in full: amount_refunded says how much


class IssueKind(StrEnum):
    """Why a payment needs a person (see services.commerce.payment_issues)."""

    AMOUNT_MISMATCH = "amount_mismatch"
    OUTBOX_FAILED = "outbox_failed"
    PROVIDER_REFUND = "provider_refund"


PAYMENT_ISSUE_KINDS = tuple(IssueKind)


class PaymentEvent(Model):
    """Every verified payment-provider event, by its id: a replay is recognised and ignored."""

    __tablename__ = "payment_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class GatewaySession(Model):
    """The offline test gateway's own record of a hosted checkout (what Stripe keeps on its side).
    One session takes at most one payment: its status moves open -> complete | expired by one
    conditional UPDATE each, so a double-clicked Pay charges once and a cancel racing a payment
    ends one way or the other."""

    __tablename__ = "gateway_sessions"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'complete', 'expired')", name="status_valid"),
        CheckConstraint("payment_status IN ('unpaid', 'paid', 'refunded')", name="payment_status_valid"),
        CheckConstraint("(order_id IS NULL) <> (charge_id IS NULL)", name="order_or_charge"),
        CheckConstraint("amount_refunded >= 0 AND amount_refunded <= amount_total", name="refund_within_amount"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # cs_test_...
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    charge_id: Mapped[int | None] = mapped_column(ForeignKey("charges.id", ondelete="CASCADE"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    amount_total: Mapped[int] = mapped_column()
    currency: Mapped[str] = mapped_column(String(3))
    customer_email: Mapped[str] = mapped_column(String(254))
    line_items: Mapped[list] = mapped_column(JSON)
    success_url: Mapped[str] = mapped_column(Text)
    cancel_url: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default=SessionStatus.OPEN)
    payment_status: Mapped[str] = mapped_column(String(10), default=SessionPayment.UNPAID)
    payment_intent_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    amount_refunded: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OutboxStatus(StrEnum):
    """Where an outbox message is: pending (due at next_attempt_at, or leased until then), delivered, or failed
    after OUTBOX_MAX_ATTEMPTS (a person looks at it; staff may send it again)."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


OUTBOX_STATUSES: tuple[OutboxStatus, ...] = tuple(OutboxStatus)


class OutboxMessage(Model):
    """Work a transaction must cause elsewhere (a provider refund, the test gateway's webhook delivery):
    written in the same transaction as the change that needs it, then delivered by the worker. Redis only
    hurries it along; the sweeper delivers whatever is due, so an outage delays a message and loses none.
    `next_attempt_at` is both the retry time and the lease of a delivery in progress."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        CheckConstraint("status IN ('pending','delivered','failed')", name="status_valid"),
        CheckConstraint("attempts >= 0", name="attempts_nonnegative"),
        Index("ix_outbox_messages_status_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    key: Mapped[str] = mapped_column(String(160), unique=True)  # one message per piece of work
    payload: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PaymentIssue(Model):
    """A payment that needs a person: an amount or currency that did not match (refunded automatically),
    outbox work that kept failing (a refund the provider refused), or a refund made at the provider that
    the shop cannot settle by itself. Shown on the admin home until resolved."""

    __tablename__ = "payment_issues"
    __table_args__ = (
        CheckConstraint("kind IN ('amount_mismatch','outbox_failed','provider_refund')", name="kind_valid"),
        UniqueConstraint("kind", "reference", name="uq_payment_issues_kind_reference"),
        Index("ix_payment_issues_open", "resolved_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str] = mapped_column(String(160))  # what it is about: a session, intent or outbox key
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"), index=True)
    charge_id: Mapped[int | None] = mapped_column(ForeignKey("charges.id", ondelete="SET NULL"), index=True)
    amount_cents: Mapped[int | None] = mapped_column()
    currency: Mapped[str | None] = mapped_column(String(3))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolution: Mapped[str | None] = mapped_column(String(300))
