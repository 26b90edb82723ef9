"""Stock per book and the stock ledger. Change stock only through services.inventory.stock."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Computed, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .types import UTCDateTime, utcnow

MOVEMENT_REASONS = (
    "initial",  # stock loaded with a new book (seed, import, create)
    "restock",
    "adjustment",  # manual correction by staff, with a note
    "reserve",  # checkout started: reserved += q
    "release",  # reservation expired/cancelled: reserved -= q
    "sale",  # payment captured: on_hand -= q, reserved -= q
    "return",  # rental returned or order cancelled after sale: on_hand += q
    "rental_out",
    "lost",  # a rented copy that never came back, written off (on_hand unchanged: it left at rental_out)
    "found",  # a copy written off as lost came back: on_hand += 1
)


class Inventory(Model):
    __tablename__ = "inventory"
    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="on_hand_nonnegative"),
        CheckConstraint("reserved >= 0", name="reserved_nonnegative"),
        CheckConstraint("reserved <= on_hand", name="reserved_le_on_hand"),
        Index("ix_inventory_available", "available"),
        # Low-stock counts (available at or under each book's own threshold) from the index alone.
        Index("ix_inventory_available_threshold", "available", "low_stock_threshold"),
        # The highest own threshold bounds that range scan (few books have one: a small partial index).
        Index("ix_inventory_threshold_set", "low_stock_threshold", sqlite_where=text("low_stock_threshold IS NOT NULL"),
              postgresql_where=text("low_stock_threshold IS NOT NULL")),
        # "In stock" checks per book (listing filter) read both columns from the index alone.
        Index("ix_inventory_book_id_available", "book_id", "available"),
    )

    book_id: Mapped[int] = mapped_column(ForeignKey("books.id", ondelete="CASCADE"), primary_key=True)
    on_hand: Mapped[int] = mapped_column(default=0, server_default="0")
    reserved: Mapped[int] = mapped_column(default=0, server_default="0")
    # "In stock" everywhere means on_hand - reserved: one definition, computed by the database.
    available: Mapped[int] = mapped_column(Computed("on_hand - reserved", persisted=True))
    low_stock_threshold: Mapped[int | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    book = relationship("Book", back_populates="inventory")


class StockMovement(Model):
    __tablename__ = "stock_movements"
    __table_args__ = (
        CheckConstraint(
            "reason IN ('initial','restock','adjustment','reserve','release','sale','return','rental_out','lost','found')",
            name="reason_valid",
        ),
        Index("ix_stock_movements_book_created", "book_id", "created_at"),
        Index("ix_stock_movements_reference", "reference"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    book_id: Mapped[int] = mapped_column(ForeignKey("books.id", ondelete="CASCADE"))
    on_hand_delta: Mapped[int] = mapped_column(default=0)
    reserved_delta: Mapped[int] = mapped_column(default=0)
    reason: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str | None] = mapped_column(String(80))
    note: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StockAlert(Model):
    """Available stock fell to or below the book's low-stock threshold. One open alert per book; it closes
    when stock rises above the threshold again. Shown on the admin home; emailed once in the daily digest."""

    __tablename__ = "stock_alerts"
    __table_args__ = (
        Index("ix_stock_alerts_open_book", "book_id", unique=True, sqlite_where=text("resolved_at IS NULL"),
              postgresql_where=text("resolved_at IS NULL")),
        Index("ix_stock_alerts_digest", "digested_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    book_id: Mapped[int] = mapped_column(ForeignKey("books.id", ondelete="CASCADE"))
    available: Mapped[int] = mapped_column()  # when raised
    threshold: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    digested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    book = relationship("Book", lazy="joined")


class BackInStockRequest(Model):
    """A signed-in shopper's "Notify me" on a book out of stock: emailed once when copies are available again
    (notified_at set); asking again after that re-opens the same row."""

    __tablename__ = "back_in_stock_requests"
    __table_args__ = (
        UniqueConstraint("book_id", "user_id", name="uq_back_in_stock_book_user"),
        # The restock hook finds a book's waiting requests.
        Index("ix_back_in_stock_book_waiting", "book_id", sqlite_where=text("notified_at IS NULL"),
              postgresql_where=text("notified_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    book_id: Mapped[int] = mapped_column(ForeignKey("books.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
