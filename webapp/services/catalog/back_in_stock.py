"""Back-in-stock requests: a signed-in shopper's "Notify me" on a book that is out of stock, and the one email
when copies are available again.

A request is one row per (book, shopper) (a unique constraint): asking twice is one request, and asking again
after being told re-opens the same row. `notify` is wired into services.inventory.stock.on_copies_freed by
services.connect, after the holds queue (which takes freed copies first): when the book still has copies
available, one conditional UPDATE stamps `notified_at` on the waiting requests and returns them, so two restocks
racing each email a shopper once at most (the second UPDATE finds nothing left WHERE notified_at IS NULL). The
emails go to the outbox in the same transaction as the stock change.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...links import public_url
from ...models import BackInStockRequest, Book, User, slugify, utcnow
from ..inventory import stock
from ..people import accounts
from ..platform import mail
from ..platform.errors import RuleError


class NotifyError(RuleError):
    """A request that cannot be made (the book is in stock or no longer sold); the message is for the shopper."""


@dataclass(frozen=True)
class Waiting:
    """One of a shopper's open requests, as their account lists it."""

    book_id: int
    title: str
    author_names: str
    asked_at: datetime

    @property
    def slug(self) -> str:
        return slugify(self.title)


def ask(user: User, book: Book) -> bool:
    """Ask to be emailed when `book` is back. True when this made or re-opened a request, False when one was
    already waiting. Raises NotifyError when the book is in stock or not sold."""
    if not book.active:
        raise NotifyError("This book is no longer sold.")
    if stock.state(book.id).available > 0:
        raise NotifyError("This book is in stock: you can order it now.")
    reopened = db.session.execute(
        update(BackInStockRequest)
        .where(BackInStockRequest.book_id == book.id, BackInStockRequest.user_id == user.id,
               BackInStockRequest.notified_at.is_not(None))
        .values(notified_at=None, created_at=utcnow())
        .returning(BackInStockRequest.id).execution_options(synchronize_session=False)).first()
    if reopened is not None:
        return True
    if is_waiting(user.id, book.id):
        return False
    try:
        with db.session.begin_nested():  # two clicks at once: the unique constraint keeps one row
            db.session.add(BackInStockRequest(book_id=book.id, user_id=user.id))
    except IntegrityError:
        return False
    return True


def cancel(user_id: int, book_id: int) -> bool:
    """Stop waiting for the book; False when there was no open request."""
    gone = db.session.execute(
        delete(BackInStockRequest).where(BackInStockRequest.book_id == book_id, BackInStockRequest.user_id == user_id,
                                         BackInStockRequest.notified_at.is_(None))
        .returning(BackInStockRequest.id).execution_options(synchronize_session=False)).first()
    return gone is not None


def is_waiting(user_id: int, book_id: int) -> bool:
    return db.session.scalar(select(BackInStockRequest.id).where(
        BackInStockRequest.book_id == book_id, BackInStockRequest.user_id == user_id,
        BackInStockRequest.notified_at.is_(None))) is not None


def waiting_for(user_id: int, limit: int = 50) -> list[Waiting]:
    """The shopper's open requests, newest first (one query, bounded)."""
    rows = db.session.execute(
        select(Book.id, Book.title, Book.author_names, BackInStockRequest.created_at)
        .join(Book, Book.id == BackInStockRequest.book_id)
        .where(BackInStockRequest.user_id == user_id, BackInStockRequest.notified_at.is_(None))
        .order_by(BackInStockRequest.created_at.desc(), BackInStockRequest.id.desc()).limit(limit)).all()
    return [Waiting(*row) for row in rows]


def notify(book_id: int) -> int:
    """Copies of the book were freed: if some are still available (after the holds queue), email everyone
    waiting for it, once each. Returns how many were emailed. Runs in the caller's transaction."""
    if stock.state(book_id).available <= 0:
        return 0
    book = db.session.get(Book, book_id)
    if book is None or not book.active:  # withdrawn: the requests wait (it may come back on sale)
        return 0
    user_ids = db.session.scalars(
        update(BackInStockRequest)
        .where(BackInStockRequest.book_id == book_id, BackInStockRequest.notified_at.is_(None))
        .values(notified_at=utcnow())
        .returning(BackInStockRequest.user_id).execution_options(synchronize_session=False)).all()
    if not user_ids:
        return 0
    url = public_url("catalog.book", book_id=book.id, slug=book.slug)
    sent = 0
    for user_id in sorted(user_ids):
        user = accounts.reachable(user_id)
        if user is not None:
            mail.send_template(user.email, "book_back_in_stock", user=user, name=user.display_name, book=book,
                               book_url=url)
            sent += 1
    return sent
