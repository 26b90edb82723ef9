"""The live reports' figures, read from the shop's own tables as they are now (no rollup): the inventory report
(stock value, low and out of stock, turnover) and the rentals and holds report (loans out and overdue, late
fees, the most-held books with a restock suggestion).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TypedDict

from flask import current_app
from sqlalchemy import BigInteger, ColumnElement, and_, case, cast, exists, func, select

from ...extensions import db
from ...models import Book, Hold, Inventory, Rental, SalesBookTotal, SalesDaily, utcnow
from ...models.membership import HoldStatus
from ...models.orders import RentalStatus
from ..circulation import rental_status
from ..inventory import alerts
from .periods import Period
from .sql import AnyRow, as_int, ceil_days_since, tune_session


class StockSummary(TypedDict):
    titles: int
    copies_on_hand: int
    value_cost_cents: int
    value_price_cents: int
    titles_without_cost: int  # in stock without a cost price: left out of the value at cost
    out_of_stock: int
    low_stock: int
    in_stock_ok: int
    turnover_days: int  # the window turnover is measured over (REPORT_TURNOVER_DAYS)
    units_sold_window: int
    turnover: float | None
    days_of_cover: int | None


class StockRow(TypedDict):
    book_id: int
    title: str
    authors: str
    on_hand: int
    available: int
    threshold: int
    units_sold_window: int


class InventoryStatus(TypedDict):
    summary: StockSummary
    low: list[StockRow]
    out: list[StockRow]
    limit: int
    default_threshold: int


class RentalFigures(TypedDict):
    active: int
    overdue: int
    accruing_cents: int  # late fees the overdue rentals would owe if returned now
    started: int
    returned: int
    fees_charged_cents: int
    fees_collected_cents: int
    outstanding_cents: int
    rentals_with_balance: int


class HoldFigures(TypedDict):
    waiting: int
    ready: int
    books_waited_for: int


class MostHeld(TypedDict):
    rank: int
    book_id: int
    title: str
    authors: str
    waiting: int
    waiting_since: str
    on_hand: int
    available: int
    suggested_restock: int


class RentalsAndHolds(TypedDict):
    period: dict[str, str]
    rentals: RentalFigures
    holds: HoldFigures
    most_held: list[MostHeld]
    late_fee_per_day_cents: int
    limit: int


def _threshold() -> ColumnElement[int]:
    """A book's low-stock threshold, as alerts defines it."""
    return alerts.threshold_sql()


def _low() -> ColumnElement[bool]:
    """"Low stock", as alerts defines it everywhere it is shown."""
    return alerts.low_sql()


def inventory_status(limit: int = 25, today: date | None = None) -> InventoryStatus:
    """Active books' stock now: value at cost and at price, low and out of stock, and turnover."""
    today = today or utcnow().date()
    tune_session()
    low = _low()
    on_hand = cast(Inventory.on_hand, BigInteger)
    s = db.session.execute(
        select(func.count(), func.sum(on_hand), func.sum(on_hand * Book.cost_cents),
               func.sum(on_hand * Book.price_cents),
               func.sum(case((and_(Book.cost_cents.is_(None), Inventory.on_hand > 0), 1), else_=0)),
               func.sum(case((Inventory.available <= 0, 1), else_=0)), func.sum(case((low, 1), else_=0)),
               func.max(_threshold()))
        .select_from(Inventory).join(Book, Book.id == Inventory.book_id).where(Book.active.is_(True))
    ).one()
    window: int = current_app.config["REPORT_TURNOVER_DAYS"]
    since = today - timedelta(days=window - 1)
    sold_window = as_int(db.session.scalar(
        select(func.sum(SalesDaily.units_sold)).where(SalesDaily.day >= since, SalesDaily.day <= today)))
    copies = as_int(s[1])
    summary: StockSummary = {
        "titles": as_int(s[0]), "copies_on_hand": copies, "value_cost_cents": as_int(s[2]),
        "value_price_cents": as_int(s[3]), "titles_without_cost": as_int(s[4]), "out_of_stock": as_int(s[5]),
        "low_stock": as_int(s[6]), "in_stock_ok": as_int(s[0]) - as_int(s[5]) - as_int(s[6]),
        "turnover_days": window, "units_sold_window": sold_window,
        "turnover": round(sold_window / copies, 3) if copies else None,
        "days_of_cover": round(copies / (sold_window / window)) if sold_window else None}
    # The lists: the low-stock range is read through ix_inventory_available (bounded by the highest threshold);
    # out of stock, the best sellers of all time first (sales_book_totals); then the window's sales of just
    # the books listed.
    columns = (Book.id, Book.title, Book.author_names, Inventory.on_hand, Inventory.available,
               _threshold().label("threshold"))
    low_rows = db.session.execute(
        select(*columns).select_from(Inventory).join(Book, Book.id == Inventory.book_id)
        .where(Book.active.is_(True), Inventory.available > 0, Inventory.available <= as_int(s[7]), low)
        .order_by(Inventory.available, Book.id).limit(limit)
    ).all()
    # Walks sales_book_totals from the top (ix_sales_book_totals_units) and stops at `limit` books out of stock;
    # books never sold fill any room left.
    out_rows: list[AnyRow] = list(db.session.execute(
        select(*columns).select_from(SalesBookTotal).join(Inventory, Inventory.book_id == SalesBookTotal.book_id)
        .join(Book, Book.id == Inventory.book_id)
        .where(Book.active.is_(True), Inventory.available <= 0, SalesBookTotal.units > 0)
        .order_by(SalesBookTotal.units.desc(), Book.id).limit(limit)
    ).all())
    if len(out_rows) < limit:
        sold_ever = exists().where(SalesBookTotal.book_id == Inventory.book_id, SalesBookTotal.units > 0)
        out_rows += db.session.execute(
            select(*columns).select_from(Inventory).join(Book, Book.id == Inventory.book_id)
            .where(Book.active.is_(True), Inventory.available <= 0, ~sold_ever)
            .order_by(Book.id).limit(limit - len(out_rows))
        ).all()
    listed = [r.id for r in (*low_rows, *out_rows)]
    sold: dict[int, int] = {book_id: as_int(units) for book_id, units in db.session.execute(
        select(SalesDaily.book_id, func.sum(SalesDaily.units_sold))
        .where(SalesDaily.book_id.in_(listed), SalesDaily.day >= since, SalesDaily.day <= today)
        .group_by(SalesDaily.book_id))} if listed else {}

    def row(r: AnyRow) -> StockRow:
        return {"book_id": r.id, "title": r.title, "authors": r.author_names or "", "on_hand": as_int(r.on_hand),
                "available": as_int(r.available), "threshold": as_int(r.threshold),
                "units_sold_window": sold.get(r.id, 0)}

    return {"summary": summary, "low": [row(r) for r in low_rows], "out": [row(r) for r in out_rows],
            "limit": limit, "default_threshold": current_app.config["LOW_STOCK_THRESHOLD"]}


def rentals_and_holds(period: Period, limit: int = 25, now: datetime | None = None) -> RentalsAndHolds:
    now = now or utcnow()
    r = Rental
    fee_per_day: int = current_app.config["LATE_FEE_PER_DAY_CENTS"]
    active = r.status == RentalStatus.ACTIVE
    # Overdue and still accruing: a loan not started yet (due_at NULL) is not, nor one the customer sent back.
    overdue = rental_status.overdue_clause(now)
    returned_in = and_(r.returned_at >= period.starts_at, r.returned_at < period.ends_before)
    row = db.session.execute(select(
        func.sum(case((active, 1), else_=0)),
        func.sum(case((overdue, 1), else_=0)),
        func.sum(case((overdue, ceil_days_since(r.due_at, now)), else_=0)),
        func.sum(case((and_(r.starts_at >= period.starts_at, r.starts_at < period.ends_before), 1), else_=0)),
        func.sum(case((returned_in, 1), else_=0)),
        func.sum(case((returned_in, r.fee_cents), else_=0)),
        func.sum(case((returned_in, r.fee_paid_cents), else_=0)),
        func.sum(r.fee_cents - r.fee_paid_cents - r.fee_waived_cents),  # waived fees are not owed
        func.sum(case((r.fee_cents > r.fee_paid_cents + r.fee_waived_cents, 1), else_=0)),
    )).one()
    rentals: RentalFigures = {
        "active": as_int(row[0]), "overdue": as_int(row[1]), "accruing_cents": as_int(row[2]) * fee_per_day,
        "started": as_int(row[3]), "returned": as_int(row[4]), "fees_charged_cents": as_int(row[5]),
        "fees_collected_cents": as_int(row[6]), "outstanding_cents": as_int(row[7]),
        "rentals_with_balance": as_int(row[8])}
    h = db.session.execute(select(func.sum(case((Hold.status == HoldStatus.WAITING, 1), else_=0)),
                                  func.sum(case((Hold.status == HoldStatus.READY, 1), else_=0)),
                                  func.count(func.distinct(case((Hold.status == HoldStatus.WAITING, Hold.book_id)))))
                           .where(Hold.status.in_((HoldStatus.WAITING, HoldStatus.READY)))).one()
    holds: HoldFigures = {"waiting": as_int(h[0]), "ready": as_int(h[1]), "books_waited_for": as_int(h[2])}
    demand = (select(Hold.book_id, func.count().label("waiting"), func.min(Hold.queued_at).label("oldest"))
              .where(Hold.status == HoldStatus.WAITING).group_by(Hold.book_id)
              .order_by(func.count().desc(), func.min(Hold.queued_at), Hold.book_id).limit(limit).subquery())
    most_held = db.session.execute(
        select(Book.id, Book.title, Book.author_names, demand.c.waiting, demand.c.oldest, Inventory.on_hand,
               Inventory.available)
        .join(demand, demand.c.book_id == Book.id).outerjoin(Inventory, Inventory.book_id == Book.id)
        .order_by(demand.c.waiting.desc(), demand.c.oldest, Book.id)
    ).all()
    suggestions: list[MostHeld] = [
        {"rank": i, "book_id": b.id, "title": b.title, "authors": b.author_names or "", "waiting": as_int(b.waiting),
         "waiting_since": b.oldest.date().isoformat() if b.oldest else "", "on_hand": as_int(b.on_hand),
         "available": as_int(b.available),
         "suggested_restock": max(0, as_int(b.waiting) - max(0, as_int(b.available)))}
        for i, b in enumerate(most_held, start=1)]
    return {"period": period.as_params(), "rentals": rentals, "holds": holds, "most_held": suggestions,
            "late_fee_per_day_cents": fee_per_day, "limit": limit}
