"""The wallet ledger. The balance itself lives on `users.wallet_balance_cents`; change it only
through services.circulation.wallet, which writes one entry per change with the balance after it."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import UTCDateTime, utcnow


class WalletReason(StrEnum):
    """Why a wallet balance changed. The values are what the `reason` column stores."""

    TOP_UP = "top_up"  # money in through the payment gateway
    ORDER_PAYMENT = "order_payment"  # an order paid fully or partly from the wallet
    REFUND = "refund"  # an order refunded to the wallet
    CANCELLATION = "cancellation"  # a cancelled order's payment returned to the wallet
    LATE_FEE = "late_fee"  # an overdue rental
    HOLD_FEE = "hold_fee"  # a held copy not collected in its window (HOLD_NO_SHOW_FEE_CENTS)
    LOST_BOOK = "lost_book"  # a rental never returned: the replacement price
    SUBSCRIPTION = "subscription"  # a subscription period paid from the wallet
    ADJUSTMENT = "adjustment"  # a manual correction by staff, with a note


WALLET_REASONS = tuple(WalletReason)


class WalletEntry(Model):
    __tablename__ = "wallet_entries"
    __table_args__ = (
        CheckConstraint("amount_cents <> 0", name="amount_nonzero"),
        CheckConstraint("balance_after_cents >= 0", name="balance_after_nonnegative"),
        CheckConstraint(
            "reason IN ('top_up','order_payment','refund','cancellation','late_fee','hold_fee','lost_book','subscription','adjustment')",
            name="reason_valid",
        ),
        # One entry per (user, reason, reference): a refund or charge cannot be applied twice.
        # Entries without a reference are not limited (NULLs are distinct).
        UniqueConstraint("user_id", "reason", "reference", name="uq_wallet_entries_user_reason_reference"),
        Index("ix_wallet_entries_user_created", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    amount_cents: Mapped[int] = mapped_column()  # + credit, - debit
    balance_after_cents: Mapped[int] = mapped_column()
    reason: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str | None] = mapped_column(String(80))
    note: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<WalletEntry {self.user_id} {self.amount_cents:+d} {self.reason}>"
