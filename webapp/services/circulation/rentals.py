"""Rentals: due dates, one renewal, returns (stock back through the ledger), late fees and the reminder emails.

The loan clock starts when the order is delivered or collected (services.circulation.loans.start_for_order):
until then starts_at/due_at are NULL and the copy is "on its way". A customer who posts it back marks it
"sent back" (loans.mark_sent_back): days overdue stop counting that day; it stays active until staff receive it.

A late fee accrues per started day past the due date (LATE_FEE_PER_DAY_CENTS). At return it
is charged to the customer's wallet as far as the balance allows; the rest stays on the rental
as a balance due. A customer with an overdue rental or an unpaid fee cannot rent again.
A rental's status changes only through rental_status.move (the moves in models.orders.RENTAL_TRANSITIONS);
"overdue" is rental_status.overdue_clause everywhere.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm import InstrumentedAttribute

from ...extensions import db
from ...models import Rental, User, utcnow
from ...models.orders import OrderLine, RentalStatus
from ..inventory import stock
from ..platform import audit, dml, locks, mail, paging
from ..platform.money import money
from . import fees, holds, lost, rental_status, subscriptions


class RentalError(ValueError):
    """A rental change that is not possible now; the message is for the customer or clerk."""


LoanState = Literal["on_its_way", "with_customer", "sent_back", "returned", "lost"]


def loan_state(rental: Rental) -> LoanState:
    """Where the copy is, as people read it: on its way (loan not started), with the customer, sent back
    (posted, awaiting receipt), returned, or lost."""
    if rental.status == RentalStatus.RETURNED:
        return "returned"
    if rental.status == RentalStatus.LOST:
        return "lost"
    if rental.sent_back_at is not None:
        return "sent_back"
    if rental.due_at is None:
        return "on_its_way"
    return "with_customer"


def overdue_days(rental: Rental, now: datetime | None = None) -> int:
    """Started days past the due date until now, or until the customer sent it back or it came back (whichever
    is first): what the late fee counts. 0 while the loan has not started."""
    if rental.due_at is None:
        return 0
    ends = [t for t in (rental.sent_back_at, rental.returned_at) if t is not None]
    end = min(ends) if ends else (now or utcnow())
    late = end - rental.due_at
    return max(0, math.ceil(late.total_seconds() / 86400)) if late > timedelta(0) else 0


def days_left(rental: Rental, now: datetime | None = None) -> int | None:
    """Started days until the due date (0 once due); None while the loan has not started."""
    if rental.due_at is None:
        return None
    return max(0, math.ceil((rental.due_at - (now or utcnow())).total_seconds() / 86400))


def _fee_per_day() -> int:
    return int(current_app.config["LATE_FEE_PER_DAY_CENTS"])


def accrued_fee_cents(rental: Rental, now: datetime | None = None) -> int:
    """The late fee so far, capped (services.circulation.fees); the fee charged, once returned or lost."""
    if rental.status != RentalStatus.ACTIVE:
        return rental.fee_cents
    return fees.late_fee_cents(rental, overdue_days(rental, now))


_STATE_ORDER = {"with_customer": 0, "on_its_way": 1, "sent_back": 2, "lost": 3}


def for_user(user: User) -> tuple[list[Rental], list[Rental]]:
    """(books not returned: with the customer by due date, then on their way, then sent back, then counted as lost
    (the customer may still send it back: lost.found); returned ones, latest first) for the account page and API."""
    rentals = list(db.session.scalars(select(Rental).where(Rental.user_id == user.id)
                                      .order_by(Rental.id.desc()).limit(200)))
    active = sorted((r for r in rentals if r.status != RentalStatus.RETURNED),
                    key=lambda r: (_STATE_ORDER[loan_state(r)], r.due_at or datetime.max.replace(tzinfo=UTC), r.id))
    returned = sorted((r for r in rentals if r.status == RentalStatus.RETURNED),
                      key=lambda r: (r.returned_at or datetime.min.replace(tzinfo=UTC), r.id), reverse=True)
    return active, returned


def rental_block_reason(user: User, now: datetime | None = None) -> str | None:
    """Why this customer cannot rent right now (an overdue book not yet sent back, or an unpaid fee), or None."""
    now = now or utcnow()
    overdue = db.session.scalar(select(func.count()).select_from(Rental).where(
        Rental.user_id == user.id, rental_status.overdue_clause(now))) or 0
    if overdue:
        return "Please return your overdue rental before renting another book."
    unpaid = fees.total_due(user.id)
    if unpaid:
        return f"Please settle your late fees ({money(unpaid)}) before renting another book."
    return None


def allowance_problem(user: User, rented: Sequence[tuple[int, int, int]]) -> str | None:
    """Why the customer's plan does not allow renting these (book_id, quantity, days) now, or None: no overdue
    book or unpaid fee, loans within the plan's length, and no more books at once (rentals out, rentals in an
    unpaid checkout, open holds) than the plan allows; collecting a copy their own hold set aside adds none.
    Checked at checkout and again when a late payment would revive a rental; the caller holds the customer lock."""
    reason = rental_block_reason(user)
    if reason:
        return reason
    plan = subscriptions.tier_of(user)
    if any(days > plan.max_rental_days for _, _, days in rented):
        return (f"Your {plan.label} plan allows loans of up to {plan.max_rental_days} days: "
                "shorten the rental in your cart, or upgrade your plan.")
    held = holds.ready_map(user.id, [book_id for book_id, _, _ in rented])
    extra = sum(quantity for _, quantity, _ in rented) - sum(min(held.get(book_id, 0), quantity)
                                                               for book_id, quantity, _ in rented)
    in_use = holds.books_in_use(user.id)
    if in_use + extra > plan.max_books:
        return (f"Your {plan.label} plan allows {plan.max_books} book{'s' if plan.max_books != 1 else ''} "
                f"at once (rentals, holds and unpaid checkouts) and you have {in_use}. Return a book, "
                "cancel an unpaid order, or upgrade your plan.")
    return None


# ---- status moves ----

def loan_days(rental: Rental) -> int:
    """The loan's own length in days, as rented (the order line's), whether or not it has started."""
    line = db.session.get(OrderLine, rental.order_line_id)
    return (line.rental_days if line is not None else None) or 7


def renewal_length(rental: Rental) -> timedelta:
    """What a renewal adds to the due date: the loan's original length (as rented, before it starts)."""
    if rental.due_at is None or rental.starts_at is None:
        return timedelta(days=loan_days(rental))
    return rental.due_at - rental.starts_at


def renewal_problem(rental: Rental, now: datetime | None = None) -> str | None:
    """Why this rental cannot be renewed now, or None: only once, only while the book is with the customer
    (delivered, not sent back), not overdue, while nobody waits for the book, and while the customer's plan
    still allows a loan of its length."""
    now = now or utcnow()
    state = loan_state(rental)
    if state in ("returned", "lost"):
        return "This rental has already ended."
    if state == "on_its_way":
        return "This book is still on its way to you: the loan starts when it arrives, so there is nothing to renew yet."
    if state == "sent_back":
        return "You have sent this book back, so it cannot be renewed."
    if rental.renewed:
        return "A rental can be renewed once."
    if rental.due_at is not None and rental.due_at < now:
        return "An overdue rental cannot be renewed; please return it."
    if holds.queue_length(rental.book_id):
        return ("Another reader is waiting for this book, so it cannot be renewed; please return it "
                "by the due date.")
    plan = subscriptions.tier(subscriptions.tier_name_of(rental.user_id))
    if renewal_length(rental) > timedelta(days=plan.max_rental_days):  # e.g. a long loan, then a downgrade
        return (f"Your {plan.label} plan allows loans of up to {plan.max_rental_days} days, so this one cannot be "
                "renewed; please return it by the due date.")
    return None


def extend(rental: Rental, length: timedelta) -> bool:
    """The renewal itself, once: a conditional UPDATE on the rental still being with the customer, not renewed
    and due when we read it. Its due-soon reminder is sent again for the new date. True if this call did it."""
    assert rental.due_at is not None
    return dml.changed(
        update(Rental).where(Rental.id == rental.id, Rental.renewed.is_(False), Rental.status == RentalStatus.ACTIVE,
                             Rental.sent_back_at.is_(None), Rental.due_at == rental.due_at)
        .values(renewed=True, due_at=rental.due_at + length, reminder_sent_at=None)
        .execution_options(synchronize_session=False)) == 1


def renew(rental: Rental, user: User) -> None:
    """Extend once by the original length, while the book is with the customer and not overdue."""
    if rental.user_id != user.id:
        raise PermissionError("not your rental")
    problem = renewal_problem(rental)
    if problem:
        raise RentalError(problem)
    if not extend(rental, renewal_length(rental)):
        raise RentalError("This rental changed meanwhile; please reload.")
    db.session.refresh(rental)


def mark_returned(rental: Rental, *, actor: User, ip: str | None = None, now: datetime | None = None) -> int:
    """Take a copy back: stock returns through the ledger, the late fee (capped: fees.late_fee_cents) is paid
    from the wallet as far as it goes and the customer is emailed that it arrived. A lost rental that comes back is reversed (lost.found). Returns the fee.
    Safe to call twice: only the first call does anything."""
    now = now or utcnow()
    locks.customer(rental.user_id)  # the customer before the stock: the one lock order
    db.session.refresh(rental)  # the caller's row may predate the lost job, a renewal or "sent back"
    fee = fees.late_fee_cents(rental, overdue_days(rental, now))
    if rental.status == RentalStatus.LOST:
        if not lost.found(rental, fee, actor=actor, ip=ip, now=now):
            raise RentalError("This rental was already returned.")
        return fee
    if not rental_status.move(Rental.id == rental.id, RentalStatus.ACTIVE, RentalStatus.RETURNED, returned_at=now, fee_cents=fee):
        raise RentalError("This rental was already returned.")
    db.session.refresh(rental)
    stock.adjust(rental.book_id, 1, "return", actor_id=actor.id, reference=f"rental-{rental.id}",
                 note="rental returned")
    if fee and rental.user_id:
        fees.settle(rental.user_id)
        db.session.refresh(rental)
    audit.record("rental.returned", actor_id=actor.id, object_type="rental", object_id=rental.id, ip=ip,
                 after={"fee_cents": fee, "fee_paid_cents": rental.fee_paid_cents})
    customer = rental_status.customer_on_file(rental)
    if customer is not None:  # a posted return travels unseen: say it arrived and what, if anything, is owed
        mail.send_template(customer.email, "rental_received", name=customer.display_name, rental=rental)
    return fee


def end_for_order(order_id: int) -> int:
    """The order that rented these copies is called off before they went out (its stock came back with it): its
    rentals end without a fee. Returns how many ended."""
    return rental_status.move(Rental.order_id == order_id, RentalStatus.ACTIVE, RentalStatus.RETURNED, returned_at=utcnow())


ADMIN_VIEWS = {"active": "Out now", "on_its_way": "On its way", "due_soon": "Due soon", "overdue": "Overdue",
               "sent_back": "Sent back", "not_arrived": "Not arrived", "returned": "Returned", "lost": "Lost"}


def days_in_post(rental: Rental, now: datetime | None = None) -> int | None:
    """Whole days since the customer said they sent it back (None if they have not, or it has arrived)."""
    if rental.sent_back_at is None or rental.status != RentalStatus.ACTIVE:
        return None
    return max(0, ((now or utcnow()) - rental.sent_back_at).days)


def not_arrived(rental: Rental, now: datetime | None = None) -> bool:
    """Sent back longer ago than RENTAL_RETURN_TRANSIT_DAYS and not received (rental_status.not_arrived_clause)."""
    days = days_in_post(rental, now)
    return days is not None and days > int(current_app.config["RENTAL_RETURN_TRANSIT_DAYS"])


def admin_list(view: str = "active", page: int = 1, per_page: int = 25, now: datetime | None = None) -> paging.Page:
    """The staff list for one of ADMIN_VIEWS: books out (all, on their way, due soon, overdue) by due date; sent
    back and awaiting receipt (all, or not arrived in RENTAL_RETURN_TRANSIT_DAYS) longest in the post first;
    returned or lost ones, latest first."""
    now = now or utcnow()
    stmt = select(Rental)
    if view == "returned":
        stmt = stmt.where(Rental.status == RentalStatus.RETURNED).order_by(Rental.returned_at.desc(),
                                                                          Rental.id.desc())
    elif view == "lost":
        stmt = stmt.where(Rental.status == RentalStatus.LOST).order_by(Rental.lost_at.desc(), Rental.id.desc())
    else:
        stmt = stmt.where(Rental.status == RentalStatus.ACTIVE)
        if view == "on_its_way":
            stmt = stmt.where(Rental.due_at.is_(None))
        elif view in ("sent_back", "not_arrived"):
            which = Rental.sent_back_at.is_not(None) if view == "sent_back" else rental_status.not_arrived_clause(now)
            return paging.paginate(stmt.where(which).order_by(Rental.sent_back_at, Rental.id), page, per_page)
        elif view == "overdue":
            stmt = stmt.where(rental_status.overdue_clause(now))
        elif view == "due_soon":
            stmt = stmt.where(rental_status.due_soon_clause(now))
        # Loans not started (no due date) last, wherever the database sorts NULLs.
        stmt = stmt.order_by(Rental.due_at.is_(None), Rental.due_at, Rental.id)
    return paging.paginate(stmt, page, per_page)


# ---- scheduled reminders (jobs.rentals, daily) ----

def return_details() -> dict[str, object]:
    """Where and how to send a rental back (config RETURN_ADDRESS, RETURN_INSTRUCTIONS), for pages and emails."""
    config = current_app.config
    return {"return_address_lines": [line.strip() for line in str(config["RETURN_ADDRESS"]).splitlines()
                                     if line.strip()],
            "return_instructions": str(config["RETURN_INSTRUCTIONS"])}


def _claim(rental_id: int, column: InstrumentedAttribute[datetime | None], now: datetime) -> bool:
    """Mark a notice as sent, once: only the call that flips it from NULL sends the email."""
    return dml.changed(
        update(Rental).where(Rental.id == rental_id, column.is_(None), Rental.status == RentalStatus.ACTIVE)
        .values({column.key: now}).execution_options(synchronize_session=False)) == 1


def _notify(rentals_due: Iterable[Rental], column: InstrumentedAttribute[datetime | None], now: datetime,
            template: str) -> int:
    """Send the email `template` once per rental (the `column` records it), to customers still on file."""
    sent = 0
    for rental in rentals_due:
        user = db.session.get(User, rental.user_id) if rental.user_id else None
        if user is None or not _claim(rental.id, column, now):
            continue
        mail.send_template(user.email, template, name=user.display_name, rental=rental,
                           fee_per_day_cents=_fee_per_day(), fee_so_far_cents=accrued_fee_cents(rental, now),
                           **return_details())
        sent += 1
    db.session.commit()
    return sent


def send_due_reminders(now: datetime | None = None) -> int:
    """Email customers whose rental is due within RENTAL_DUE_SOON_DAYS. Each rental gets one reminder (one more
    after a renewal); none while it is on its way (no due date yet) or once sent back."""
    now = now or utcnow()
    due = db.session.scalars(select(Rental).where(
        rental_status.due_soon_clause(now), Rental.reminder_sent_at.is_(None)).limit(1000)).all()
    return _notify(due, Rental.reminder_sent_at, now, "rental_due_soon")


def send_overdue_notices(now: datetime | None = None) -> int:
    """Email customers whose rental is overdue (and not sent back), once per rental, with the fee so far."""
    now = now or utcnow()
    late = db.session.scalars(select(Rental).where(
        rental_status.overdue_clause(now), Rental.overdue_notice_sent_at.is_(None)).limit(1000)).all()
    return _notify(late, Rental.overdue_notice_sent_at, now, "rental_overdue")
