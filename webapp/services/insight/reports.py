"""Reports (background task runners "report:*"), the sales rollups they read, and the weekly summary email.

Revenue, everywhere: orders that are paid, shipped or delivered, dated by their payment time (UTC day), at the
amount charged (goods after discounts, plus shipping and tax) less any partial refund. Orders paid and then
cancelled or refunded are never revenue; the sales report shows them in their own column. Book, genre and
author figures add up order lines (the price of each line at sale, before order-level discounts).

Sales figures come from two rollups (models.reports): `sales_daily` per (day, book) and `sales_daily_totals`
per day. `refresh_rollups()` recomputes the days touched by orders changed since its previous run (scheduled
every 10 minutes) and `refresh_rollups(full=True)` rebuilds them from scratch (nightly, and on demand); each
report quotes when they were last refreshed. Inventory, rentals and holds are read live.

Every figure is a SQL aggregate (GROUP BY, SUM, COUNT); Python only shapes the few rows that come back.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from flask import current_app
from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    Integer,
    and_,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...models import (
    PAID_STATUSES,
    Author,
    Book,
    BookAuthor,
    Genre,
    Hold,
    Inventory,
    Order,
    OrderLine,
    Rental,
    ReportRollupState,
    SalesAuthorTotal,
    SalesBookTotal,
    SalesDaily,
    SalesDailyGenre,
    SalesDailyTotal,
    User,
    WeeklySummarySend,
    book_genres,
    utcnow,
)
from ..inventory import alerts
from ..platform import background
from ..platform.money import money
from ..platform.spreadsheet import safe_cell
from . import charts

CANCELLED_STATUSES = ("cancelled", "refunded")  # paid, then cancelled or refunded: kept apart from revenue
REVENUE_DEFINITION = (
    "Revenue counts orders that are paid, shipped or delivered, on the UTC day they were paid, at the amount "
    "charged (goods after discounts, plus shipping and tax) less any partial refund. Orders cancelled or "
    "refunded after payment are not revenue: they are shown in their own column. Book, genre and author "
    "figures add up order lines (line prices before order-level discounts).")

KINDS = {
    "report:sales": "Sales over time",
    "report:books": "Best and least sold books",
    "report:genres": "Sales by genre and author",
    "report:inventory": "Inventory status",
    "report:rentals": "Rentals and holds demand",
}
PERIOD_KINDS = ("report:sales", "report:books", "report:genres", "report:rentals")
GRANULARITIES = {"day": "Daily", "week": "Weekly", "month": "Monthly"}
LIMITS = (10, 25, 50)
ROLLUP = "sales"
CHART_MARK = "<!--chart:{}-->"


class ReportError(ValueError):
    """A report cannot be made with these inputs (the message is shown to the admin)."""


@dataclass(frozen=True)
class Period:
    """Whole UTC days, both ends included."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def starts_at(self) -> datetime:
        return _midnight(self.start)

    @property
    def ends_before(self) -> datetime:
        return _midnight(self.end + timedelta(days=1))

    def label(self) -> str:
        return f"{self.start.isoformat()} to {self.end.isoformat()}"

    def as_params(self) -> dict:
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def validate_period(start: date | None, end: date | None, today: date | None = None) -> Period:
    """The period an admin asked for, or ReportError saying what is wrong with it."""
    today = today or utcnow().date()
    max_days = current_app.config["REPORT_MAX_DAYS"]
    if start is None or end is None:
        raise ReportError("Choose both a start and an end date.")
    if end < start:
        raise ReportError("The end date is before the start date.")
    if end > today:
        raise ReportError(f"The end date cannot be after today ({today.isoformat()}, UTC).")
    if (end - start).days + 1 > max_days:
        raise ReportError(f"A report covers at most {max_days} days; this period has {(end - start).days + 1}.")
    return Period(start, end)


def period_from_params(params: dict) -> Period:
    return validate_period(date.fromisoformat(params["from"]), date.fromisoformat(params["to"]))


# ---- SQL helpers that differ between PostgreSQL and SQLite ----

def _postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def utc_day(column):
    """The UTC calendar day of a timestamp column."""
    if _postgres():
        return cast(func.timezone(literal_column("'UTC'"), column), Date)
    return func.date(column)  # SQLite stores UTC text


def _bucket(day_column, granularity: str):
    """The first day of the day/week (Monday)/month bucket a day falls in."""
    if granularity == "day":
        return day_column
    if _postgres():
        unit = literal_column("'week'" if granularity == "week" else "'month'")
        return cast(func.date_trunc(unit, cast(day_column, DateTime())), Date)
    if granularity == "week":  # strftime('%w'): 0 = Sunday
        back = (cast(func.strftime(literal_column("'%w'"), day_column), Integer) + 6) % 7
        return func.date(day_column, func.printf(literal_column("'-%d days'"), back))
    return func.date(day_column, literal_column("'start of month'"))


def _ceil_days_since(column, now: datetime):
    """Whole days (started days count) from `column` to `now`: rentals' overdue days, as services.circulation.rentals."""
    if _postgres():
        return func.ceil(func.extract("epoch", now - column) / 86400.0)
    span = func.julianday(now.replace(tzinfo=None).isoformat(sep=" ")) - func.julianday(column)
    return cast(span, Integer) + case((span > cast(span, Integer), 1), else_=0)


def _as_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _int(value) -> int:
    return int(value or 0)


# ---- rollups ----

def rollup_state() -> ReportRollupState | None:
    return db.session.get(ReportRollupState, ROLLUP)


def freshness() -> dict:
    """What a report says about its data's age."""
    state = rollup_state()
    return {"rollups_refreshed_at": state.refreshed_at.isoformat() if state else None,
            "full_rebuild_at": state.full_rebuild_at.isoformat() if state and state.full_rebuild_at else None,
            "generated_at": utcnow().isoformat()}


def _tune_session() -> None:
    """Room in memory for the large aggregates (PostgreSQL's default 4 MB would spill them to disk). Lasts until
    the end of the current transaction: the report worker's and the refresh's, never a web request's."""
    if _postgres():
        db.session.execute(text("SET LOCAL work_mem = '256MB'"))


def _empty(*tables) -> None:
    """Empty rollup tables for a full rebuild (PostgreSQL: TRUNCATE, far quicker than deleting every row; reports
    reading them wait for the rebuild's commit)."""
    if _postgres():
        db.session.execute(text("TRUNCATE " + ", ".join(t.__tablename__ for t in tables)))
    else:
        for table in tables:
            db.session.execute(delete(table))


def _lock_rollups() -> None:
    """One refresh at a time (the scheduled one and a manual rebuild would otherwise interleave deletes and
    inserts). SQLite serialises writers by itself."""
    if _postgres():
        db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext('folio:report-rollups'))"))


def _write_days(first: datetime | None, before: datetime | None) -> None:
    """Insert sales_daily and sales_daily_totals rows for paid orders with first <= paid_at < before (either
    end open when None)."""
    day = utc_day(Order.paid_at)
    window = [Order.paid_at.is_not(None)]
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
    from ..platform import upsert

    s = SalesDaily
    units, revenue = func.sum(s.units_sold + s.units_rented) * sign, func.sum(s.revenue_cents) * sign
    for table, key, stmt in (
        (SalesBookTotal, "book_id", select(s.book_id, units, revenue).where(s.day.in_(days)).group_by(s.book_id)),
        (SalesAuthorTotal, "author_id", select(BookAuthor.author_id, units, revenue)
         .join(s, s.book_id == BookAuthor.book_id).where(s.day.in_(days)).group_by(BookAuthor.author_id)),
    ):
        add = upsert.insert(table).from_select([key, "units", "revenue_cents"], stmt)
        db.session.execute(add.on_conflict_do_update(index_elements=[key], set_={
            "units": table.units + add.excluded.units,
            "revenue_cents": table.revenue_cents + add.excluded.revenue_cents}))


def refresh_rollups(*, full: bool = False, now: datetime | None = None) -> dict:
    """Bring the sales rollups up to date and commit. Incremental by default: the UTC days of every paid order
    changed since the previous refresh (less REPORT_ROLLUP_OVERLAP_MINUTES, for transactions still open
    then) are deleted and recomputed, with the all-time totals of the books sold on those days. `full` (or no
    previous refresh) rebuilds everything, and also re-reads genre and author links. Idempotent."""
    started = now or utcnow()
    _lock_rollups()
    _tune_session()
    state = db.session.get(ReportRollupState, ROLLUP, with_for_update=True)
    if full or state is None:
        _empty(SalesDaily, SalesDailyTotal, SalesDailyGenre)
        _write_days(None, None)
        _write_genre_days(None)
        _write_totals()
        days = _int(db.session.scalar(select(func.count()).select_from(SalesDailyTotal)))
        mode = "full"
    else:
        since = state.watermark - timedelta(minutes=current_app.config["REPORT_ROLLUP_OVERLAP_MINUTES"])
        changed = sorted({_as_date(d) for d in db.session.scalars(
            select(utc_day(Order.paid_at)).where(Order.updated_at >= since, Order.paid_at.is_not(None))
            .distinct())})
        if changed:
            _shift_totals(changed, -1)
            for table in (SalesDaily, SalesDailyTotal, SalesDailyGenre):
                db.session.execute(delete(table).where(table.day.in_(changed)))
            for day in changed:
                _write_days(_midnight(day), _midnight(day + timedelta(days=1)))
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


# ---- 1. sales over time ----

def _buckets(period: Period, granularity: str) -> list[date]:
    """Every bucket start in the period (so days without sales show as zero)."""
    if granularity == "day":
        first, step = period.start, None
    elif granularity == "week":
        first, step = period.start - timedelta(days=period.start.weekday()), None
    else:
        first, step = period.start.replace(day=1), "month"
    out, current = [], first
    while current <= period.end:
        out.append(current)
        if step == "month":
            current = (current.replace(day=28) + timedelta(days=4)).replace(day=1)
        else:
            current += timedelta(days=7 if granularity == "week" else 1)
    return out


def _bucket_label(start: date, granularity: str) -> str:
    if granularity == "month":
        return start.strftime("%Y-%m")
    return start.isoformat()


def sales_over_time(period: Period, granularity: str = "day") -> dict:
    if granularity not in GRANULARITIES:
        raise ReportError("Choose daily, weekly or monthly figures.")
    t = SalesDailyTotal
    bucket = _bucket(t.day, granularity).label("bucket")
    rows = db.session.execute(
        select(bucket, func.sum(t.orders), func.sum(t.revenue_cents), func.sum(t.units),
               func.sum(t.cancelled_orders), func.sum(t.cancelled_cents))
        .where(t.day >= period.start, t.day <= period.end).group_by(literal_column("bucket"))
    ).all()
    found = {_as_date(r[0]): r for r in rows}
    series = []
    for start in _buckets(period, granularity):
        r = found.get(start)
        orders, revenue = (_int(r[1]), _int(r[2])) if r else (0, 0)
        series.append({"bucket": _bucket_label(start, granularity), "orders": orders, "revenue_cents": revenue,
                       "aov_cents": round(revenue / orders) if orders else 0, "units": _int(r[3]) if r else 0,
                       "cancelled_orders": _int(r[4]) if r else 0, "cancelled_cents": _int(r[5]) if r else 0})
    orders = sum(p["orders"] for p in series)  # adding up the few buckets just fetched
    revenue = sum(p["revenue_cents"] for p in series)
    totals = {"orders": orders, "revenue_cents": revenue, "aov_cents": round(revenue / orders) if orders else 0,
              "units": sum(p["units"] for p in series),
              "cancelled_orders": sum(p["cancelled_orders"] for p in series),
              "cancelled_cents": sum(p["cancelled_cents"] for p in series)}
    return {"period": period.as_params(), "granularity": granularity, "series": series, "totals": totals}


# ---- 2. best and least sold ----

def _period_sales(period: Period):
    s = SalesDaily
    return (select(s.book_id, func.sum(s.units_sold).label("sold"), func.sum(s.units_rented).label("rented"),
                   func.sum(s.revenue_cents).label("revenue"))
            .where(s.day >= period.start, s.day <= period.end).group_by(s.book_id))


def _book_row(r, rank: int) -> dict:
    return {"rank": rank, "book_id": r.id, "title": r.title, "authors": r.author_names or "",
            "units_sold": _int(r.sold), "units_rented": _int(r.rented), "revenue_cents": _int(r.revenue),
            "on_hand": _int(r.on_hand), "available": _int(r.available),
            "in_catalog_since": r.created_at.date().isoformat() if r.created_at else ""}


PRUNE_AFTER_DAYS = 92  # shorter periods are small enough to rank whole


def _top_with_bound(ranked, limit: int, candidates_query, bound_of, key_of) -> list | None:
    """Exact top-`limit` ranking read from the likeliest candidates only. `candidates_query(k)` gives the k
    entities with the largest all-time figure (an upper bound on any period's figure) and `ranked(ids)` ranks
    those ids over the period. When the last listed entity beats the k-th all-time figure, no entity outside
    the candidates can reach the list, so the answer is exact; otherwise try more candidates, then give up
    (None: the caller ranks everything)."""
    for k in (limit * 4, limit * 20):
        candidates = db.session.execute(candidates_query(k)).all()
        if not candidates:
            return []
        rows = ranked([c[0] for c in candidates])
        if len(candidates) < k:  # every entity with any sales at all is a candidate
            return rows
        if len(rows) == limit and key_of(rows[-1]) > bound_of(candidates[-1]):
            return rows
    return None


def _rank_books(period: Period, limit: int, book_ids: list[int] | None) -> list:
    s = SalesDaily
    units = func.sum(s.units_sold) + func.sum(s.units_rented)
    ranked = _period_sales(period)
    if book_ids is not None:
        ranked = ranked.where(s.book_id.in_(book_ids))
    top = ranked.order_by(units.desc(), func.sum(s.revenue_cents).desc(), s.book_id).limit(limit).subquery()
    return db.session.execute(
        select(Book.id, Book.title, Book.author_names, Book.created_at, top.c.sold, top.c.rented, top.c.revenue,
               Inventory.on_hand, Inventory.available)
        .join(top, top.c.book_id == Book.id).outerjoin(Inventory, Inventory.book_id == Book.id)
        .order_by((top.c.sold + top.c.rented).desc(), top.c.revenue.desc(), Book.id)
    ).all()


def best_sellers(period: Period, limit: int = 25) -> list[dict]:
    """The books with the most units (bought + rented) in the period, then the most revenue."""
    _tune_session()
    t = SalesBookTotal
    rows = None if period.days <= PRUNE_AFTER_DAYS else _top_with_bound(
        lambda ids: _rank_books(period, limit, ids), limit,
        lambda k: select(t.book_id, t.units).order_by(t.units.desc(), t.book_id).limit(k),
        lambda c: c.units, lambda r: _int(r.sold) + _int(r.rented))
    if rows is None:
        rows = _rank_books(period, limit, None)
    return [_book_row(r, i) for i, r in enumerate(rows, start=1)]


def least_sold(period: Period, limit: int = 25) -> list[dict]:
    """Active books with copies on hand that sold least in the period: first those that sold nothing at all
    (longest in the catalog first), then, if fewer than `limit`, the smallest sellers."""
    s = SalesDaily
    sold_any = exists().where(s.book_id == Book.id, s.day >= period.start, s.day <= period.end)
    zero = db.session.execute(
        select(Book.id, Book.title, Book.author_names, Book.created_at, literal_column("0").label("sold"),
               literal_column("0").label("rented"), literal_column("0").label("revenue"),
               Inventory.on_hand, Inventory.available)
        .join(Inventory, Inventory.book_id == Book.id)
        .where(Book.active.is_(True), Inventory.on_hand > 0, ~sold_any)
        .order_by(Book.created_at, Book.id).limit(limit)
    ).all()
    rows = list(zero)
    if len(rows) < limit:
        _tune_session()
        sales = _period_sales(period).subquery()
        rows += db.session.execute(
            select(Book.id, Book.title, Book.author_names, Book.created_at, sales.c.sold, sales.c.rented,
                   sales.c.revenue, Inventory.on_hand, Inventory.available)
            .join(sales, sales.c.book_id == Book.id).join(Inventory, Inventory.book_id == Book.id)
            .where(Book.active.is_(True), Inventory.on_hand > 0)
            .order_by(sales.c.sold + sales.c.rented, Book.created_at, Book.id).limit(limit - len(rows))
        ).all()
    return [_book_row(r, i) for i, r in enumerate(rows, start=1)]


def book_sales(period: Period, limit: int = 25) -> dict:
    return {"period": period.as_params(), "limit": limit, "best": best_sellers(period, limit),
            "least": least_sold(period, limit)}


# ---- 3. genres and authors ----

def genre_sales(period: Period) -> list[dict]:
    """Every genre, with the period's sales of its books (a book in two genres counts in both)."""
    g = SalesDailyGenre
    per_genre = (select(g.genre_id, func.sum(g.units_sold).label("sold"), func.sum(g.units_rented).label("rented"),
                        func.sum(g.revenue_cents).label("revenue"))
                 .where(g.day >= period.start, g.day <= period.end).group_by(g.genre_id).subquery())
    rows = db.session.execute(
        select(Genre.id, Genre.name, per_genre.c.sold, per_genre.c.rented, per_genre.c.revenue)
        .outerjoin(per_genre, per_genre.c.genre_id == Genre.id)
        .order_by(func.coalesce(per_genre.c.revenue, 0).desc(), Genre.name)
    ).all()
    return [{"genre_id": r.id, "genre": r.name, "units_sold": _int(r.sold), "units_rented": _int(r.rented),
             "revenue_cents": _int(r.revenue)} for r in rows]


def _rank_authors(period: Period, limit: int, author_ids: list[int] | None) -> list:
    s = SalesDaily
    per_author = (select(BookAuthor.author_id, func.sum(s.units_sold).label("sold"),
                         func.sum(s.units_rented).label("rented"), func.sum(s.revenue_cents).label("revenue"),
                         func.count(func.distinct(s.book_id)).label("titles"))
                  .join(s, s.book_id == BookAuthor.book_id)
                  .where(s.day >= period.start, s.day <= period.end))
    if author_ids is not None:
        per_author = per_author.where(BookAuthor.author_id.in_(author_ids))
    top = (per_author.group_by(BookAuthor.author_id)
           .order_by(func.sum(s.revenue_cents).desc(), BookAuthor.author_id).limit(limit).subquery())
    return db.session.execute(
        select(Author.id, Author.name, top.c.sold, top.c.rented, top.c.revenue, top.c.titles)
        .join(top, top.c.author_id == Author.id).order_by(top.c.revenue.desc(), Author.id)
    ).all()


def author_sales(period: Period, limit: int = 25) -> list[dict]:
    """The top authors by revenue (a book by two authors counts fully for each)."""
    _tune_session()
    t = SalesAuthorTotal
    rows = None if period.days <= PRUNE_AFTER_DAYS else _top_with_bound(
        lambda ids: _rank_authors(period, limit, ids), limit,
        lambda k: select(t.author_id, t.revenue_cents).order_by(t.revenue_cents.desc(), t.author_id).limit(k),
        lambda c: _int(c.revenue_cents), lambda r: _int(r.revenue))
    if rows is None:
        rows = _rank_authors(period, limit, None)
    return [{"rank": i, "author_id": r.id, "author": r.name, "units_sold": _int(r.sold),
             "units_rented": _int(r.rented), "revenue_cents": _int(r.revenue), "titles_sold": _int(r.titles)}
            for i, r in enumerate(rows, start=1)]


def genre_author_sales(period: Period, limit: int = 25) -> dict:
    return {"period": period.as_params(), "limit": limit, "genres": genre_sales(period),
            "authors": author_sales(period, limit)}


# ---- 4. inventory ----

def _threshold():
    return alerts.threshold_sql()


def inventory_status(limit: int = 25, today: date | None = None) -> dict:
    """Active books' stock now: value at cost and at price, low and out of stock, and turnover."""
    today = today or utcnow().date()
    _tune_session()
    low = alerts.low_sql()
    on_hand = cast(Inventory.on_hand, BigInteger)
    s = db.session.execute(
        select(func.count(), func.sum(on_hand), func.sum(on_hand * Book.cost_cents),
               func.sum(on_hand * Book.price_cents),
               func.sum(case((and_(Book.cost_cents.is_(None), Inventory.on_hand > 0), 1), else_=0)),
               func.sum(case((Inventory.available <= 0, 1), else_=0)), func.sum(case((low, 1), else_=0)),
               func.max(_threshold()))
        .select_from(Inventory).join(Book, Book.id == Inventory.book_id).where(Book.active.is_(True))
    ).one()
    window = current_app.config["REPORT_TURNOVER_DAYS"]
    since = today - timedelta(days=window - 1)
    sold_window = _int(db.session.scalar(
        select(func.sum(SalesDaily.units_sold)).where(SalesDaily.day >= since, SalesDaily.day <= today)))
    copies = _int(s[1])
    summary = {"titles": _int(s[0]), "copies_on_hand": copies, "value_cost_cents": _int(s[2]),
               "value_price_cents": _int(s[3]), "titles_without_cost": _int(s[4]), "out_of_stock": _int(s[5]),
               "low_stock": _int(s[6]), "in_stock_ok": _int(s[0]) - _int(s[5]) - _int(s[6]),
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
        .where(Book.active.is_(True), Inventory.available > 0, Inventory.available <= _int(s[7]), low)
        .order_by(Inventory.available, Book.id).limit(limit)
    ).all()
    # Walks sales_book_totals from the top (ix_sales_book_totals_units) and stops at `limit` books out of stock;
    # books never sold fill any room left.
    out_rows = list(db.session.execute(
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
    sold = dict(db.session.execute(
        select(SalesDaily.book_id, func.sum(SalesDaily.units_sold))
        .where(SalesDaily.book_id.in_(listed), SalesDaily.day >= since, SalesDaily.day <= today)
        .group_by(SalesDaily.book_id)).all()) if listed else {}

    def row(r) -> dict:
        return {"book_id": r.id, "title": r.title, "authors": r.author_names or "", "on_hand": _int(r.on_hand),
                "available": _int(r.available), "threshold": _int(r.threshold),
                "units_sold_window": _int(sold.get(r.id))}

    return {"summary": summary, "low": [row(r) for r in low_rows], "out": [row(r) for r in out_rows],
            "limit": limit, "default_threshold": current_app.config["LOW_STOCK_THRESHOLD"]}


# ---- 5. rentals and holds ----

def rentals_and_holds(period: Period, limit: int = 25, now: datetime | None = None) -> dict:
    now = now or utcnow()
    r = Rental
    fee_per_day = current_app.config["LATE_FEE_PER_DAY_CENTS"]
    active = r.status == "active"
    overdue = and_(active, r.due_at < now)
    returned_in = and_(r.returned_at >= period.starts_at, r.returned_at < period.ends_before)
    row = db.session.execute(select(
        func.sum(case((active, 1), else_=0)),
        func.sum(case((overdue, 1), else_=0)),
        func.sum(case((overdue, _ceil_days_since(r.due_at, now)), else_=0)),
        func.sum(case((and_(r.starts_at >= period.starts_at, r.starts_at < period.ends_before), 1), else_=0)),
        func.sum(case((returned_in, 1), else_=0)),
        func.sum(case((returned_in, r.fee_cents), else_=0)),
        func.sum(case((returned_in, r.fee_paid_cents), else_=0)),
        func.sum(r.fee_cents - r.fee_paid_cents),
        func.sum(case((r.fee_cents > r.fee_paid_cents, 1), else_=0)),
    )).one()
    rentals = {"active": _int(row[0]), "overdue": _int(row[1]), "accruing_cents": _int(row[2]) * fee_per_day,
               "started": _int(row[3]), "returned": _int(row[4]), "fees_charged_cents": _int(row[5]),
               "fees_collected_cents": _int(row[6]), "outstanding_cents": _int(row[7]),
               "rentals_with_balance": _int(row[8])}
    h = db.session.execute(select(func.sum(case((Hold.status == "waiting", 1), else_=0)),
                                  func.sum(case((Hold.status == "ready", 1), else_=0)),
                                  func.count(func.distinct(case((Hold.status == "waiting", Hold.book_id)))))
                           .where(Hold.status.in_(("waiting", "ready")))).one()
    holds = {"waiting": _int(h[0]), "ready": _int(h[1]), "books_waited_for": _int(h[2])}
    demand = (select(Hold.book_id, func.count().label("waiting"), func.min(Hold.queued_at).label("oldest"))
              .where(Hold.status == "waiting").group_by(Hold.book_id)
              .order_by(func.count().desc(), func.min(Hold.queued_at), Hold.book_id).limit(limit).subquery())
    most_held = db.session.execute(
        select(Book.id, Book.title, Book.author_names, demand.c.waiting, demand.c.oldest, Inventory.on_hand,
               Inventory.available)
        .join(demand, demand.c.book_id == Book.id).outerjoin(Inventory, Inventory.book_id == Book.id)
        .order_by(demand.c.waiting.desc(), demand.c.oldest, Book.id)
    ).all()
    suggestions = [{"rank": i, "book_id": b.id, "title": b.title, "authors": b.author_names or "",
                    "waiting": _int(b.waiting), "waiting_since": b.oldest.date().isoformat() if b.oldest else "",
                    "on_hand": _int(b.on_hand), "available": _int(b.available),
                    "suggested_restock": max(0, _int(b.waiting) - max(0, _int(b.available)))}
                   for i, b in enumerate(most_held, start=1)]
    return {"period": period.as_params(), "rentals": rentals, "holds": holds, "most_held": suggestions,
            "late_fee_per_day_cents": fee_per_day, "limit": limit}


# ---- CSV and charts ----

def _csv(header: list[str], rows) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([safe_cell(v) for v in row] for row in rows)  # names typed by people: no formulas
    return buffer.getvalue()


def _charts(**svgs) -> str:
    """Several charts in the task's one SVG column, each behind a marker (see `chart_from`)."""
    return "".join(CHART_MARK.format(name) + str(svg) for name, svg in svgs.items())


def chart_from(stored: str | None, name: str) -> str | None:
    """One chart back out of a task's stored charts."""
    if not stored:
        return None
    mark = CHART_MARK.format(name)
    at = stored.find(mark)
    if at < 0:
        return None
    start = at + len(mark)
    end = stored.find("<!--chart:", start)
    return stored[start:end if end >= 0 else None]


def _dollars(cents: int) -> str:
    return f"{cents / 100:.2f}"


def _short(title: str, authors: str) -> str:
    return f"{title} ({authors.split(',')[0]})" if authors else title


# ---- the runners ----

def _limit(params: dict) -> int:
    value = int(params.get("limit") or 25)
    if value not in LIMITS:
        raise ReportError("Choose 10, 25 or 50 rows.")
    return value


@background.runner("report:sales")
def _run_sales(task, progress) -> background.Outcome:
    period = period_from_params(task.params)
    granularity = task.params.get("granularity", "day")
    progress(0, 2, "Adding up sales…")
    data = sales_over_time(period, granularity)
    data["freshness"] = freshness()
    progress(1, 2, "Drawing the charts…")
    labels = [p["bucket"] for p in data["series"]]
    name = GRANULARITIES[granularity].lower()
    svg = _charts(
        revenue=charts.line_chart(labels, {"Revenue": [p["revenue_cents"] for p in data["series"]]},
                                  title=f"{GRANULARITIES[granularity]} revenue", money=True,
                                  description=f"{name} revenue, {period.label()}; figures in the table"),
        orders=charts.line_chart(labels, {"Orders": [p["orders"] for p in data["series"]]},
                                 title=f"{GRANULARITIES[granularity]} orders",
                                 description=f"{name} orders, {period.label()}; figures in the table"))
    rows = [(p["bucket"], p["orders"], _dollars(p["revenue_cents"]), _dollars(p["aov_cents"]), p["units"],
             p["cancelled_orders"], _dollars(p["cancelled_cents"])) for p in data["series"]]
    csv_text = _csv(["period_start", "orders", "revenue", "average_order_value", "units",
                     "cancelled_or_refunded_orders", "cancelled_or_refunded_amount"], rows)
    t = data["totals"]
    return background.Outcome(f"{t['orders']:,} orders, {money(t['revenue_cents'])} revenue.", result=data,
                              csv=csv_text, svg=svg)


@background.runner("report:books")
def _run_books(task, progress) -> background.Outcome:
    period, limit = period_from_params(task.params), _limit(task.params)
    progress(0, 3, "Ranking best sellers…")
    best = best_sellers(period, limit)
    progress(1, 3, "Finding the least sold books…")
    least = least_sold(period, limit)
    data = {"period": period.as_params(), "limit": limit, "best": best, "least": least, "freshness": freshness()}
    progress(2, 3, "Drawing the chart…")
    top = best[:10]
    svg = _charts(best=charts.bar_chart([_short(b["title"], b["authors"]) for b in top],
                                        [b["units_sold"] + b["units_rented"] for b in top],
                                        title="Best sellers (units bought and rented)",
                                        description=f"top {len(top)} books, {period.label()}; figures in the table"))
    rows = [(section, b["rank"], b["book_id"], b["title"], b["authors"], b["units_sold"], b["units_rented"],
             _dollars(b["revenue_cents"]), b["on_hand"], b["available"], b["in_catalog_since"])
            for section, books in (("best", best), ("least", least)) for b in books]
    csv_text = _csv(["list", "rank", "book_id", "title", "authors", "units_sold", "units_rented", "revenue",
                     "on_hand", "available", "in_catalog_since"], rows)
    zero = sum(1 for b in least if not b["units_sold"] and not b["units_rented"])
    return background.Outcome(f"Top {len(best)} best sellers; {zero} in-stock books listed with no sales.",
                              result=data, csv=csv_text, svg=svg)


@background.runner("report:genres")
def _run_genres(task, progress) -> background.Outcome:
    period, limit = period_from_params(task.params), _limit(task.params)
    progress(0, 3, "Adding up sales by genre…")
    genres = genre_sales(period)
    progress(1, 3, "Adding up sales by author…")
    authors = author_sales(period, limit)
    data = {"period": period.as_params(), "limit": limit, "genres": genres, "authors": authors,
            "freshness": freshness()}
    progress(2, 3, "Drawing the charts…")
    svg = _charts(
        genres=charts.bar_chart([g["genre"] for g in genres], [g["revenue_cents"] for g in genres],
                                title="Revenue by genre", money=True,
                                description=f"{len(genres)} genres, {period.label()}; figures in the table"),
        authors=charts.bar_chart([a["author"] for a in authors[:10]], [a["revenue_cents"] for a in authors[:10]],
                                 title="Top authors by revenue", money=True,
                                 description=f"top {min(10, len(authors))} authors, {period.label()}; "
                                             "figures in the table"))
    rows = [("genre", g["genre"], g["units_sold"], g["units_rented"], _dollars(g["revenue_cents"]), "")
            for g in genres]
    rows += [("author", a["author"], a["units_sold"], a["units_rented"], _dollars(a["revenue_cents"]),
              a["titles_sold"]) for a in authors]
    csv_text = _csv(["group", "name", "units_sold", "units_rented", "revenue", "titles_sold"], rows)
    return background.Outcome(f"{sum(1 for g in genres if g['revenue_cents'])} genres and {len(authors)} authors "
                              "with sales.", result=data, csv=csv_text, svg=svg)


@background.runner("report:inventory")
def _run_inventory(task, progress) -> background.Outcome:
    limit = _limit(task.params)
    progress(0, 2, "Valuing the stock…")
    data = inventory_status(limit)
    data["freshness"] = freshness()
    progress(1, 2, "Drawing the chart…")
    s = data["summary"]
    svg = _charts(stock=charts.bar_chart(["In stock", "Low stock", "Out of stock"],
                                         [s["in_stock_ok"], s["low_stock"], s["out_of_stock"]],
                                         title="Active titles by stock level",
                                         description="titles in stock, low and out; figures in the table"))
    rows = [("summary", "", key, value) for key, value in s.items()]
    rows += [(section, b["book_id"], b["title"], f"on_hand={b['on_hand']} available={b['available']} "
              f"threshold={b['threshold']} sold_{s['turnover_days']}d={b['units_sold_window']}")
             for section, books in (("low_stock", data["low"]), ("out_of_stock", data["out"])) for b in books]
    csv_text = _csv(["section", "book_id", "name", "value"], rows)
    return background.Outcome(f"{s['titles']:,} titles, {money(s['value_cost_cents'])} at cost; "
                              f"{s['low_stock']:,} low, {s['out_of_stock']:,} out of stock.",
                              result=data, csv=csv_text, svg=svg)


@background.runner("report:rentals")
def _run_rentals(task, progress) -> background.Outcome:
    period, limit = period_from_params(task.params), _limit(task.params)
    progress(0, 2, "Counting rentals and holds…")
    data = rentals_and_holds(period, limit)
    data["freshness"] = freshness()
    progress(1, 2, "Drawing the chart…")
    top = data["most_held"][:10]
    svg = _charts(holds=charts.bar_chart([_short(b["title"], b["authors"]) for b in top], [b["waiting"] for b in top],
                                         title="Most-held books (waiting holds)",
                                         description=f"top {len(top)} books by waiting holds; figures in the table"))
    rows = [("rentals", "", key, value) for key, value in data["rentals"].items()]
    rows += [("holds", "", key, value) for key, value in data["holds"].items()]
    rows += [("most_held", b["book_id"], b["title"], f"waiting={b['waiting']} on_hand={b['on_hand']} "
              f"available={b['available']} suggested_restock={b['suggested_restock']}") for b in data["most_held"]]
    csv_text = _csv(["section", "book_id", "name", "value"], rows)
    r = data["rentals"]
    return background.Outcome(f"{r['active']:,} rentals out, {r['overdue']:,} overdue; "
                              f"{data['holds']['waiting']:,} holds waiting.", result=data, csv=csv_text, svg=svg)


def start(kind: str, period: Period | None, *, granularity: str = "day", limit: int = 25,
          user_id: int | None = None):
    """Queue one report (runs on the "reports" queue once the caller commits)."""
    if kind not in KINDS:
        raise ReportError("Choose a report.")
    params: dict = {"limit": limit}
    title = KINDS[kind]
    if kind in PERIOD_KINDS:
        if period is None:
            raise ReportError("Choose a period.")
        params.update(period.as_params())
        title += f", {period.label()}"
    if kind == "report:sales":
        params["granularity"] = granularity
        title += f" ({GRANULARITIES[granularity].lower()})"
    return background.start(kind, title, params=params, user_id=user_id)


def recent(limit: int = 20):
    return background.recent("report:", limit)


# ---- 6. the weekly summary email ----

def week_summarised(today: date) -> date:
    """The Monday of the last complete week (Monday to Sunday, UTC) before `today`."""
    this_monday = today - timedelta(days=today.weekday())
    return this_monday - timedelta(days=7)


def weekly_figures(week_start: date) -> dict:
    week = Period(week_start, week_start + timedelta(days=6))
    before = Period(week_start - timedelta(days=7), week_start - timedelta(days=1))
    this, last = sales_over_time(week, "week")["totals"], sales_over_time(before, "week")["totals"]
    inventory = inventory_status(limit=5)["summary"]
    rentals = rentals_and_holds(week, limit=5)
    return {"week": week.as_params(), "sales": this, "previous": last, "best": best_sellers(week, 5),
            "inventory": inventory, "rentals": rentals["rentals"], "holds": rentals["holds"],
            "most_held": rentals["most_held"], "freshness": freshness()}


def _change(now: int, before: int) -> str:
    if not before:
        return "no sales the week before" if now else "no change"
    pct = (now - before) * 100 / before
    return f"{'+' if pct >= 0 else ''}{pct:.0f}% on the week before"


def weekly_text(f: dict) -> str:
    s, p, inv, r, h = f["sales"], f["previous"], f["inventory"], f["rentals"], f["holds"]
    lines = [f"Week {f['week']['from']} to {f['week']['to']} (UTC)", "",
             f"Revenue: {money(s['revenue_cents'])} ({_change(s['revenue_cents'], p['revenue_cents'])})",
             f"Orders: {s['orders']:,} ({_change(s['orders'], p['orders'])})",
             f"Average order: {money(s['aov_cents'])}",
             f"Cancelled or refunded after payment: {s['cancelled_orders']:,} ({money(s['cancelled_cents'])})", "",
             "Best sellers:"]
    lines += [f"  {b['rank']}. {b['title']} — {b['units_sold'] + b['units_rented']} units, "
              f"{money(b['revenue_cents'])}" for b in f["best"]] or ["  (no sales)"]
    lines += ["", f"Stock: {inv['low_stock']:,} titles low, {inv['out_of_stock']:,} out of stock; "
                  f"{money(inv['value_cost_cents'])} at cost.",
              f"Rentals: {r['active']:,} out, {r['overdue']:,} overdue; {money(r['outstanding_cents'])} in late fees "
              "outstanding.",
              f"Holds: {h['waiting']:,} waiting for {h['books_waited_for']:,} books."]
    if f["most_held"]:
        lines += ["Most wanted (restock suggestions):"]
        lines += [f"  {b['title']} — {b['waiting']} waiting, {b['available']} available" for b in f["most_held"]]
    lines += ["", REVENUE_DEFINITION]
    return "\n".join(lines)


def send_weekly_summary(now: datetime | None = None) -> dict:
    """Email the last complete week's summary to every active admin, once per admin and week (a second run in
    the same week sends nothing; an admin added since gets theirs). Commits."""
    from ..platform import mail

    now = now or utcnow()
    refresh_rollups()
    week_start = week_summarised(now.date())
    admins = db.session.scalars(select(User).where(User.role == "admin", User.is_active_account.is_(True),
                                                   User.deleted_at.is_(None)).order_by(User.id)).all()
    already = set(db.session.scalars(select(WeeklySummarySend.user_id)
                                     .where(WeeklySummarySend.week_start == week_start)))
    todo = [a for a in admins if a.id not in already]
    if not todo:
        return {"week": week_start.isoformat(), "sent": 0, "already": len(already)}
    figures = weekly_figures(week_start)
    body = weekly_text(figures)
    subject = f"{current_app.config['SHOP_NAME']} weekly summary, week of {week_start.isoformat()}"
    sent = 0
    for admin in todo:
        try:
            with db.session.begin_nested():
                record = WeeklySummarySend(week_start=week_start, user_id=admin.id, sent_at=now)
                db.session.add(record)
                db.session.flush()  # the primary key claims (week, admin): a concurrent run stops here
        except IntegrityError:
            continue
        record.email_id = mail.send(admin.email, subject, f"Hello {admin.display_name},\n\n{body}").id
        sent += 1
    db.session.commit()
    return {"week": week_start.isoformat(), "sent": sent, "already": len(already)}

