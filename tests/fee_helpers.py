"""Helpers for the fee tests: a rental out with a chosen due date, and one returned late with a fee due."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from tests.checkout_helpers import settle, shopper, start
from tests.factories import make_book
from webapp.extensions import db
from webapp.models import Rental, User, utcnow
from webapp.services.circulation import rentals
from webapp.services.inventory import stock


def rental_out(user: User, *, title: str = "Rentable", price_cents: int = 2000,
               due_at: datetime | None = None) -> Rental:
    """A paid rental of one copy, with the loan running (starts 3 days before `due_at`, as if delivered then).
    The customer's first goes through checkout; a further one (a Free plan rents one book at a time, and a fee
    due blocks renting) is added to that same order, its copy taken out of stock as a rental is."""
    book = make_book(title, on_hand=3, price_cents=price_cents)
    db.session.commit()
    first = db.session.scalar(select(Rental).where(Rental.user_id == user.id).order_by(Rental.id))
    if first is None:
        order = start(user, [(book, 1, "rent", 3)])
        settle(order, f"pi_{book.id}", order.total_cents)
        db.session.commit()
        rental = db.session.scalars(select(Rental).where(Rental.order_id == order.id)).one()
    else:
        stock.adjust(book.id, -1, "rental_out", reference="test")
        rental = Rental(user_id=user.id, book_id=book.id, order_id=first.order_id, order_line_id=first.order_line_id)
        db.session.add(rental)
    due_at = due_at or utcnow() + timedelta(days=3)
    rental.starts_at, rental.due_at = due_at - timedelta(days=3), due_at
    db.session.commit()
    return rental


def staff() -> User:
    """The clerk who takes copies back (one per test database)."""
    return db.session.scalar(select(User).where(User.username == "clerk")) or shopper("clerk")


def late_return(user: User, *, days_late: int, title: str = "Late book", price_cents: int = 2000,
                clerk: User | None = None) -> Rental:
    """A rental returned `days_late` started days late (its fee recorded, the wallet charged as far as it goes)."""
    now = utcnow()
    rental = rental_out(user, title=title, price_cents=price_cents,
                        due_at=now - timedelta(days=days_late) + timedelta(hours=1))
    clerk = clerk or staff()
    rentals.mark_returned(rental, actor=clerk, now=now)
    db.session.commit()
    db.session.refresh(rental)
    return rental
