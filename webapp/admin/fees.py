"""Admin panel: a customer's fees (late, lost-book and no-show fees with something due) and waiving all or part
of one with a reason. services.circulation.fees audits the waiver and emails the customer."""
from __future__ import annotations

from flask import abort, flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..clients import client_ip
from ..extensions import db
from ..htmx import is_htmx, render_page_or_partial
from ..models import User
from ..security import FiniteDecimalField
from ..services.circulation import fees
from ..services.platform import money
from . import bp
from .customer import customer_or_404


class WaiveForm(FlaskForm):
    """Waive a fee: an amount (empty: all that is due) and the reason, which the customer is told."""

    amount = FiniteDecimalField("Amount to waive (empty: all that is due)", places=2,
                                validators=[Optional(), NumberRange(min=0.01, max=100000)])
    reason = StringField("Reason", validators=[DataRequired(message="Give a reason."), Length(max=300)])


def _render(user: User, form: WaiveForm | None = None, notice: str | None = None, status: int = 200,
            failed: tuple[str, int] | None = None) -> ResponseReturnValue:
    return render_page_or_partial("admin/user_fees.html", "admin/_user_fees.html", status, user=user,
                                  items=fees.outstanding(user.id), total_cents=fees.total_due(user.id),
                                  form=form or WaiveForm(formdata=None), notice=notice, failed=failed)


@bp.get("/users/<int:user_id>/fees")
def user_fees(user_id: int) -> ResponseReturnValue:
    return _render(customer_or_404(user_id))


@bp.post("/users/<int:user_id>/fees/<kind>/<int:item_id>/waive")
def fee_waive(user_id: int, kind: str, item_id: int) -> ResponseReturnValue:
    user = customer_or_404(user_id)
    fee = fees.item(user.id, kind, item_id) if kind in fees.KINDS else None
    if fee is None:
        abort(404)
    form = WaiveForm()
    problem: str | None = None
    if form.validate_on_submit():
        cents = money.from_decimal(form.amount.data) if form.amount.data is not None else fee.due_cents
        try:
            waived = fees.waive(kind, item_id, cents, reason=form.reason.data or "", actor=current_user,
                                ip=client_ip())
        except fees.FeeError as exc:
            db.session.rollback()
            problem = str(exc)
        else:
            db.session.commit()
            notice = f"Waived {money.money(waived)} of the fee for “{fee.title}”; the customer is emailed."
            if is_htmx():
                return _render(user, notice=notice)
            flash(notice, "success")
            return redirect(url_for("admin.user_fees", user_id=user.id), 303)
    else:
        problem = "; ".join(e for errors in form.errors.values() for e in errors) or "Check the form."
    if is_htmx():  # htmx 2 does not swap 4xx answers: the form comes back with 200 and says why
        return _render(user, form, failed=(kind, item_id), notice=problem)
    flash(problem, "error")
    return redirect(url_for("admin.user_fees", user_id=user.id), 303)
