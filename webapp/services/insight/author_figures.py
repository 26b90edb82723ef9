"""Each author's own sales figures (the author dashboard): units sold and rented and revenue of their books only,
per month or day, in total and per book.

* Orders count when paid, shipped or delivered, by the time they were paid (UTC).
* Units: every copy sold or rented counts in full for each of the book's authors.
* Revenue: each order line's amount (before order-level discounts, shipping and tax) counts in full for each of
  the book's authors, as in the shop's reports (sales by author); integer cents.
* SQL aggregates over the orders only; the author comes from the signed-in user, never from the request.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.orm import InstrumentedAttribute

from ...extensions import db
from ...models import PAID_STATUSES, Author, Book, BookAuthor, Inventory, Order, OrderLine, utcnow

PERIODS = {"12m": "Last 12 months (monthly)", "30d": "Last 30 days (daily)"}


@dataclass(frozen=True)
class BookFigures:
    book_id: int
    title: str
    active: bool
    co_authors: int  # other authors of this book
    sold: int
    rented: int
    revenue_cents: int
    available: int


@dataclass(frozen=True)
class Figures:
    period: str
    since: datetime
    points: list[date]  # the first day of each month or day shown
    labels: list[str]
    sold: list[int]
    rented: list[int]
    revenue_cents: list[int]
    total_sold: int
    total_rented: int
    total_revenue_cents: int
    books: list[BookFigures]
    generated_at: datetime

    @property
    def nothing(self) -> bool:
        """No copy of theirs sold or rented in the period."""
        return not (self.total_sold or self.total_rented or self.total_revenue_cents)

    @property
    def shared_books(self) -> int:
        return sum(1 for b in self.books if b.co_authors)

    @property
    def rows(self) -> list[tuple[str, int, int, int]]:
        return list(zip(self.labels, self.sold, self.rented, self.revenue_cents, strict=True))


def _period_start(period: str, now: datetime) -> tuple[datetime, list[date]]:
    today = now.date()
    if period == "30d":
        days = [today - timedelta(days=29 - i) for i in range(30)]
        return datetime(days[0].year, days[0].month, days[0].day, tzinfo=UTC), days
    months = []
    year, month = today.year, today.month
    for _ in range(12):
        months.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    months.reverse()
    return datetime(months[0].year, months[0].month, 1, tzinfo=UTC), months


def _bucket(column: ColumnElement[datetime] | InstrumentedAttribute[datetime | None], monthly: bool
            ) -> ColumnElement[str]:
    """The month ("2025-03") or day ("2025-03-14") of a UTC timestamp, as text, in the database's dialect."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM" if monthly else "YYYY-MM-DD")
    return func.strftime("%Y-%m" if monthly else "%Y-%m-%d", column)


def figures(author: Author, period: str = "12m", now: datetime | None = None) -> Figures:
    """Units sold, units rented and revenue of this author's books only: per month or day, in total and per book.
    Three aggregate queries (series, totals, per book) whatever the number of books or orders."""
    period = period if period in PERIODS else "12m"
    now = now or utcnow()
    since, points = _period_start(period, now)
    monthly = period == "12m"

    mine = select(BookAuthor.book_id).where(BookAuthor.author_id == author.id)
    authors_per_book = (select(BookAuthor.book_id.label("book_id"), func.count().label("n"))
                        .where(BookAuthor.book_id.in_(mine)).group_by(BookAuthor.book_id).subquery())
    sold = func.coalesce(func.sum(case((OrderLine.mode == "buy", OrderLine.quantity), else_=0)), 0)
    rented = func.coalesce(func.sum(case((OrderLine.mode == "rent", OrderLine.quantity), else_=0)), 0)
    # Co-written books count in full for each author, as in the shop's reports (sales by author): integer cents.
    revenue = func.coalesce(func.sum(OrderLine.line_cents), 0)

    def lines(*columns: ColumnElement[Any]) -> Select[Any]:
        return (select(*columns).select_from(OrderLine)
                .join(authors_per_book, authors_per_book.c.book_id == OrderLine.book_id)
                .join(Order, Order.id == OrderLine.order_id)
                .where(Order.status.in_(PAID_STATUSES), Order.paid_at >= since, Order.paid_at <= now))

    bucket = _bucket(Order.paid_at, monthly).label("bucket")
    series = {row.bucket: row for row in db.session.execute(
        lines(bucket, sold.label("sold"), rented.label("rented"), revenue.label("revenue")).group_by(bucket))}
    totals = db.session.execute(lines(sold, rented, revenue)).one()

    per_book = lines(OrderLine.book_id.label("book_id"), sold.label("sold"), rented.label("rented"),
                     revenue.label("revenue")).group_by(OrderLine.book_id).subquery()
    book_rows = db.session.execute(
        select(Book.id, Book.title, Book.active, authors_per_book.c.n,
               func.coalesce(per_book.c.sold, 0), func.coalesce(per_book.c.rented, 0),
               func.coalesce(per_book.c.revenue, 0), func.coalesce(Inventory.available, 0))
        .join(authors_per_book, authors_per_book.c.book_id == Book.id)
        .outerjoin(per_book, per_book.c.book_id == Book.id)
        .outerjoin(Inventory, Inventory.book_id == Book.id)
        .order_by(func.coalesce(per_book.c.revenue, 0).desc(), Book.title, Book.id)).all()

    keys = [p.strftime("%Y-%m" if monthly else "%Y-%m-%d") for p in points]
    empty = (0, 0, 0)
    values = [(series[k].sold, series[k].rented, series[k].revenue) if k in series else empty for k in keys]
    return Figures(
        period=period, since=since, points=points,
        labels=[p.strftime("%b %Y" if monthly else "%-d %b") for p in points],
        sold=[int(v[0]) for v in values], rented=[int(v[1]) for v in values],
        revenue_cents=[int(v[2]) for v in values],
        total_sold=int(totals[0]), total_rented=int(totals[1]), total_revenue_cents=int(totals[2]),
        books=[BookFigures(book_id=r[0], title=r[1], active=r[2], co_authors=int(r[3]) - 1, sold=int(r[4]),
                           rented=int(r[5]), revenue_cents=int(r[6]), available=int(r[7])) for r in book_rows],
        generated_at=now,
    )
