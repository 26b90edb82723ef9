"""Report rollups (derived data, rebuilt from orders at any time) and the weekly summary's delivery record.

`sales_daily` holds one row per (UTC payment day, book) with the units bought, units rented and line revenue
of the orders that count as revenue (paid, shipped, delivered); `sales_daily_totals` one row per day with the
order-level figures. services.insight.rollups keeps them current (an incremental refresh every 10 minutes, a full
rebuild nightly) and records when in `report_rollup_state`, which the report pages quote.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import UTCDateTime, utcnow


class SalesDaily(Model):
    """Per book and UTC day. No foreign key on book_id: rollup rows are rewritten in bulk, and a deleted book
    simply stops joining (its order lines keep book_id NULL and drop out at the next rebuild)."""

    __tablename__ = "sales_daily"
    __table_args__ = (
        # Per-book look-ups within a period (least sold: "no sales in the period" probes, one book's history).
        Index("ix_sales_daily_book_day", "book_id", "day"),
    )

    day: Mapped[date] = mapped_column(Date, primary_key=True)  # the PK (day, book_id) serves period scans
    book_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    units_sold: Mapped[int] = mapped_column(default=0)
    units_rented: Mapped[int] = mapped_column(default=0)
    revenue_cents: Mapped[int] = mapped_column(BigInteger, default=0)


class SalesDailyTotal(Model):
    """Per UTC day: orders that count as revenue, their revenue, and orders paid that day but later cancelled
    or refunded (kept apart, never in revenue)."""

    __tablename__ = "sales_daily_totals"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    orders: Mapped[int] = mapped_column(default=0)
    revenue_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    units: Mapped[int] = mapped_column(default=0)
    cancelled_orders: Mapped[int] = mapped_column(default=0)
    cancelled_cents: Mapped[int] = mapped_column(BigInteger, default=0)


class SalesDailyGenre(Model):
    """Per UTC day and genre (a book in two genres counts in both), as the catalog stood at the refresh."""

    __tablename__ = "sales_daily_genres"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    genre_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    units_sold: Mapped[int] = mapped_column(default=0)
    units_rented: Mapped[int] = mapped_column(default=0)
    revenue_cents: Mapped[int] = mapped_column(BigInteger, default=0)


class SalesBookTotal(Model):
    """All-time units (bought + rented) and revenue per book: an upper bound on any period's figures, which
    lets the best-seller ranking read only the likely books and prove that no other book can reach the list."""

    __tablename__ = "sales_book_totals"
    __table_args__ = (Index("ix_sales_book_totals_units", "units"),)

    book_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    units: Mapped[int] = mapped_column(default=0)
    revenue_cents: Mapped[int] = mapped_column(BigInteger, default=0)


class SalesAuthorTotal(Model):
    """All-time units and revenue per author (the same bound, for the author ranking)."""

    __tablename__ = "sales_author_totals"
    __table_args__ = (Index("ix_sales_author_totals_revenue", "revenue_cents"),)

    author_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    units: Mapped[int] = mapped_column(default=0)
    revenue_cents: Mapped[int] = mapped_column(BigInteger, default=0)


class ReportRollupState(Model):
    """When the rollups were last refreshed (quoted on every report that reads them)."""

    __tablename__ = "report_rollup_state"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Orders updated at or after this instant (less a margin) are re-read by the next incremental refresh.
    watermark: Mapped[datetime] = mapped_column(UTCDateTime())
    full_rebuild_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    days_refreshed: Mapped[int] = mapped_column(default=0)


class WeeklySummarySend(Model):
    """One row per (week, admin): the weekly summary email went out. The primary key makes a second run in the
    same week (or two runs at once) send nothing twice."""

    __tablename__ = "weekly_summary_sends"

    week_start: Mapped[date] = mapped_column(Date, primary_key=True)  # the Monday of the week summarised
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True,
                                         autoincrement=False)
    email_id: Mapped[int | None] = mapped_column(ForeignKey("outbound_emails.id", ondelete="SET NULL"))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
