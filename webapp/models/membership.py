"""Holds (the queue for books that are out) and subscriptions (Free / Plus / Premium). Change them only
through services.circulation.holds / services.circulation.subscriptions. Charges (top-ups and plan periods paid
by card) are payment records: models.payments."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from .catalog import Book


class Tier(StrEnum):
    """A subscription plan's name, cheapest first: the order ranks them (an upgrade goes right) and sets the
    holds queue priority (the last is served first). What each plan costs and allows is the PLANS setting,
    read through services.circulation.subscriptions. The values are what the `tier` columns store."""

    FREE = "free"
    PLUS = "plus"
    PREMIUM = "premium"

    @property
    def label(self) -> str:
        """The plan's name as customers read it."""
        return self.value.capitalize()

    @property
    def rank(self) -> int:
        return list(Tier).index(self)

    @property
    def hold_priority(self) -> int:
        """Holds queue priority: 0 (the dearest plan) is served before 1 before 2 (Free)."""
        return len(Tier) - 1 - self.rank

    @classmethod
    def for_priority(cls, priority: int) -> Tier:
        """The plan whose holds queue at this priority."""
        return list(cls)[len(cls) - 1 - priority]


class HoldStatus(StrEnum):
    """Where a hold is in its life. The values are what the `status` column stores."""

    WAITING = "waiting"  # in the book's queue
    READY = "ready"  # a copy is set aside (reserved in stock under reference hold-<id>) until expires_at
    FULFILLED = "fulfilled"  # the set-aside copy went into the customer's order
    CANCELLED = "cancelled"  # by the customer, by their account closing, or because the book left the shop
    EXPIRED = "expired"  # the pick-up window passed


# The only moves a hold's status may make (services.circulation.holds refuses any other).
HOLD_TRANSITIONS: dict[HoldStatus, frozenset[HoldStatus]] = {
    HoldStatus.WAITING: frozenset({HoldStatus.READY, HoldStatus.CANCELLED}),
    HoldStatus.READY: frozenset({HoldStatus.FULFILLED, HoldStatus.EXPIRED, HoldStatus.CANCELLED}),
    # The order that collected the copy went unpaid while the pick-up window was still open.
    HoldStatus.FULFILLED: frozenset({HoldStatus.READY}),
    HoldStatus.CANCELLED: frozenset(),
    HoldStatus.EXPIRED: frozenset(),
}
OPEN_HOLD = (HoldStatus.WAITING, HoldStatus.READY)  # a place in the queue or a copy set aside
# How a closed hold ended, in the customer's words.
HOLD_OUTCOMES = {HoldStatus.FULFILLED: "collected", HoldStatus.CANCELLED: "cancelled",
                 HoldStatus.EXPIRED: "expired (not collected in time)"}
TIERS = tuple(Tier)
HOLD_STATUSES = tuple(HoldStatus)


class Hold(Model):
    """One customer's place in one book's queue; its status moves as HOLD_TRANSITIONS allows.
    The queue order is (priority, queued_at, id): priority 0 = Premium, 1 = Plus, 2 = Free."""

    __tablename__ = "holds"
    __table_args__ = (
        CheckConstraint("status IN ('waiting','ready','fulfilled','cancelled','expired')", name="status_valid"),
        CheckConstraint("priority BETWEEN 0 AND 2", name="priority_valid"),
        CheckConstraint("fee_cents >= 0 AND fee_paid_cents >= 0 AND fee_waived_cents >= 0 "
                        "AND fee_paid_cents + fee_waived_cents <= fee_cents", name="fees_valid"),
        # One open hold per customer and book.
        Index("uq_holds_open_user_book", "user_id", "book_id", unique=True,
              sqlite_where=text("status IN ('waiting','ready')"),
              postgresql_where=text("status IN ('waiting','ready')")),
        Index("ix_holds_queue", "book_id", "status", "priority", "queued_at", "id"),
        Index("ix_holds_user_status", "user_id", "status"),
        Index("ix_holds_status_expires", "status", "expires_at"),
        Index("ix_holds_status_not_needed_after", "status", "not_needed_after"),
        Index("ix_holds_status_suspended_until", "status", "suspended_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    book_id: Mapped[int] = mapped_column(ForeignKey("books.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(10), default=HoldStatus.WAITING)
    priority: Mapped[int] = mapped_column()
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # end of the pick-up window
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"), index=True)
    fee_cents: Mapped[int] = mapped_column(default=0, server_default="0")  # no-show fee
    fee_paid_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    fee_waived_cents: Mapped[int] = mapped_column(default=0, server_default="0")  # waived by staff
    # "Not needed until ...": a suspended hold keeps its place in the queue but is skipped when copies are set
    # aside; suspended_until (NULL: until the customer resumes) resumes it by itself.
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    suspended_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    not_needed_after: Mapped[datetime | None] = mapped_column(UTCDateTime())  # a waiting hold closes itself then

    book: Mapped[Book] = relationship(lazy="joined")

    @property
    def is_ready(self) -> bool:
        """A copy is set aside for the customer."""
        return self.status == HoldStatus.READY

    @property
    def is_waiting(self) -> bool:
        return self.status == HoldStatus.WAITING

    @property
    def outcome(self) -> str:
        """How the hold ended (the status itself while it is open)."""
        return HOLD_OUTCOMES.get(HoldStatus(self.status), self.status)

    @property
    def queue_tier(self) -> Tier:
        """The plan this hold queues for (its priority)."""
        return Tier.for_priority(self.priority)

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None

    @property
    def fee_due_cents(self) -> int:
        """What the customer still owes: the fee less what was paid and what staff waived."""
        return self.fee_cents - self.fee_paid_cents - self.fee_waived_cents


class Subscription(Model):
    """A customer's plan (a Tier). No row (or tier 'free') means Free. `next_tier` is what the plan becomes at
    the end of the current period (a downgrade or cancellation); NULL renews the same tier."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        CheckConstraint("tier IN ('free','plus','premium')", name="tier_valid"),
        CheckConstraint("next_tier IS NULL OR next_tier IN ('free','plus','premium')", name="next_tier_valid"),
        Index("ix_subscriptions_tier_period_end", "tier", "current_period_end"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    tier: Mapped[str] = mapped_column(String(10), default=Tier.FREE)
    current_period_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    current_period_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_tier: Mapped[str | None] = mapped_column(String(10))
    comped_until: Mapped[datetime | None] = mapped_column(UTCDateTime())  # staff gave the plan free until then
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
