"""Carts, discount codes, orders (with line snapshots and a status timeline) and rentals.
Payment-provider records live in models.payments.

An order's status is an OrderStatus; how it may move is ORDER_TRANSITIONS, the one table that the conditional
update in services.commerce.order_state enforces and that the staff actions are derived from."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, false, text, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from .catalog import Book


class DeliveryMethod(StrEnum):
    """How an order reaches the customer (orders.delivery_method): by post, or collected in store (no shipping
    charge; "delivered" then means collected)."""

    POST = "post"
    COLLECT = "collect"


DELIVERY_METHODS: tuple[DeliveryMethod, ...] = tuple(DeliveryMethod)


class OrderStatus(StrEnum):
    """Where an order is. The values are what orders.status (and order_events.status) store, so the column,
    its CHECK constraint and the migrations are unchanged; a member compares equal to its stored string."""

    PENDING_PAYMENT = "pending_payment"  # stock reserved, waiting for the payment page
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"  # called off, paid or not; a paid one becomes refunded once the money is back
    REFUNDED = "refunded"
    EXPIRED = "expired"  # never paid: the payment page closed and the stock went back

    @property
    def words(self) -> str:
        """The status as people read it ("pending payment")."""
        return self.value.replace("_", " ")


_S = OrderStatus
# How an order's status may move: from-status -> the statuses it may move to. The one rule: every conditional
# status update goes through services.commerce.order_state.transition, which refuses any other move.
ORDER_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    _S.PENDING_PAYMENT: frozenset({_S.PAID, _S.CANCELLED, _S.EXPIRED}),
    _S.EXPIRED: frozenset({_S.PAID}),  # paid late while its books were still here, or marked paid by staff
    _S.CANCELLED: frozenset({_S.PAID, _S.REFUNDED}),  # cancelled unpaid, then paid late; or a paid one's refund settled
    # refunded: in full at the provider, before shipping; delivered straight away: collected in store
    _S.PAID: frozenset({_S.SHIPPED, _S.DELIVERED, _S.CANCELLED, _S.REFUNDED}),
    _S.SHIPPED: frozenset({_S.DELIVERED, _S.REFUNDED}),
    _S.DELIVERED: frozenset({_S.REFUNDED}),
    _S.REFUNDED: frozenset(),
}
# The moves only the payment flow makes (a late payment, a refund settling), never a staff action.
AUTOMATIC_ORDER_MOVES: frozenset[tuple[OrderStatus, OrderStatus]] = frozenset({
    (_S.CANCELLED, _S.PAID), (_S.CANCELLED, _S.REFUNDED)})


# Moves only one delivery method makes: a posted order is shipped, then delivered; a collected one goes from paid
# to delivered (collected) at the counter. order_state.transition adds the delivery method to its UPDATE.
DELIVERY_ONLY_MOVES: dict[tuple[OrderStatus, OrderStatus], DeliveryMethod] = {
    (_S.PAID, _S.SHIPPED): DeliveryMethod.POST,
    (_S.SHIPPED, _S.DELIVERED): DeliveryMethod.POST,
    (_S.PAID, _S.DELIVERED): DeliveryMethod.COLLECT,
}


def staff_moves(status: str, delivery_method: str = DeliveryMethod.POST) -> frozenset[OrderStatus]:
    """The statuses staff may move an order in `status` (sent by `delivery_method`) to: the transition table
    less the automatic moves and the other delivery method's moves."""
    current = OrderStatus(status)
    return frozenset(to for to in ORDER_TRANSITIONS[current] if (current, to) not in AUTOMATIC_ORDER_MOVES
                     and DELIVERY_ONLY_MOVES.get((current, to), delivery_method) == delivery_method)


ORDER_STATUSES: tuple[OrderStatus, ...] = tuple(OrderStatus)
# Orders that count as sales (revenue, units, frequent-reader history): paid and not cancelled or refunded since.
PAID_STATUSES: tuple[OrderStatus, ...] = (_S.PAID, _S.SHIPPED, _S.DELIVERED)


class LineMode(StrEnum):
    """How a cart or order line takes its copies (the stored values of cart_lines.mode and order_lines.mode)."""

    BUY = "buy"
    RENT = "rent"


LINE_MODES: tuple[LineMode, ...] = tuple(LineMode)


class CartLine(Model):
    """A signed-in shopper's cart line (anonymous carts live in the session)."""

    __tablename__ = "cart_lines"
    __table_args__ = (
        UniqueConstraint("user_id", "book_id", "mode", name="uq_cart_lines_user_book_mode"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("mode IN ('buy', 'rent')", name="mode_valid"),
        CheckConstraint("rental_days >= 1", name="rental_days_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    book_id: Mapped[int] = mapped_column(ForeignKey("books.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(4), default=LineMode.BUY)
    quantity: Mapped[int] = mapped_column(default=1)
    rental_days: Mapped[int] = mapped_column(default=7)
    seen_unit_cents: Mapped[int] = mapped_column()  # the price the shopper last saw
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DiscountCode(Model):
    __tablename__ = "discount_codes"
    __table_args__ = (
        CheckConstraint("kind IN ('percent', 'fixed')", name="kind_valid"),
        CheckConstraint("value > 0", name="value_positive"),
        CheckConstraint("kind <> 'percent' OR value <= 100", name="percent_max_100"),
        CheckConstraint("min_subtotal_cents >= 0", name="min_subtotal_nonnegative"),
        CheckConstraint("max_uses IS NULL OR uses_count <= max_uses", name="uses_within_limit"),
        CheckConstraint("uses_count >= 0", name="uses_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)  # stored upper-case
    description: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(8))
    value: Mapped[int] = mapped_column()  # percent (1-100) or cents
    min_subtotal_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    max_uses: Mapped[int | None] = mapped_column()
    max_uses_per_user: Mapped[int | None] = mapped_column()
    uses_count: Mapped[int] = mapped_column(default=0, server_default="0")
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Order(Model):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending_payment','paid','shipped','delivered','cancelled','refunded','expired')",
            name="status_valid",
        ),
        CheckConstraint("subtotal_cents >= 0 AND discount_cents >= 0 AND shipping_cents >= 0 AND tax_cents >= 0 "
                        "AND total_cents >= 0", name="money_nonnegative"),
        Index("ix_orders_user_created", "user_id", "created_at"),
        Index("ix_orders_status_created", "status", "created_at"),
        Index("ix_orders_created", "created_at"),
        Index("ix_orders_pending_expiry", "status", "reservation_expires_at"),
        # The report rollups' incremental refresh finds orders changed since the last refresh ...
        Index("ix_orders_updated_at", "updated_at"),
        # ... and reads paid orders by day; the admin home sums the last 30 days from this index alone.
        Index("ix_orders_paid_at", "paid_at", "status", "total_cents", "refunded_cents"),
        CheckConstraint("wallet_cents >= 0", name="wallet_cents_nonnegative"),
        CheckConstraint("member_discount_cents >= 0", name="member_discount_nonnegative"),
        # A resubmitted checkout form (double click, back and submit) finds the order it already made.
        Index("uq_orders_user_idempotency_key", "user_id", "idempotency_key", unique=True),
        # ... and a guest's (no user: NULLs never collide in the index above).
        Index("uq_orders_guest_idempotency_key", "idempotency_key", unique=True,
              sqlite_where=text("user_id IS NULL"), postgresql_where=text("user_id IS NULL")),
        # Order lookup (number + email) and claiming a guest's orders once they make an account.
        Index("ix_orders_guest_email", "email", sqlite_where=text("guest"), postgresql_where=text("guest")),
        CheckConstraint("delivery_method IN ('post', 'collect')", name="delivery_method_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # random, shown to customers
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20), default=OrderStatus.PENDING_PAYMENT)
    email: Mapped[str] = mapped_column(String(254))
    guest: Mapped[bool] = mapped_column(default=False, server_default=false())  # placed without an account
    ship_name: Mapped[str] = mapped_column(String(120))
    ship_line1: Mapped[str] = mapped_column(String(200))
    ship_line2: Mapped[str | None] = mapped_column(String(200))
    ship_city: Mapped[str] = mapped_column(String(100))
    ship_region: Mapped[str | None] = mapped_column(String(100))
    ship_postcode: Mapped[str] = mapped_column(String(20))
    ship_country: Mapped[str] = mapped_column(String(2))
    ship_phone: Mapped[str | None] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3), default="usd")
    delivery_method: Mapped[str] = mapped_column(String(10), default=DeliveryMethod.POST, server_default="post")
    subtotal_cents: Mapped[int] = mapped_column()
    discount_cents: Mapped[int] = mapped_column(default=0)  # all discounts: member + code
    member_discount_cents: Mapped[int] = mapped_column(default=0, server_default="0")  # the plan's share of it
    shipping_cents: Mapped[int] = mapped_column(default=0)
    tax_cents: Mapped[int] = mapped_column(default=0)
    total_cents: Mapped[int] = mapped_column()
    wallet_cents: Mapped[int] = mapped_column(default=0, server_default="0")  # paid from the wallet; the rest by card
    discount_code_id: Mapped[int | None] = mapped_column(ForeignKey("discount_codes.id", ondelete="SET NULL"))
    payment_provider: Mapped[str] = mapped_column(String(10))  # stripe | test
    payment_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), index=True)
    payment_url: Mapped[str | None] = mapped_column(Text)  # the provider's payment page, to send a second tab back
    # What was checked out (lines, code, address, wallet choice): a second tab with the same cart resumes this order.
    checkout_key: Mapped[str | None] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(64))  # the checkout form's one-time token
    reservation_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refunded_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    lines: Mapped[list[OrderLine]] = relationship(back_populates="order", order_by="OrderLine.id",
                                                  cascade="all, delete-orphan", lazy="selectin")
    events: Mapped[list[OrderEvent]] = relationship(order_by="OrderEvent.id", cascade="all, delete-orphan",
                                                    lazy="raise_on_sql")
    discount_code: Mapped[DiscountCode | None] = relationship(lazy="joined")

    @property
    def card_cents(self) -> int:
        """What the payment provider charges: the total less the wallet's part."""
        return self.total_cents - self.wallet_cents

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def cancellable(self) -> bool:
        """The customer may still call it off (before it ships)."""
        return OrderStatus.CANCELLED in ORDER_TRANSITIONS[OrderStatus(self.status)]

    @property
    def is_sale(self) -> bool:
        """Paid and not cancelled or refunded since (PAID_STATUSES)."""
        return self.status in PAID_STATUSES

    @property
    def status_words(self) -> str:
        return OrderStatus(self.status).words

    def shipping_lines(self) -> list[str]:
        return [p for p in (self.ship_name, self.ship_line1, self.ship_line2,
                            " ".join(x for x in (self.ship_city, self.ship_region, self.ship_postcode) if x),
                            self.ship_country) if p]


class OrderLine(Model):
    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("mode IN ('buy', 'rent')", name="mode_valid"),
        CheckConstraint("unit_cents >= 0 AND line_cents >= 0", name="money_nonnegative"),
        Index("ix_order_lines_book_id", "book_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    book_id: Mapped[int | None] = mapped_column(ForeignKey("books.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(300))
    isbn13: Mapped[str] = mapped_column(String(13))
    mode: Mapped[str] = mapped_column(String(4))
    rental_days: Mapped[int | None] = mapped_column()
    quantity: Mapped[int] = mapped_column()
    unit_cents: Mapped[int] = mapped_column()  # price per copy (per copy for the whole rental when renting)
    line_cents: Mapped[int] = mapped_column()

    order: Mapped[Order] = relationship(back_populates="lines")


class OrderEvent(Model):
    """The order's status timeline."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20))  # an OrderStatus: the order's status when this happened
    note: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def status_words(self) -> str:
        return OrderStatus(self.status).words


class DiscountRedemption(Model):
    __tablename__ = "discount_redemptions"
    __table_args__ = (Index("ix_discount_redemptions_code_user", "discount_code_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    discount_code_id: Mapped[int] = mapped_column(ForeignKey("discount_codes.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RentalStatus(StrEnum):
    """Where a rented copy is. The values are what the `status` column stores."""

    ACTIVE = "active"  # the shop's copy is out for the customer: on its way (no loan clock yet), with them, or sent back
    RETURNED = "returned"  # back on the shelf (late fee, if any, settled or recorded at return)
    LOST = "lost"  # overdue past RENTAL_LOST_AFTER_DAYS: written off and the replacement charged; a return reverses it


# The only moves a rental's status may make (services.circulation.rentals refuses any other).
RENTAL_TRANSITIONS: dict[RentalStatus, frozenset[RentalStatus]] = {
    RentalStatus.ACTIVE: frozenset({RentalStatus.RETURNED, RentalStatus.LOST}),
    RentalStatus.LOST: frozenset({RentalStatus.RETURNED}),  # it came back after all
    RentalStatus.RETURNED: frozenset(),
}


class Rental(Model):
    """One rented copy: active until it comes back (or its order is called off), then returned; lost if it never
    does. The loan clock (starts_at, due_at) starts when the order is delivered or collected: both are NULL while
    the copy is on its way. `sent_back_at` is the customer's "I have posted it back": fees stop that day."""

    __tablename__ = "rentals"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'returned', 'lost')", name="status_valid"),
        CheckConstraint("fee_cents >= 0 AND fee_paid_cents >= 0 AND fee_waived_cents >= 0 "
                        "AND fee_paid_cents + fee_waived_cents <= fee_cents", name="fees_valid"),
        CheckConstraint("replacement_cents >= 0", name="replacement_nonnegative"),
        Index("ix_rentals_user_status", "user_id", "status"),
        Index("ix_rentals_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    book_id: Mapped[int] = mapped_column(ForeignKey("books.id", ondelete="CASCADE"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(10), default=RentalStatus.ACTIVE)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # delivered or collected; NULL on its way
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # NULL until the loan starts
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the customer posted it back
    lost_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    renewed: Mapped[bool] = mapped_column(default=False, server_default=false())
    fee_cents: Mapped[int] = mapped_column(default=0, server_default="0")  # late fee (+ replacement once lost)
    fee_paid_cents: Mapped[int] = mapped_column(default=0, server_default="0")  # paid (wallet, card) so far
    fee_waived_cents: Mapped[int] = mapped_column(default=0, server_default="0")  # waived by staff
    replacement_cents: Mapped[int] = mapped_column(default=0, server_default="0")  # charged when it became lost
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # "due in 2 days", once
    overdue_notice_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # "overdue", once

    book: Mapped[Book] = relationship(lazy="joined")

    @property
    def is_returned(self) -> bool:
        return self.status == RentalStatus.RETURNED

    @property
    def fee_due_cents(self) -> int:
        """What the customer still owes on this rental: fees less what was paid and what staff waived."""
        return self.fee_cents - self.fee_paid_cents - self.fee_waived_cents
