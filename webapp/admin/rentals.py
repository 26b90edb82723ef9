"""Admin panel: rentals (active, overdue and past, by view) and taking a rented copy back at the desk."""
from __future__ import annotations

from flask import abort, redirect, request, url_for
from flask_login import current_user

from ..actions import attempt_flash
from ..clients import client_ip
from ..extensions import db
from ..htmx import render_page_or_partial
from ..models import Rental
from ..services.circulation import holds as hold_service
from ..services.circulation import rentals as rental_service
from ..services.people import accounts
from ..services.platform.money import money
from ..utils import page_number
from . import bp
from .forms import ActionForm


@bp.get("/rentals")
def rentals_list():
    view = request.args.get("view", "active")
    view = view if view in rental_service.ADMIN_VIEWS else "active"
    page = request.args.get("page", "1")
    result = rental_service.admin_list(view, page_number(page))
    return render_page_or_partial("admin/rentals.html", "admin/_rentals_table.html", result=result, view=view,
                                  views=rental_service.ADMIN_VIEWS, rentals=rental_service,
                                  customers=accounts.by_ids(r.user_id for r in result.items),
                                  action_form=ActionForm())


@bp.post("/rentals/<int:rental_id>/return")
def return_rental(rental_id: int):
    rental = db.session.get(Rental, rental_id)
    if rental is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    waiting = hold_service.queue_length(rental.book_id)

    def returned(fee: int) -> str:
        note = f" Late fee {money(fee)}" + (f", {money(rental.fee_due_cents)} still due." if rental.fee_due_cents
                                              else ", paid from the wallet.") if fee else ""
        where = ("set aside for the next reader in its holds queue (an email to them is on its way)" if waiting
                 else "back on the shelf")
        return f"“{rental.book.title}” is {where}.{note}"

    attempt_flash(lambda: rental_service.mark_returned(rental, actor=current_user, ip=client_ip()),
                  rental_service.RentalError, returned)
    return redirect(url_for("admin.rentals_list", view=request.args.get("view", "active")), 303)
