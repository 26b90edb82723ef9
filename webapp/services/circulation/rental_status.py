"""A rental's status in one place: the only way it changes (`move`, within models.orders.RENTAL_TRANSITIONS),
what "overdue" and "due soon" mean (`overdue_clause`, `due_soon_clause`) and whom to email about a change (`customer_on_file`). rentals.py and lost.py both move rentals, and staff lists, reminders,
the lost-book job, the admin dashboard and reports all count overdue rentals: kept here so they cannot drift.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, and_, update

from ...models import Rental, User
from ...models.orders import RENTAL_TRANSITIONS, RentalStatus
from ..people import accounts
from ..platform import dml
from ..platform.states import require_move


def move(which: ColumnElement[bool], from_status: RentalStatus, to_status: RentalStatus, **values: object) -> int:
    """A conditional UPDATE of the rentals matching `which` that are still `from_status`. A move
    RENTAL_TRANSITIONS does not allow is refused (states.IllegalMove, a ValueError) before touching a row.
    Returns how many rentals this transaction moved, so a repeat or a lost race moves none."""
    require_move(RENTAL_TRANSITIONS, (from_status,), to_status, what="a rental")
    return dml.changed(
        update(Rental).where(which, Rental.status == from_status).values(status=to_status, **values)
        .execution_options(synchronize_session=False))


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    """Overdue at `now`: active, past its due date and not sent back (a loan on its way has no due date yet; one
    the customer sent back stopped counting the day they posted it)."""
    return and_(Rental.status == RentalStatus.ACTIVE, Rental.due_at < now, Rental.sent_back_at.is_(None))


def due_soon_clause(now: datetime) -> ColumnElement[bool]:
    """Due within RENTAL_DUE_SOON_DAYS of `now`, not yet overdue and still with the customer (not sent back): the
    staff's "Due soon" list, the reminder emails and automatic renewal pick the same rentals."""
    soon = now + timedelta(days=current_app.config["RENTAL_DUE_SOON_DAYS"])
    return and_(Rental.status == RentalStatus.ACTIVE, Rental.due_at >= now, Rental.due_at <= soon,
                Rental.sent_back_at.is_(None))


def not_arrived_clause(now: datetime) -> ColumnElement[bool]:
    """Sent back more than RENTAL_RETURN_TRANSIT_DAYS before `now` and still not received: staff should ask the
    customer (proof of postage) or the carrier. "Sent back" stops late fees and the lost-book job, so without this
    a book claimed as posted would never come up again."""
    cutoff = now - timedelta(days=current_app.config["RENTAL_RETURN_TRANSIT_DAYS"])
    return and_(Rental.status == RentalStatus.ACTIVE, Rental.sent_back_at < cutoff)


def customer_on_file(rental: Rental) -> User | None:
    """The rental's customer, to email about a change, unless the account was deleted (accounts.reachable)."""
    return accounts.reachable(rental.user_id)
