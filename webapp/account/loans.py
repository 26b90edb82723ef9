"""The reader's postal loans on /account/rentals: "I've sent it back" (late fees stop that day; staff then
receive it) and the choice of automatic renewal. The rules are services.circulation.loans; the page itself is
account.rentals (routes.py)."""
from __future__ import annotations

from flask import redirect, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField

from ..actions import attempt_flash
from ..authz import owned_or_404
from ..clients import client_ip
from ..extensions import db
from ..models import Rental
from ..services.circulation import loans
from ..services.circulation import rentals as rental_service
from . import bp


class AutoRenewForm(FlaskForm):
    """The customer's automatic-renewal choice (an unticked box posts nothing: off)."""

    auto_renew = BooleanField("Renew my rentals automatically when I can (once each, a few days before they are "
                              "due, when nobody is waiting and my plan allows the loan)")


@bp.post("/rentals/<int:rental_id>/sent-back")
def rental_sent_back(rental_id: int):
    """The customer posted a book they have back: fees stop counting today. Someone else's rental is a 404."""
    rental = owned_or_404(db.session.get(Rental, rental_id))
    attempt_flash(lambda: loans.mark_sent_back(rental, current_user, ip=client_ip()), rental_service.RentalError,
                  lambda _: (f"Thank you: “{rental.book.title}” is marked as sent back. Late fees stop from today; "
                             "it shows as returned once the shop receives it.", "success"))
    return redirect(url_for("account.rentals"), 303)


@bp.post("/rentals/auto-renew")
def rental_auto_renew():
    form = AutoRenewForm()
    if not form.validate_on_submit():
        return redirect(url_for("account.rentals"), 303)  # a stale or forged form (CSRF) changes nothing
    attempt_flash(lambda: loans.set_auto_renew(current_user, bool(form.auto_renew.data)), rental_service.RentalError,
                  lambda on: ("Automatic renewal is on: we renew each rental once, before it is due, when we can, "
                              "and email you the new date." if on else "Automatic renewal is off.", "success"))
    return redirect(url_for("account.rentals"), 303)
