"""Low-stock alerts: raised when a book's available stock falls to its threshold (the book's own
low_stock_threshold, else LOW_STOCK_THRESHOLD) — running out included — and closed when it rises above it
again. Alerts follow changes: a book added with little or no stock (a new title, an import) raises none until
its stock moves. The stock service
calls `crossed()` with the counts of each change, so alerts follow every path that moves stock (checkout
reservations, restocks, returns, staff adjustments) without extra queries on changes that cross nothing.
Admins get new alerts once in a daily digest email. The admin home shows what is low *now* (`stock_counts`,
`at_or_below`), from the stock itself with the same `low_sql` definition, so its summary and its list agree even
for books that were added low and never moved (they have no alert row)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import ColumnElement, and_, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute

from ...extensions import db
from ...models import Book, Inventory, StockAlert, User, utcnow
from ..platform import mail


def threshold_for(own: int | None) -> int:
    return own if own is not None else current_app.config["LOW_STOCK_THRESHOLD"]


def threshold_sql() -> ColumnElement[int]:
    """The same threshold in SQL: the book's own, else LOW_STOCK_THRESHOLD."""
    return func.coalesce(Inventory.low_stock_threshold, current_app.config["LOW_STOCK_THRESHOLD"])


def low_sql(available: ColumnElement[int] | InstrumentedAttribute[int] = Inventory.available) -> ColumnElement[bool]:
    """"Low stock" everywhere it is shown (books filter, admin home, inventory report): some left, but no more
    than the threshold. Out of stock (available <= 0) is counted apart."""
    return and_(available > 0, available <= threshold_sql())


def _ceiling() -> int:
    """No book on sale can be low above this: lets the counts read only the (available, threshold) index's low
    end instead of every inventory row."""
    default: int = current_app.config["LOW_STOCK_THRESHOLD"]
    return max(default, db.session.scalar(select(func.max(Inventory.low_stock_threshold))) or 0)


def stock_counts() -> tuple[int, int]:
    """(low stock, out of stock) among books on sale, now: low by `low_sql`, out when none is available. Counted
    over inventory from the (available, low_stock_threshold) index alone, then the few archived books' rows taken
    off, instead of joining every low row to books."""
    ceiling = _ceiling()
    counts = (func.coalesce(func.sum(case((low_sql(), 1), else_=0)), 0),
              func.coalesce(func.sum(case((Inventory.available <= 0, 1), else_=0)), 0))
    every = db.session.execute(select(*counts).where(Inventory.available <= ceiling)).one()
    archived = db.session.execute(
        select(*counts).select_from(Book).join(Inventory, Inventory.book_id == Book.id)
        .where(Book.active.is_(False), Inventory.available <= ceiling)).one()
    return int(every[0]) - int(archived[0]), int(every[1]) - int(archived[1])


@dataclass(frozen=True)
class LowBook:
    book_id: int
    title: str
    available: int
    threshold: int
    alert_since: datetime | None  # when its open alert was raised; None if its stock never moved down to it

    @property
    def out(self) -> bool:
        return self.available <= 0


def at_or_below(limit: int = 10) -> list[LowBook]:
    """Books on sale that are low or out of stock now (the books `stock_counts` counts), fewest available first."""
    threshold = threshold_sql()
    rows = db.session.execute(
        select(Book.id, Book.title, Inventory.available, threshold, StockAlert.created_at)
        .join(Inventory, Inventory.book_id == Book.id)
        .outerjoin(StockAlert, and_(StockAlert.book_id == Book.id, StockAlert.resolved_at.is_(None)))
        .where(Book.active.is_(True), Inventory.available <= _ceiling(),
               or_(Inventory.available <= 0, low_sql()))
        .order_by(Inventory.available, Inventory.book_id).limit(limit)).all()
    return [LowBook(r[0], r[1], int(r[2]), int(r[3]), r[4]) for r in rows]


SHELF_STATES = ("in_stock", "low", "out_of_stock")


def shelf_state(available: int) -> str:
    """What a shopper is shown about a book's stock (the site's badge, the API's `stock.state`): "out_of_stock"
    (none available), "low" ("Only N left": at most the shop's LOW_STOCK_THRESHOLD; a book's own threshold is
    for staff alerts only) or "in_stock"."""
    if available <= 0:
        return "out_of_stock"
    return "low" if available <= current_app.config["LOW_STOCK_THRESHOLD"] else "in_stock"


def crossed(book_id: int, before: int, after: int, own_threshold: int | None) -> None:
    """Called by services.inventory.stock after a change of available stock from `before` to `after`."""
    threshold = threshold_for(own_threshold)
    if after <= threshold and after < before:  # fell to or under it (again): one open alert, the insert is a no-op
        _open(book_id, after, threshold)
    elif before <= threshold < after:
        db.session.execute(update(StockAlert).where(StockAlert.book_id == book_id, StockAlert.resolved_at.is_(None))
                           .values(resolved_at=utcnow()).execution_options(synchronize_session=False))


def recheck(book_id: int) -> None:
    """Bring the book's alert in line with its stock now (threshold changed by staff)."""
    row = db.session.execute(select(Inventory.available, Inventory.low_stock_threshold)
                             .where(Inventory.book_id == book_id)).one_or_none()
    if row is None:
        return
    available, own = row
    threshold = threshold_for(own)
    if available <= threshold:
        _open(book_id, available, threshold)
    else:
        crossed(book_id, threshold, available, own)  # closes an open alert


def _open(book_id: int, available: int, threshold: int) -> None:
    """One open alert per book (partial unique index); a concurrent second opener does nothing."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(StockAlert).values(book_id=book_id, available=available, threshold=threshold, created_at=utcnow())
    db.session.execute(stmt.on_conflict_do_nothing(index_elements=[StockAlert.book_id],
                                                   index_where=StockAlert.resolved_at.is_(None)))


def send_digest(now: datetime | None = None) -> dict[str, int]:
    """Email every admin the alerts raised since the last digest (still open), once. Idempotent: the alerts
    are marked digested in the same transaction as the emails are queued."""
    now = now or utcnow()
    alerts = db.session.scalars(
        select(StockAlert).join(Book, Book.id == StockAlert.book_id)
        .where(StockAlert.digested_at.is_(None), StockAlert.resolved_at.is_(None), Book.active.is_(True))
        .order_by(StockAlert.available, StockAlert.created_at).limit(500).with_for_update(of=StockAlert)).all()
    if not alerts:
        return {"alerts": 0, "emails": 0}
    available: dict[int, int] = {book_id: count for book_id, count in db.session.execute(
        select(Inventory.book_id, Inventory.available).where(Inventory.book_id.in_([a.book_id for a in alerts])))}
    admins = db.session.scalars(select(User.email).where(User.role == "admin", User.is_active_account.is_(True),
                                                         User.deleted_at.is_(None))).all()
    for email in admins:
        mail.send_template(email, "low_stock_digest", alerts=alerts, available=available)
    db.session.execute(update(StockAlert).where(StockAlert.id.in_([a.id for a in alerts]))
                       .values(digested_at=now).execution_options(synchronize_session=False))
    return {"alerts": len(alerts), "emails": len(admins)}
