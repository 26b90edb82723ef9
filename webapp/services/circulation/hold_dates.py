"""A customer's dates on a waiting hold: "not needed until <date>" (suspended) and "not needed after <date>".

A suspended hold keeps its place in the queue (positions count it) but `holds.allocate` skips it, so copies go
to the next reader who wants one now. It resumes when the customer says so, or by itself at `suspended_until`
(`resume_due`, every few minutes); either way a copy that is free is set aside for it at once (`holds.allocate`).
A waiting hold whose `not_needed_after` has passed closes itself (`close_unneeded`): cancelled, audited with
the reason, and the customer emailed. Dates are whole days in UTC: "until 20 Dec" resumes at the start of
20 Dec, "not needed after 20 Dec" closes at the end of it. Every change is a conditional UPDATE on a waiting
hold, so a copy set aside meanwhile (the hold turned ready) wins and the customer is told.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask import current_app
from sqlalchemy import select, update

from ...extensions import db
from ...models import Hold, User, utcnow
from ...models.membership import HoldStatus
from ..people import accounts
from ..platform import audit, dml, mail
from ..platform.errors import RuleError
from . import holds
from .holds import HoldError


@dataclass(frozen=True)
class Limits:
    """The dates a customer may choose today (for the forms' min/max and the checks)."""

    today: date
    until_min: date  # "not needed until": tomorrow at the earliest ...
    until_max: date  # ... and at most HOLD_SUSPEND_MAX_DAYS ahead
    after_min: date  # "not needed after": today at the earliest ...
    after_max: date  # ... and at most HOLD_NOT_NEEDED_AFTER_MAX_DAYS ahead


def limits(now: datetime | None = None) -> Limits:
    today = (now or utcnow()).astimezone(UTC).date()
    config = current_app.config
    return Limits(today=today, until_min=today + timedelta(days=1),
                  until_max=today + timedelta(days=int(config["HOLD_SUSPEND_MAX_DAYS"])),
                  after_min=today, after_max=today + timedelta(days=int(config["HOLD_NOT_NEEDED_AFTER_MAX_DAYS"])))


def start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, UTC)


def end_of(day: date) -> datetime:
    return datetime.combine(day, time.max, UTC)


def _waiting(hold: Hold) -> None:
    if hold.is_ready:
        raise HoldError(f"A copy of “{hold.book.title}” is already set aside for you: collect it, or cancel the hold.")
    if not hold.is_waiting:
        raise HoldError("This hold is already closed.")


def _changed(hold: Hold, *where: object, **values: object) -> bool:
    """One conditional UPDATE on the hold while it is still waiting."""
    stmt = (update(Hold).where(Hold.id == hold.id, Hold.status == HoldStatus.WAITING, *where)  # type: ignore[arg-type]
            .values(**values).execution_options(synchronize_session=False))
    done = bool(dml.changed(stmt))
    db.session.refresh(hold)
    return done


def _not_waiting_now(hold: Hold) -> HoldError:
    """The hold moved on between reading it and changing it (a copy was set aside, or it closed)."""
    db.session.refresh(hold)
    if hold.is_ready:
        return HoldError(f"Good news: a copy of “{hold.book.title}” has just been set aside for you, so the hold "
                         "was not changed.")
    return HoldError("This hold is already closed.")


def suspend(hold: Hold, user: User, until: date | None, now: datetime | None = None) -> Hold:
    """"Not needed until `until`" (None: until the customer resumes). Changing the date of a suspended hold is
    allowed. Raises RuleError (field "suspended_until") for a date out of bounds, HoldError when the hold is not waiting."""
    if hold.user_id != user.id:
        raise PermissionError("not your hold")
    _waiting(hold)
    now = now or utcnow()
    bounds = limits(now)
    if until is not None:
        if until < bounds.until_min:
            raise RuleError("Choose a date after today.", "suspended_until")
        if until > bounds.until_max:
            raise RuleError(f"Choose a date at most {(bounds.until_max - bounds.today).days} days ahead "
                            f"(by {bounds.until_max:%-d %B %Y}).", "suspended_until")
        if hold.not_needed_after is not None and until > hold.not_needed_after.date():
            raise RuleError(f"You said you do not need it after {hold.not_needed_after:%-d %B %Y}: choose an "
                            "earlier date, or change that date first.", "suspended_until")
    resume_at = None if until is None else start_of(until)
    if not _changed(hold, suspended_at=hold.suspended_at or now, suspended_until=resume_at):
        raise _not_waiting_now(hold)
    audit.record("hold.suspended", actor_id=user.id, object_type="hold", object_id=hold.id,
                 after={"until": None if until is None else until.isoformat()})
    return hold


def resume(hold: Hold, user: User | None, now: datetime | None = None) -> Hold:
    """Back in the queue at its place; a free copy is set aside at once. `user` None: by itself (the date came)."""
    if user is not None and hold.user_id != user.id:
        raise PermissionError("not your hold")
    _waiting(hold)
    if not hold.is_suspended:
        raise HoldError("This hold is not paused.")
    if not _changed(hold, Hold.suspended_at.is_not(None), suspended_at=None, suspended_until=None):
        raise _not_waiting_now(hold) if not hold.is_waiting else HoldError("This hold is not paused.")
    audit.record("hold.resumed", actor_id=None if user is None else user.id, object_type="hold", object_id=hold.id,
                 note=None if user is not None else "resumed by itself on its date")
    holds.allocate(hold.book_id, now)
    db.session.refresh(hold)
    return hold


def set_not_needed_after(hold: Hold, user: User, day: date | None, now: datetime | None = None) -> Hold:
    """The last day the customer still wants the book (None clears it). RuleError (field "not_needed_after") for
    a date out of bounds."""
    if hold.user_id != user.id:
        raise PermissionError("not your hold")
    _waiting(hold)
    bounds = limits(now)
    if day is not None:
        if day < bounds.after_min:
            raise RuleError("Choose today or a later date.", "not_needed_after")
        if day > bounds.after_max:
            raise RuleError(f"Choose a date at most {(bounds.after_max - bounds.today).days} days ahead "
                            f"(by {bounds.after_max:%-d %B %Y}).", "not_needed_after")
        if hold.suspended_until is not None and day < hold.suspended_until.date():
            raise RuleError(f"Your hold is paused until {hold.suspended_until:%-d %B %Y}: choose that day or "
                            "later, or change the pause first.", "not_needed_after")
    if not _changed(hold, not_needed_after=None if day is None else end_of(day)):
        raise _not_waiting_now(hold)
    audit.record("hold.not_needed_after", actor_id=user.id, object_type="hold", object_id=hold.id,
                 after={"not_needed_after": None if day is None else day.isoformat()})
    return hold


# ---- by themselves (jobs.membership.hold_dates, every few minutes) ----

def resume_due(now: datetime | None = None, limit: int = 500) -> int:
    """Resume suspended holds whose date has come, each allocated at once if a copy is free."""
    now = now or utcnow()
    due = db.session.scalars(select(Hold).where(Hold.status == HoldStatus.WAITING, Hold.suspended_at.is_not(None),
                                                Hold.suspended_until <= now)
                             .order_by(Hold.suspended_until, Hold.id).limit(limit)).all()
    resumed = 0
    for hold in due:
        try:
            resume(hold, None, now)
        except HoldError:  # resumed or closed meanwhile
            db.session.rollback()
            continue
        db.session.commit()
        resumed += 1
    return resumed


def close_unneeded(now: datetime | None = None, limit: int = 500) -> int:
    """Cancel waiting holds past their "not needed after" date; each customer is emailed."""
    now = now or utcnow()
    due = db.session.scalars(select(Hold).where(Hold.status == HoldStatus.WAITING, Hold.not_needed_after < now)
                             .order_by(Hold.not_needed_after, Hold.id).limit(limit)).all()
    closed = 0
    for hold in due:
        day = hold.not_needed_after.date() if hold.not_needed_after else now.date()
        if not holds.move(hold.id, HoldStatus.WAITING, HoldStatus.CANCELLED,
                           where=(Hold.not_needed_after < now,), closed_at=now):
            db.session.rollback()
            continue
        db.session.refresh(hold)
        audit.record("hold.cancelled", actor_id=None, object_type="hold", object_id=hold.id,
                     after={"was": HoldStatus.WAITING, "reason": f"Not needed after {day.isoformat()} (the customer's date)."})
        customer = accounts.reachable(hold.user_id)
        if customer is not None:
            mail.send_template(customer.email, "hold_not_needed_closed", name=customer.display_name, hold=hold, day=day)
        db.session.commit()
        closed += 1
    return closed
