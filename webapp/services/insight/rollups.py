"""The sales rollups every sales figure is read from, and keeping them current.

Revenue, everywhere: orders that are paid, shipped or delivered, dated by their payment time (UTC day), at the
amount charged (goods after discounts, plus shipping and tax) less any partial refund. Orders paid and then
cancelled or refunded are never revenue; they are counted in their own columns. Book, genre and author
figures add up order lines (the price of each line at sale, before order-level discounts).

The rollups (models.reports): `sales_daily` per (day, book), `sales_daily_totals` per day, `sales_daily_genres`
per (day, genre), and all-time totals per book and per author (`sales_book_totals`, `sales_author_totals`, an
upper bound that lets long rankings read only the likeliest candidates). `refresh_rollups()` recomputes the
days touched by orders changed since its previous run (scheduled every 10 minutes); `refresh_rollups(full=True)`
rebuilds them from scratch (nightly, and on demand). Every report quotes `freshness()`.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal, TypedDict

from flask import current_app
from sqlalchemy import BigInteger, ColumnElement, case, cast, delete, func, insert, or_, select, text

from ...extensions import Model, db
from ...models import (
    PAID_STATUSES,
    BookAuthor,
    Order,
    OrderLine,
    ReportRollupState,
    SalesAuthorTotal,
    SalesBookTotal,
    SalesDaily,
    SalesDailyGenre,
    SalesDailyTotal,
    book_genres,
    utcnow,
)
from ...models.orders import OrderStatus
from ..platform import upsert
from .sql import as_date, as_int, is_postgres, midnight, tune_session, utc_day

CANCELLED_STATUSES = (OrderStatus.CANCELLED, OrderStatus.REFUNDED)  # paid, then cancelled or refunded: kept apart from revenue
REVENUE_DEFINITION = (
    "Revenue counts orders that are paid, shipped or delivered, on the UTC day they were paid, at the amount "
    "charged (goods after discounts, plus shipping and tax) less any partial refund. Orders cancelled or "
    "refunded after payment are not revenue: they are shown in their own column. Book, genre and author "
    "figures add up order lines (line prices before order-level discounts).")
ROLLUP = "sales"  # the rollups' row in report_rollup_state


class Freshness(TypedDict):
    """When the figures were computed (ISO timestamps), shown on every report."""

    rollups_refreshed_at: str | None
    full_rebuild_at: str | None
    generated_at: str


class Refreshed(TypedDict):
    mode: Literal["full", "incremental"]
    days: int


def rollup_state() -> ReportRollupState | None:
    return db.session.get(ReportRollupState, ROLLUP)


def freshness() -> Freshness:
    """What a report says about its data's age."""
    state = rollup_state()
    return {"rollups_refreshed_at": state.refreshed_at.isoformat() if state else None,
            "full_rebuild_at": state.full_rebuild_at.isoformat() if state and state.full_rebuild_at else None,
            "generated_at": utcnow().isoformat()}


def refresh_rollups(*, full: bool = False, now: datetime | None = None) -> Refreshed:
    """Bring the sales rollups up to date and commit. Incremental by default: the UTC days of every paid order
    changed since the previous refresh (less REPORT_ROLLUP_OVERLAP_MINUTES, for transactions still open
    then) are deleted and recomputed, with the all-time totals of the books sold on those days. `full` (or no
    previous refresh) rebuilds everything, and also re-reads genre and author links. Idempotent."""
    started = now or utcnow()
    _lock_rollups()
    tune_session()
    state = db.session.get(ReportRollupState, ROLLUP, with_for_update=True)
    mode: Literal["full", "incremental"]
    if full or state is None:
        _empty(SalesDaily, SalesDailyTotal, SalesDailyGenre)
        _write_days(None, None)
        _write_genre_days(None)
        _write_totals()
        days = as_int(db.session.scalar(select(func.count()).select_from(SalesDailyTotal)))
        mode = "full"
    else:
        since = state.watermark - timedelta(minutes=current_app.config["REPORT_ROLLUP_OVERLAP_MINUTES"])
        changed = sorted({as_date(d) for d in db.session.scalars(
            select(utc_day(Order.paid_at)).where(Order.updated_at >= since, Order.paid_at.is_not(None))
            .distinct())})
        if changed:
            _shift_totals(changed, -1)
            for table in (SalesDaily, SalesDailyTotal, SalesDailyGenre):
                db.session.execute(delete(table).where(table.day.in_(changed)))
            for day in changed:
                _write_days(midnight(day), midnight(day + timedelta(days=1)))
            _write_genre_days(changed)
            _shift_totals(changed, 1)
        days = len(changed)
        mode = "incremental"
    if state is None:
        state = ReportRollupState(name=ROLLUP, watermark=started)
        db.session.add(state)
    state.watermark = started
    state.refreshed_at = utcnow()
    state.days_refreshed = days
    if mode == "full":
        state.full_rebuild_at = state.refreshed_at
    db.session.commit()
    return {"mode": mode, "days": days}


def _empty(*tables: type[Model]) -> None:
    """Empty rollup tables for a full rebuild (PostgreSQL: TRUNCATE, far quicker than deleting every row; reports
    reading them wait for the rebuild's commit)."""
    if is_postgres():
        db.session.execute(text("TRUNCATE " + ", ".join(t.__tablename__ for t in tables)))
    else:
        for table in tables:
            db.session.execute(delete(table))


def _lock_rollups() -> None:
    """One refresh at a time (the scheduled one and a manual rebuild would otherwise interleave deletes and
    inserts). SQLite serialises writers by itself."""
    if is_postgres():
        db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext('folio:report-rollups'))"))


def _write_days(first: datetime | None, before: datetime | None) -> None:
    """Insert sales_daily and sales_daily_totals rows for paid orders with first <= paid_at < before (either
    end open when None)."""
    day = utc_day(Order.paid_at)
    window: list[ColumnElement[bool]] = [Order.paid_at.is_not(None)]
    if first is not None:
        window.append(Order.paid_at >= first)
    if before is not None:
        window.append(Order.paid_at < before)
    kept = Order.status.in_(PAID_STATUSES)
    per_book = (
        select(day.label("day"), OrderLine.book_id,
               func.sum(case((OrderLine.mode == "buy", OrderLine.quantity), else_=0)),
               func.sum(case((OrderLine.mode == "rent", OrderLine.quantity), else_=0)),
               func.sum(cast(OrderLine.line_cents, BigInteger)))
        .select_from(Order).join(OrderLine, OrderLine.order_id == Order.id)
        .where(*window, kept, OrderLine.book_id.is_not(None))
        .group_by(day, OrderLine.book_id)
    )
    db.session.execute(insert(SalesDaily).from_select(
        ["day", "book_id", "units_sold", "units_rented", "revenue_cents"], per_book))
    # Per order first (with its units), then per day.
    per_order = (select(day.label("day"), Order.status, (Order.total_cents - Order.refunded_cents).label("net"),
                        Order.total_cents, func.coalesce(func.sum(OrderLine.quantity), 0).label("units"))
                 .select_from(Order).outerjoin(OrderLine, OrderLine.order_id == Order.id)
                 .where(*window, or_(kept, Order.status.in_(CANCELLED_STATUSES)))
                 .group_by(Order.id, day, Order.status, Order.total_cents, Order.refunded_cents).subquery())
    is_kept = per_order.c.status.in_(PAID_STATUSES)
    per_day = (
        select(per_order.c.day,
               func.sum(case((is_kept, 1), else_=0)),
               func.sum(case((is_kept, cast(per_order.c.net, BigInteger)), else_=0)),
               func.sum(case((is_kept, per_order.c.units), else_=0)),
               func.sum(case((is_kept, 0), else_=1)),
               func.sum(case((is_kept, 0), else_=cast(per_order.c.total_cents, BigInteger))))
        .group_by(per_order.c.day)
    )
    db.session.execute(insert(SalesDailyTotal).from_select(
        ["day", "orders", "revenue_cents", "units", "cancelled_orders", "cancelled_cents"], per_day))


def _write_genre_days(days: list[date] | None) -> None:
    """sales_daily_genres for these days (all days when None), from sales_daily and the current genres."""
    s = SalesDaily
    stmt = (select(s.day, book_genres.c.genre_id, func.sum(s.units_sold), func.sum(s.units_rented),
                   func.sum(s.revenue_cents))
            .join(book_genres, book_genres.c.book_id == s.book_id).group_by(s.day, book_genres.c.genre_id))
    if days is not None:
        stmt = stmt.where(s.day.in_(days))
    db.session.execute(insert(SalesDailyGenre).from_select(
        ["day", "genre_id", "units_sold", "units_rented", "revenue_cents"], stmt))


def _write_totals() -> None:
    """All-time totals per book and per author, from scratch."""
    s = SalesDaily
    db.session.execute(delete(SalesBookTotal))
    db.session.execute(delete(SalesAuthorTotal))
    db.session.execute(insert(SalesBookTotal).from_select(
        ["book_id", "units", "revenue_cents"],
        select(s.book_id, func.sum(s.units_sold + s.units_rented), func.sum(s.revenue_cents)).group_by(s.book_id)))
    t = SalesBookTotal
    db.session.execute(insert(SalesAuthorTotal).from_select(
        ["author_id", "units", "revenue_cents"],
        select(BookAuthor.author_id, func.sum(t.units), func.sum(t.revenue_cents))
        .join(t, t.book_id == BookAuthor.book_id).group_by(BookAuthor.author_id)))


def _shift_totals(days: list[date], sign: int) -> None:
    """Add (sign 1) or take away (sign -1) these days' sales to the all-time totals of the books sold on them
    and of their authors: called around rewriting the days, so the totals follow without re-reading history."""
    s = SalesDaily
    units, revenue = func.sum(s.units_sold + s.units_rented) * sign, func.sum(s.revenue_cents) * sign
    book_totals = select(s.book_id, units, revenue).where(s.day.in_(days)).group_by(s.book_id)
    author_totals = (select(BookAuthor.author_id, units, revenue).join(s, s.book_id == BookAuthor.book_id)
                     .where(s.day.in_(days)).group_by(BookAuthor.author_id))
    for table, key, stmt in ((SalesBookTotal, "book_id", book_totals),
                             (SalesAuthorTotal, "author_id", author_totals)):
        statement = upsert.insert(table)
        add = statement.from_select([key, "units", "revenue_cents"], stmt)
        db.session.execute(add.on_conflict_do_update(index_elements=[key], set_={
            "units": table.units + add.excluded.units,
            "revenue_cents": table.revenue_cents + add.excluded.revenue_cents}))
