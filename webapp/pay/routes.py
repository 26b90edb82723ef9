"""The offline test gateway's hosted payment page: card form, pay, and where a closed page sends the shopper."""
from __future__ import annotations

from flask import abort, redirect, render_template

from ..extensions import db
from ..models import GatewaySession
from ..models.payments import SessionStatus
from ..services.commerce import payments
from ..services.commerce.test_gateway import TestGateway, order_for
from . import bp
from .forms import CardForm


@bp.route("/<session_id>", methods=["GET", "POST"])
def session_page(session_id: str):
    """The offline gateway's hosted page. A second submit after a successful payment (a double click, a
    resend) charges nothing more and goes where the first one went, as Stripe's page does."""
    gateway = TestGateway()
    checkout = db.session.get(GatewaySession, session_id[:64])
    if checkout is None:
        abort(404)
    state = gateway.retrieve(checkout.id)
    form = CardForm()
    error = None
    if state.status != SessionStatus.OPEN:
        if state.paid and form.is_submitted():
            return redirect(checkout.success_url, 303)
        return render_template("pay/closed.html", checkout=checkout, state=state)
    if form.validate_on_submit():
        try:
            error = gateway.pay(checkout.id, form.card_number.data, form.exp_month.data, form.exp_year.data,
                                form.cvc.data.strip())
        except payments.PaymentError as exc:
            error = str(exc)
        if error is None:
            return redirect(checkout.success_url, 303)
    return render_template("pay/session.html", checkout=checkout, form=form, error=error, order=order_for(checkout))
