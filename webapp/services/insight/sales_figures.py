"""The sales reports' figures, read from the rollups (services.insight.rollups, which also says what counts as
revenue): sales over time, best and least sold books, sales by genre and by author.

Every figure is a SQL aggregate (GROUP BY, SUM, COUNT); Python only shapes the few rows that come back.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import TypedDict

from sqlalchemy import ColumnElement, exists, func, literal_column, select

from ...extensions import db
from ...models import (
    Author,
    Book,
    BookAuthor,
    Genre,
    Inventory,
    SalesAuthorTotal,
    SalesBookTotal,
    SalesDaily,
    SalesDailyGenre,
    SalesDailyTotal,
)
from .periods import GRANULARITIES, Period, ReportError
from .sql import AnyRow, AnySelect, as_date, as_int, bucket_start, tune_session

PRUNE_AFTER_DAYS = 92  # shorter periods are small enough to rank whole


class SalesTotals(TypedDict):
    """A period's sales, or (as SalesPoint) one day's, week's or month's."""

    orders: int
    revenue_cents: int
    aov_cents: int  # average order value
    units: int
    cancelled_orders: int
    cancelled_cents: int


class SalesPoint(SalesTotals):
    bucket: str  # its first day (YYYY-MM-DD), or its month (YYYY-MM)


class SalesOverTime(TypedDict):
    period: dict[str, str]
    granularity: str
    series: list[SalesPoint]
    totals: SalesTotals


class BookSales(TypedDict):
    rank: int
    book_id: int
    title: str
    authors: str
    units_sold: int
    units_rented: int
    revenue_cents: int
    on_hand: int
    available: int
    in_catalog_since: str


class GenreSales(TypedDict):
    genre_id: int
    genre: str
    units_sold: int
    units_rented: int
    revenue_cents: int


class AuthorSales(TypedDict):
    rank: int
    author_id: int
    author: str
    units_sold: int
    units_rented: int
    revenue_cents: int
    titles_sold: int


# ---- sales over time ----

def sales_over_time(period: Period, granularity: str = "day") -> SalesOverTime:
    if granularity not in GRANULARITIES:
        raise ReportError("Choose daily, weekly or monthly figures.")
    t = SalesDailyTotal
    bucket: ColumnElement[date] = bucket_start(t.day, granularity).label("bucket")
    rows = db.session.execute(
        select(bucket, func.sum(t.orders), func.sum(t.revenue_cents), func.sum(t.units),
               func.sum(t.cancelled_orders), func.sum(t.cancelled_cents))
        .where(t.day >= period.start, t.day <= period.end).group_by(literal_column("bucket"))
    ).all()
    found = {as_date(r[0]): r for r in rows}
    series: list[SalesPoint] = []
    for start in _buckets(period, granularity):
        r = found.get(start)
        orders, revenue = (as_int(r[1]), as_int(r[2])) if r else (0, 0)
        series.append({"bucket": _bucket_label(start, granularity), "orders": orders, "revenue_cents": revenue,
                       "aov_cents": round(revenue / orders) if orders else 0, "units": as_int(r[3]) if r else 0,
                       "cancelled_orders": as_int(r[4]) if r else 0, "cancelled_cents": as_int(r[5]) if r else 0})
    orders = sum(p["orders"] for p in series)  # adding up the few buckets just fetched
    revenue = sum(p["revenue_cents"] for p in series)
    totals: SalesTotals = {
        "orders": orders, "revenue_cents": revenue, "aov_cents": round(revenue / orders) if orders else 0,
        "units": sum(p["units"] for p in series), "cancelled_orders": sum(p["cancelled_orders"] for p in series),
        "cancelled_cents": sum(p["cancelled_cents"] for p in series)}
    return {"period": period.as_params(), "granularity": granularity, "series": series, "totals": totals}


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


# ---- best and least sold ----

def best_sellers(period: Period, limit: int = 25) -> list[BookSales]:
    """The books with the most units (bought + rented) in the period, then the most revenue."""
    tune_session()
    t = SalesBookTotal
    rows = None if period.days <= PRUNE_AFTER_DAYS else _top_with_bound(
        lambda ids: _rank_books(period, limit, ids), limit,
        lambda k: select(t.book_id, t.units).order_by(t.units.desc(), t.book_id).limit(k),
        lambda c: as_int(c.units), lambda r: as_int(r.sold) + as_int(r.rented))
    if rows is None:
        rows = _rank_books(period, limit, None)
    return [_book_row(r, i) for i, r in enumerate(rows, start=1)]


def least_sold(period: Period, limit: int = 25) -> list[BookSales]:
    """Active books with copies on hand that sold least in the period: first those that sold nothing at all
    (longest in the catalog first), then, if fewer than `limit`, the smallest sellers."""
    s = SalesDaily
    sold_any = exists().where(s.book_id == Book.id, s.day >= period.start, s.day <= period.end)
    rows: list[AnyRow] = list(db.session.execute(
        select(Book.id, Book.title, Book.author_names, Book.created_at, literal_column("0").label("sold"),
               literal_column("0").label("rented"), literal_column("0").label("revenue"),
               Inventory.on_hand, Inventory.available)
        .join(Inventory, Inventory.book_id == Book.id)
        .where(Book.active.is_(True), Inventory.on_hand > 0, ~sold_any)
        .order_by(Book.created_at, Book.id).limit(limit)
    ).all())
    if len(rows) < limit:
        tune_session()
        sales = _period_sales(period).subquery()
        rows += db.session.execute(
            select(Book.id, Book.title, Book.author_names, Book.created_at, sales.c.sold, sales.c.rented,
                   sales.c.revenue, Inventory.on_hand, Inventory.available)
            .join(sales, sales.c.book_id == Book.id).join(Inventory, Inventory.book_id == Book.id)
            .where(Book.active.is_(True), Inventory.on_hand > 0)
            .order_by(sales.c.sold + sales.c.rented, Book.created_at, Book.id).limit(limit - len(rows))
        ).all()
    return [_book_row(r, i) for i, r in enumerate(rows, start=1)]


def _period_sales(period: Period) -> AnySelect:
    s = SalesDaily
    return (select(s.book_id, func.sum(s.units_sold).label("sold"), func.sum(s.units_rented).label("rented"),
                   func.sum(s.revenue_cents).label("revenue"))
            .where(s.day >= period.start, s.day <= period.end).group_by(s.book_id))


def _book_row(r: AnyRow, rank: int) -> BookSales:
    return {"rank": rank, "book_id": r.id, "title": r.title, "authors": r.author_names or "",
            "units_sold": as_int(r.sold), "units_rented": as_int(r.rented), "revenue_cents": as_int(r.revenue),
            "on_hand": as_int(r.on_hand), "available": as_int(r.available),
            "in_catalog_since": r.created_at.date().isoformat() if r.created_at else ""}


def _rank_books(period: Period, limit: int, book_ids: list[int] | None) -> Sequence[AnyRow]:
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


def _top_with_bound(ranked: Callable[[list[int]], Sequence[AnyRow]], limit: int,
                    candidates_query: Callable[[int], AnySelect], bound_of: Callable[[AnyRow], int],
                    key_of: Callable[[AnyRow], int]) -> Sequence[AnyRow] | None:
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


# ---- genres and authors ----

def genre_sales(period: Period) -> list[GenreSales]:
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
    return [{"genre_id": r.id, "genre": r.name, "units_sold": as_int(r.sold), "units_rented": as_int(r.rented),
             "revenue_cents": as_int(r.revenue)} for r in rows]


def author_sales(period: Period, limit: int = 25) -> list[AuthorSales]:
    """The top authors by revenue (a book by two authors counts fully for each)."""
    tune_session()
    t = SalesAuthorTotal
    rows = None if period.days <= PRUNE_AFTER_DAYS else _top_with_bound(
        lambda ids: _rank_authors(period, limit, ids), limit,
        lambda k: select(t.author_id, t.revenue_cents).order_by(t.revenue_cents.desc(), t.author_id).limit(k),
        lambda c: as_int(c.revenue_cents), lambda r: as_int(r.revenue))
    if rows is None:
        rows = _rank_authors(period, limit, None)
    return [{"rank": i, "author_id": r.id, "author": r.name, "units_sold": as_int(r.sold),
             "units_rented": as_int(r.rented), "revenue_cents": as_int(r.revenue), "titles_sold": as_int(r.titles)}
            for i, r in enumerate(rows, start=1)]


def _rank_authors(period: Period, limit: int, author_ids: list[int] | None) -> Sequence[AnyRow]:
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
