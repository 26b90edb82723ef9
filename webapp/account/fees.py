"""The fees box on /account/rentals: what the customer owes (late, lost-book and no-show fees) and "Pay now",
from the wallet (all fees, or one) or by card (a top-up of exactly the amount due through the payment page;
once paid, services.commerce.charges pays the fees with it)."""
from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm

from ..actions import FAILED, attempt_flash
from ..extensions import db
from ..htmx import is_htmx
from ..links import charge_done_url, public_url
from ..services.circulation import fees, wallet
from ..services.commerce import charges, payments
from ..services.platform.money import money
from . import bp


class PayFeesForm(FlaskForm):
    """A "Pay now" button: a POST with a CSRF token."""


@bp.context_processor
def _fees_context() -> dict[str, Any]:
    """`fees_due()` for account/_fees_due.html: read only when a page includes it."""
    def fees_due() -> dict[str, Any]:
        items = fees.outstanding(current_user.id)  # the total is theirs summed, not a second query
        return {"items": items, "total_cents": sum(i.due_cents for i in items),
                "balance_cents": wallet.balance(current_user.id)}
    return {"fees_due": fees_due}


def _answer(message: str, category: str) -> ResponseReturnValue:
    """htmx: the fees box again, saying what happened; otherwise back to the rentals page with a flash."""
    if is_htmx():
        return render_template("account/_fees_due.html", notice=message, notice_category=category)
    flash(message, category)
    return redirect(url_for("account.rentals"), 303)


def _paid_words(paid: int, left: int) -> tuple[str, str]:
    if not paid and not left:
        return "You have no fees to pay.", "info"
    if not paid:
        return (f"Your wallet is empty, so nothing was paid: {money(left)} is still due. "
                "Pay it by card, or top up your wallet.", "error")
    if left:
        return (f"Paid {money(paid)} from your wallet. {money(left)} is still due: pay it by card, "
                "or top up your wallet.", "info")
    return f"Paid {money(paid)} from your wallet. Your fees are settled.", "success"


@bp.post("/fees/pay")
def pay_fees() -> ResponseReturnValue:
    if not PayFeesForm().validate_on_submit():
        abort(400)
    paid, left = fees.pay_now(current_user.id)
    db.session.commit()
    return _answer(*_paid_words(paid, left))


@bp.post("/fees/<kind>/<int:item_id>/pay")
def pay_fee(kind: str, item_id: int) -> ResponseReturnValue:
    if not PayFeesForm().validate_on_submit():
        abort(400)
    if kind not in fees.KINDS or fees.item(current_user.id, kind, item_id) is None:
        abort(404)  # not theirs, or nothing due: never say which
    try:
        paid, left = fees.pay_now(current_user.id, kind, item_id)
    except fees.FeeError as exc:
        db.session.rollback()
        return _answer(str(exc), "error")
    db.session.commit()
    return _answer(*_paid_words(paid, left))


@bp.post("/fees/pay-by-card")
def pay_fees_by_card() -> ResponseReturnValue:
    """A plain form post (no htmx): the answer is the payment page."""
    if not PayFeesForm().validate_on_submit():
        abort(400)
    due = fees.total_due(current_user.id)
    if not due:
        flash("You have no fees to pay.", "info")
        return redirect(url_for("account.rentals"), 303)
    started = attempt_flash(lambda: charges.start(current_user, "top_up", due, for_fees=True,
                                                  success_url=lambda c: charge_done_url(c.reference),
                                                  cancel_url=lambda c: public_url("account.rentals")),
                            (charges.ChargeError, payments.PaymentError), None)
    if started is FAILED:
        return redirect(url_for("account.rentals"), 303)
    _, url = started
    return redirect(url, 303)
