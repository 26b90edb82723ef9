"""A customer's own orders (anyone else's are a 404): the list, an order with its timeline, the receipt once
paid, and cancelling before it ships (services.commerce.orders.cancel)."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..authz import owned_or_404
from ..clients import client_ip
from ..extensions import db
from ..models import Order, OrderStatus
from ..services.commerce import checkout, orders, payments, timeline
from ..services.commerce.order_state import OrderStateError
from . import bp


@bp.before_request
@login_required
def _signed_in():
    """Orders are private: every page needs a signed-in customer."""


def _own(number: str) -> Order:
    """The order if it is the signed-in customer's; 404 for anyone else's (no hint it exists)."""
    return owned_or_404(orders.by_number(number))


@bp.get("")
def index():
    return render_template("orders/index.html", orders=orders.for_user(current_user))


@bp.get("/<number>")
def detail(number: str):
    order = _own(number)
    return render_template("orders/detail.html", order=order, events=timeline.for_customer(orders.timeline(order)))


@bp.get("/<number>/receipt")
def receipt(number: str):
    order = _own(number)
    if order.paid_at is None:
        abort(404, "There is no receipt until the order is paid.")
    return render_template("orders/receipt.html", order=order)


@bp.post("/<number>/cancel")
def cancel(number: str):
    order = _own(number)
    # Not actions.attempt_flash: three outcomes (paid meanwhile in another tab: keep the order; refused; done)
    try:
        refund_to = "wallet" if request.form.get("refund_to") == "wallet" else "card"
        orders.cancel(order, actor=current_user, ip=client_ip(), refund_to=refund_to)
    except payments.AlreadyPaid:  # paid in another tab before the payment page closed: keep the order
        db.session.rollback()
        try:
            checkout.confirm(order)
        except payments.PaymentError:
            db.session.rollback()  # the webhook or the reconciler applies it
        flash("Your payment had already gone through, so the order stands. You can cancel it now if you wish.",
              "info")
    except (OrderStateError, payments.PaymentError) as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        refunded = " The money is in your wallet." if order.status == OrderStatus.REFUNDED else " The refund is on its way."
        flash("Your order is cancelled." + (refunded if order.paid_at else ""), "success")
    return redirect(url_for("orders.detail", number=order.number), 303)
