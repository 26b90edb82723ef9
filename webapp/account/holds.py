"""The customer's own holds, beyond placing and cancelling (account/routes.py): pause a waiting hold ("not needed
until <date>", or until resumed), resume it, and set or clear "not needed after <date>". Plain forms that flash
and go back to /account/holds (303); another customer's hold is a 404."""
from __future__ import annotations

from flask import flash, redirect, url_for
from flask_login import current_user

from ..actions import attempt_flash
from ..authz import owned_or_404
from ..extensions import db
from ..models import Hold
from ..services.circulation import hold_dates
from ..services.circulation import holds as hold_service
from ..services.platform.errors import RuleError
from . import bp
from .hold_forms import HoldNotNeededAfterForm, HoldPauseForm

REFUSED = (hold_service.HoldError, RuleError)


def _back():
    return redirect(url_for("account.holds"), 303)


def _own(hold_id: int) -> Hold:
    return owned_or_404(db.session.get(Hold, hold_id))


def _invalid(form) -> bool:
    """Flash the form's first error (a date that is not a date); a missing CSRF token is a 400 by CSRFProtect."""
    if form.validate():
        return False
    flash(next(iter(e for errors in form.errors.values() for e in errors), "Please check the date."), "error")
    return True


@bp.post("/holds/<int:hold_id>/pause")
def pause_hold(hold_id: int):
    hold = _own(hold_id)
    form = HoldPauseForm()
    if _invalid(form):
        return _back()

    def paused(_: Hold) -> tuple[str, str]:
        until = form.until.data
        when = f"until {until:%-d %B %Y}" if until else "until you resume it"
        return f"Your hold on “{hold.book.title}” is paused {when}. It keeps its place in the queue.", "success"

    attempt_flash(lambda: hold_dates.suspend(hold, current_user, form.until.data), REFUSED, paused)
    return _back()


@bp.post("/holds/<int:hold_id>/resume")
def resume_hold(hold_id: int):
    hold = _own(hold_id)
    form = HoldPauseForm()  # CSRF only: the date is not read
    if not form.validate():
        flash("Please try again.", "error")
        return _back()

    def resumed(_: Hold) -> tuple[str, str]:
        if hold.is_ready:
            return f"Good timing: a copy of “{hold.book.title}” is set aside for you.", "success"
        return (f"Your hold on “{hold.book.title}” is active again: number {hold_service.position(hold)} in the "
                "queue.", "success")

    attempt_flash(lambda: hold_dates.resume(hold, current_user), REFUSED, resumed)
    return _back()


@bp.post("/holds/<int:hold_id>/not-needed-after")
def hold_not_needed_after(hold_id: int):
    hold = _own(hold_id)
    form = HoldNotNeededAfterForm()
    if _invalid(form):
        return _back()
    day = None if form.clear.data else form.not_needed_after.data
    if day is None and not form.clear.data:
        flash("Choose a date, or clear the date.", "error")
        return _back()

    def saved(_: Hold) -> tuple[str, str]:
        if day is None:
            return f"Your hold on “{hold.book.title}” no longer has an end date.", "success"
        return (f"Your hold on “{hold.book.title}” ends by itself after {day:%-d %B %Y} if no copy is set aside "
                "for you by then.", "success")

    attempt_flash(lambda: hold_dates.set_not_needed_after(hold, current_user, day), REFUSED, saved)
    return _back()
