"""Payment-provider records: verified provider events (each applied once), the offline test gateway's
checkout sessions (what Stripe keeps on its side), the outbox of work a payment must trigger, and the
payment issues staff must look at."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import UTCDateTime, utcnow

OUTBOX_STATUSES = ("pending", "delivered", "failed")
PAYMENT_ISSUE_KINDS = ("amount_mismatch", "outbox_failed", "provider_refund")


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
    status: Mapped[str] = mapped_column(String(10), default="open")
    payment_status: Mapped[str] = mapped_column(String(10), default="unpaid")
    payment_intent_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    amount_refunded: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


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
    status: Mapped[str] = mapped_column(String(10), default="pending")
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
