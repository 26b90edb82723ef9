"""Admin panel: discount codes (list, create, edit, activate/deactivate, delete if never used)."""
from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from ..actions import FAILED, attempt, attempt_flash
from ..clients import client_ip
from ..htmx import render_page_or_partial
from ..models import DiscountCode
from ..services.commerce import discounts as discount_service
from ..services.commerce.discounts import DiscountError
from . import bp
from .discount_forms import DiscountActionForm, DiscountFilterForm, DiscountForm


@bp.get("/discounts")
def discounts():
    form = DiscountFilterForm(request.args)
    form.validate()
    result = discount_service.list_codes(q=form.q.data or "", state=form.state.data or "",
                                         page=(form.page.data if not form.page.errors else None) or 1)
    return render_page_or_partial("admin/discounts.html", "admin/_discounts_table.html", form=form, result=result,
                                  state_of=discount_service.state_of, states=discount_service.STATES,
                                  kinds=discount_service.KINDS, action_form=DiscountActionForm())


def _code_or_404(discount_id: int) -> DiscountCode:
    found = discount_service.get(discount_id)
    if found is None:
        abort(404)
    return found


def _form_page(form: DiscountForm, discount: DiscountCode | None = None) -> str:
    return render_template("admin/discount_form.html", form=form, discount=discount,
                           state=discount_service.state_of(discount) if discount else None,
                           states=discount_service.STATES, used=discount_service.ever_used(discount) if discount else False,
                           action_form=DiscountActionForm())


@bp.route("/discounts/new", methods=["GET", "POST"])
def discount_new():
    form = DiscountForm()
    if form.validate_on_submit():
        created = attempt(form, lambda: discount_service.create(current_user, form.to_input(),
                                                                ip=client_ip()))
        if created is not FAILED:
            flash(f"Discount code “{created.code}” created.", "success")
            return redirect(url_for("admin.discounts"), 303)
    return _form_page(form)


@bp.route("/discounts/<int:discount_id>/edit", methods=["GET", "POST"])
def discount_edit(discount_id: int):
    found = _code_or_404(discount_id)
    form = DiscountForm() if request.method == "POST" else DiscountForm.for_code(found)
    if form.validate_on_submit():
        saved = attempt(form, lambda: discount_service.update(current_user, found, form.to_input(),
                                                              ip=client_ip()))
        if saved is not FAILED:
            flash(f"Discount code “{saved.code}” saved.", "success")
            return redirect(url_for("admin.discount_edit", discount_id=saved.id), 303)
        found = _code_or_404(discount_id)  # reloaded after the rollback
    return _form_page(form, found)


def _button(discount_id: int, action: Callable[[DiscountCode], object], success: str) -> ResponseReturnValue:
    """One button on a code (activate, deactivate): the action, then back to the list or the code's page."""
    found = _code_or_404(discount_id)
    if not DiscountActionForm().validate_on_submit():
        abort(400)
    attempt_flash(lambda: action(found), DiscountError, success.format(code=found.code))
    back = request.form.get("back")
    return redirect(url_for("admin.discount_edit", discount_id=discount_id) if back == "edit"
                    else url_for("admin.discounts"), 303)


@bp.post("/discounts/<int:discount_id>/activate")
def discount_activate(discount_id: int):
    return _button(discount_id, lambda d: discount_service.set_active(current_user, d, True, ip=client_ip()),
                   "“{code}” is active.")


@bp.post("/discounts/<int:discount_id>/deactivate")
def discount_deactivate(discount_id: int):
    return _button(discount_id, lambda d: discount_service.set_active(current_user, d, False, ip=client_ip()),
                   "“{code}” is deactivated: shoppers can no longer use it.")


@bp.post("/discounts/<int:discount_id>/delete")
def discount_delete(discount_id: int):
    found = _code_or_404(discount_id)
    if not DiscountActionForm().validate_on_submit():
        abort(400)
    attempt_flash(lambda: discount_service.delete_code(current_user, found, ip=client_ip()),
                  DiscountError, f"“{found.code}” deleted.")
    return redirect(url_for("admin.discounts"), 303)
