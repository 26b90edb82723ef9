from __future__ import annotations

from flask import abort, redirect, render_template

from ..extensions import db
from ..models import GatewaySession
from ..services import payments
from . import bp
from .forms import CardForm


@bp.route("/<session_id>", methods=["GET", "POST"])
def session_page(session_id: str):
    gateway = payments.TestGateway()
    checkout = db.session.get(GatewaySession, session_id)
    if checkout is None:
        abort(404)
    state = gateway.retrieve(session_id)
    db.session.commit()
    form = CardForm()
    error = None
    if state.status != "open":
        return render_template("pay/closed.html", checkout=checkout, state=state)
    if form.validate_on_submit():
        try:
            error = gateway.pay(session_id, form.card_number.data, form.exp_month.data, form.exp_year.data,
                                form.cvc.data.strip())
        except payments.PaymentError as exc:
            error = str(exc)
        db.session.commit()
        if error is None:
            return redirect(checkout.success_url, 303)
    return render_template("pay/session.html", checkout=checkout, form=form, error=error)
