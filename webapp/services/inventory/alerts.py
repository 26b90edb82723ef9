"""Low-stock alerts: raised when a book's available stock falls to its threshold (the book's own
low_stock_threshold, else LOW_STOCK_THRESHOLD) — running out included — and closed when it rises above it
again. Alerts follow changes: a book added with little or no stock (a new title, an import) raises none until
its stock moves. The stock service
calls `crossed()` with the counts of each change, so alerts follow every path that moves stock (checkout
reservations, restocks, returns, staff adjustments) without extra queries on changes that cross nothing.
Admins see open alerts on the admin home and get new ones once in a daily digest email."""
from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy import ColumnElement, and_, func, select, update
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


def open_alerts(limit: int = 10) -> tuple[int, list[StockAlert]]:
    """How many books are on alert now, and the most recent few (with their current stock)."""
    where = (StockAlert.resolved_at.is_(None), Book.active.is_(True))
    total = db.session.scalar(select(func.count()).select_from(StockAlert).join(Book, Book.id == StockAlert.book_id)
                              .where(*where)) or 0
    rows = db.session.scalars(select(StockAlert).join(Book, Book.id == StockAlert.book_id).where(*where)
                              .order_by(StockAlert.created_at.desc(), StockAlert.id.desc()).limit(limit)).all()
    return total, list(rows)


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
