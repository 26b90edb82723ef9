"""Postal loans: the loan clock starts at delivery, the customer says "I've sent it back", and opted-in customers'
loans renew by themselves.

- start_for_order: the order was delivered (or collected in store): its rentals that are on their way start now,
  each due after its own line's rental_days. Called by services.commerce.orders (a higher layer) in the same
  transaction as the order's status change.
- mark_sent_back: the customer posted the copy back: days overdue stop counting that day (rentals.overdue_days);
  the rental stays active ("sent back, awaiting receipt") until staff receive it (rentals.mark_returned).
- auto_renew: daily, before the reminders go out, renews once each rental due soon whose customer opted in
  (User.auto_renew_rentals) when it could be renewed by hand and their plan still allows the loan's length.
Every change is one conditional UPDATE, so a repeat or a race does nothing twice.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from ...extensions import db
from ...models import Rental, User, utcnow
from ...models.orders import OrderLine, RentalStatus
from ..platform import audit, dml, mail
from . import rental_status, rentals
from .rentals import RentalError


def start_for_order(order_id: int, when: datetime | None = None) -> int:
    """The order's copies reached the customer at `when`: each rental still on its way starts then and is due
    its line's rental_days later. Returns how many started (0 when called again)."""
    when = when or utcnow()
    started = 0
    pending = db.session.execute(
        select(Rental.id, OrderLine.rental_days).join(OrderLine, OrderLine.id == Rental.order_line_id)
        .where(Rental.order_id == order_id, Rental.status == RentalStatus.ACTIVE, Rental.starts_at.is_(None))).all()
    for rental_id, days in pending:
        started += dml.changed(
            update(Rental).where(Rental.id == rental_id, Rental.status == RentalStatus.ACTIVE,
                                 Rental.starts_at.is_(None))
            .values(starts_at=when, due_at=when + timedelta(days=days or 7))
            .execution_options(synchronize_session=False))
    return started


def mark_sent_back(rental: Rental, user: User, *, ip: str | None = None, now: datetime | None = None) -> None:
    """The customer has posted the copy back: fees stop from now. Only for a book they have (delivered, not
    sent back already, still active). Raises PermissionError for someone else's rental, RentalError otherwise."""
    if rental.user_id != user.id:
        raise PermissionError("not your rental")
    now = now or utcnow()
    state = rentals.loan_state(rental)
    if state == "on_its_way":
        raise RentalError("This book has not reached you yet, so it cannot have been sent back.")
    if state == "sent_back":
        raise RentalError("You have already told us this book is on its way back.")
    if state != "with_customer":
        raise RentalError("This rental has already ended.")
    done = dml.changed(
        update(Rental).where(Rental.id == rental.id, Rental.status == RentalStatus.ACTIVE,
                             Rental.sent_back_at.is_(None), Rental.starts_at.is_not(None))
        .values(sent_back_at=now).execution_options(synchronize_session=False))
    if not done:
        raise RentalError("This rental changed meanwhile; please reload.")
    db.session.refresh(rental)
    audit.record("rental.sent_back", actor_id=user.id, object_type="rental", object_id=rental.id, ip=ip,
                 after={"sent_back_at": now.isoformat()})


def set_auto_renew(user: User, enabled: bool) -> bool:
    """The customer's choice: renew their rentals by themselves when possible. Returns the choice now."""
    db.session.execute(update(User).where(User.id == user.id).values(auto_renew_rentals=bool(enabled))
                       .execution_options(synchronize_session=False))
    db.session.refresh(user)
    return bool(user.auto_renew_rentals)


def auto_renewal_problem(rental: Rental, user: User, now: datetime | None = None) -> str | None:
    """Why this rental is not renewed automatically, or None: the customer opted in and a renewal by hand would
    be allowed now (rentals.renewal_problem: with them, not renewed, not overdue, nobody waiting, within the plan)."""
    if not user.auto_renew_rentals:
        return "The customer has not chosen automatic renewal."
    return rentals.renewal_problem(rental, now)


def auto_renew(now: datetime | None = None) -> int:
    """Daily: renew (once) the rentals due within RENTAL_DUE_SOON_DAYS of customers who opted in, where
    auto_renewal_problem finds nothing, and email them the new date. Commits; returns how many it renewed."""
    now = now or utcnow()
    due = db.session.scalars(
        select(Rental).join(User, User.id == Rental.user_id)
        .where(rental_status.due_soon_clause(now), Rental.renewed.is_(False), User.auto_renew_rentals.is_(True))
        .order_by(Rental.due_at, Rental.id).limit(1000)).all()
    renewed = 0
    for rental in due:
        user = db.session.get(User, rental.user_id)
        if user is None or auto_renewal_problem(rental, user, now):
            continue
        if not rentals.extend(rental, rentals.renewal_length(rental)):
            continue  # renewed (by hand or by another run) meanwhile
        db.session.refresh(rental)
        audit.record("rental.auto_renewed", object_type="rental", object_id=rental.id,
                     after={"due_at": rental.due_at.isoformat() if rental.due_at else None})
        mail.send_template(user.email, "rental_auto_renewed", name=user.display_name, rental=rental,
                           **rentals.return_details())
        renewed += 1
    db.session.commit()
    return renewed
