"""Rentals: due dates, one renewal, returns (stock back through the ledger) and late fees.

A late fee accrues per started day past the due date (LATE_FEE_PER_DAY_CENTS). At return it
is charged to the customer's wallet as far as the balance allows; the rest stays on the rental
as a balance due. A customer with an overdue rental or an unpaid fee cannot rent again.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, update

from ...extensions import db
from ...models import Rental, User, utcnow
from ..inventory import stock
from ..platform import audit, paging
from . import wallet


class RentalError(ValueError):
    pass


def overdue_days(rental: Rental, now: datetime | None = None) -> int:
    end = rental.returned_at or now or utcnow()
    late = end - rental.due_at
    return max(0, math.ceil(late.total_seconds() / 86400)) if late > timedelta(0) else 0


def days_left(rental: Rental, now: datetime | None = None) -> int:
    return max(0, math.ceil((rental.due_at - (now or utcnow())).total_seconds() / 86400))


def accrued_fee_cents(rental: Rental, now: datetime | None = None) -> int:
    """The late fee so far (the fee charged at return, once returned)."""
    if rental.status == "returned":
        return rental.fee_cents
    return overdue_days(rental, now) * current_app.config["LATE_FEE_PER_DAY_CENTS"]


def for_user(user: User) -> tuple[list[Rental], list[Rental]]:
    rentals = list(db.session.scalars(select(Rental).where(Rental.user_id == user.id)
                                      .order_by(Rental.status, Rental.due_at.desc(), Rental.id.desc()).limit(200)))
    return [r for r in rentals if r.status == "active"], [r for r in rentals if r.status == "returned"]


def rental_block_reason(user: User, now: datetime | None = None) -> str | None:
    """Why this customer cannot rent right now (an overdue book or an unpaid fee), or None."""
    now = now or utcnow()
    overdue = db.session.scalar(select(func.count()).select_from(Rental).where(
        Rental.user_id == user.id, Rental.status == "active", Rental.due_at < now)) or 0
    if overdue:
        return "Please return your overdue rental before renting another book."
    from .holds import unpaid_fees_cents

    unpaid = (db.session.scalar(select(func.coalesce(func.sum(Rental.fee_cents - Rental.fee_paid_cents), 0))
                                .where(Rental.user_id == user.id)) or 0) + unpaid_fees_cents(user.id)
    if unpaid:
        from ..platform.money import money

        return f"Please settle your late fees ({money(unpaid)}) before renting another book."
    return None


def allowance_problem(user: User, rented: list[tuple[int, int, int]]) -> str | None:
    """Why the customer's plan does not allow renting these (book_id, quantity, days) now, or None: no overdue
    book or unpaid fee, loans within the plan's length, and no more books at once (rentals out, rentals in an
    unpaid checkout, open holds) than the plan allows; collecting a copy their own hold set aside adds none.
    Checked at checkout and again when a late payment would revive a rental; the caller holds the customer lock."""
    from . import holds, subscriptions

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


def renew(rental: Rental, user: User) -> None:
    """Extend once by the original length, if not yet overdue."""
    if rental.user_id != user.id:
        raise PermissionError("not your rental")
    if rental.status != "active":
        raise RentalError("This rental has already been returned.")
    if rental.renewed:
        raise RentalError("A rental can be renewed once.")
    if rental.due_at < utcnow():
        raise RentalError("An overdue rental cannot be renewed; please return it.")
    from .holds import queue_length

    if queue_length(rental.book_id):
        raise RentalError("Another reader is waiting for this book, so it cannot be renewed; please return it "
                          "by the due date.")
    length = rental.due_at - rental.starts_at
    done = db.session.execute(update(Rental).where(Rental.id == rental.id, Rental.renewed.is_(False),
                                                   Rental.status == "active")
                              .values(renewed=True, due_at=rental.due_at + length)
                              .execution_options(synchronize_session=False)).rowcount
    if not done:
        raise RentalError("This rental changed meanwhile; please reload.")
    db.session.refresh(rental)


def mark_returned(rental: Rental, *, actor: User, ip: str | None = None, now: datetime | None = None) -> int:
    """Take a copy back: stock returns through the ledger and any late fee is charged. Returns the fee.
    Safe to call twice: only the first call does anything."""
    now = now or utcnow()
    fee = overdue_days(rental, now) * current_app.config["LATE_FEE_PER_DAY_CENTS"]
    done = db.session.execute(update(Rental).where(Rental.id == rental.id, Rental.status == "active")
                              .values(status="returned", returned_at=now, fee_cents=fee)
                              .execution_options(synchronize_session=False)).rowcount
    if not done:
        raise RentalError("This rental was already returned.")
    db.session.refresh(rental)
    stock.adjust(rental.book_id, 1, "return", actor_id=actor.id, reference=f"rental-{rental.id}",
                 note="rental returned")
    if fee and rental.user_id:
        paid = min(fee, wallet.balance(rental.user_id))
        if paid:
            wallet.debit(rental.user_id, paid, "late_fee", reference=f"rental-{rental.id}",
                         note=f"Late fee, {overdue_days(rental, now)} days")
            rental.fee_paid_cents = paid
    audit.record("rental.returned", actor_id=actor.id, object_type="rental", object_id=rental.id, ip=ip,
                 after={"fee_cents": fee, "fee_paid_cents": rental.fee_paid_cents})
    return fee


ADMIN_VIEWS = {"active": "Out now", "due_soon": "Due soon", "overdue": "Overdue", "returned": "Returned"}


def admin_list(view: str = "active", page: int = 1, per_page: int = 25, now: datetime | None = None) -> paging.Page:
    now = now or utcnow()
    stmt = select(Rental)
    if view == "returned":
        stmt = stmt.where(Rental.status == "returned").order_by(Rental.returned_at.desc(), Rental.id.desc())
    else:
        stmt = stmt.where(Rental.status == "active")
        if view == "overdue":
            stmt = stmt.where(Rental.due_at < now)
        elif view == "due_soon":
            soon = now + timedelta(days=current_app.config["RENTAL_DUE_SOON_DAYS"])
            stmt = stmt.where(Rental.due_at >= now, Rental.due_at <= soon)
        stmt = stmt.order_by(Rental.due_at, Rental.id)
    return paging.paginate(stmt, page, per_page)


# ---- scheduled reminders (jobs.rentals, daily) ----

def _claim(rental_id: int, column, now: datetime) -> bool:
    """Mark a notice as sent, once: only the call that flips it from NULL sends the email."""
    return db.session.execute(update(Rental).where(Rental.id == rental_id, column.is_(None), Rental.status == "active")
                              .values({column.key: now}).execution_options(synchronize_session=False)).rowcount == 1


def _notify(rentals_due, column, now: datetime, subject, body) -> int:
    """Send one email per rental (subject/body build the text), each rental at most once per `column`."""
    from ..platform import mail

    sent = 0
    for rental in rentals_due:
        user = db.session.get(User, rental.user_id) if rental.user_id else None
        if user is None or not _claim(rental.id, column, now):
            continue
        mail.send(user.email, subject(rental), f"Hello {user.display_name},\n\n{body(rental)}\n\n"
                                               f"— {current_app.config['SHOP_NAME']}")
        sent += 1
    db.session.commit()
    return sent


def send_due_reminders(now: datetime | None = None) -> int:
    """Email customers whose rental is due within RENTAL_DUE_SOON_DAYS. Each rental gets one reminder."""
    from ..platform.money import money

    now = now or utcnow()
    soon = now + timedelta(days=current_app.config["RENTAL_DUE_SOON_DAYS"])
    due = db.session.scalars(select(Rental).where(Rental.status == "active", Rental.reminder_sent_at.is_(None),
                                                  Rental.due_at >= now, Rental.due_at <= soon).limit(1000)).all()
    fee = money(current_app.config["LATE_FEE_PER_DAY_CENTS"])
    return _notify(
        due, Rental.reminder_sent_at, now,
        lambda r: f"“{r.book.title}” is due back on {r.due_at:%-d %B}",
        lambda r: (f"A friendly reminder: your rental of “{r.book.title}” is due back on {r.due_at:%A %-d %B %Y}. "
                   f"You can renew it once from your account if nobody is waiting for it. "
                   f"Late returns cost {fee} a day."))


def send_overdue_notices(now: datetime | None = None) -> int:
    """Email customers whose rental is overdue, once per rental, with the fee so far."""
    from ..platform.money import money

    now = now or utcnow()
    late = db.session.scalars(select(Rental).where(Rental.status == "active", Rental.overdue_notice_sent_at.is_(None),
                                                   Rental.due_at < now).limit(1000)).all()
    fee = money(current_app.config["LATE_FEE_PER_DAY_CENTS"])
    return _notify(
        late, Rental.overdue_notice_sent_at, now,
        lambda r: f"“{r.book.title}” is overdue",
        lambda r: (f"Your rental of “{r.book.title}” was due on {r.due_at:%-d %B %Y}. The late fee is {fee} a day "
                   f"({money(accrued_fee_cents(r, now))} so far). Please return it soon; you can't rent another "
                   f"book until it's back."))
