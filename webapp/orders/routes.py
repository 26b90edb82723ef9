"""A customer's own orders (anyone else's are a 404): the list, an order with its timeline, the receipt once
paid, and cancelling before it ships (services.commerce.orders.cancel).

Orders placed without an account are seen by the browser that placed them or found them with the order lookup
(number + email, rate-limited, one answer for every miss): that order only, read-only (webapp.guest_access)."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from .. import guest_access
from ..clients import client_ip
from ..extensions import db, limiter, login_manager
from ..models import OrderStatus
from ..services.commerce import checkout, guests, orders, payments, timeline
from ..services.commerce.order_state import OrderStateError
from . import bp
from .forms import LookupForm

# Open to visitors: the lookup, and the pages of a guest order this browser may see (checked in _own).
_VISITOR_ENDPOINTS = {"orders.lookup", "orders.detail", "orders.receipt"}
NOT_FOUND = "We couldn’t find an order with those details. Check the order number on your receipt and the email " \
            "address you ordered with."


@bp.before_request
def _signed_in():
    """Orders are private: every page needs a signed-in customer, except a guest's own (see _own)."""
    if not current_user.is_authenticated and request.endpoint not in _VISITOR_ENDPOINTS:
        return login_manager.unauthorized()
    return None


@bp.route("/lookup", methods=["GET", "POST"])
@limiter.limit("10 per 10 minutes", methods=["POST"])
def lookup():
    """A guest order by its number and email. Both must match; a wrong one gets the same answer as no order at
    all, so the page tells nobody which orders or addresses exist."""
    form = LookupForm()
    not_found = False
    if form.validate_on_submit():
        order = guests.find(form.number.data, form.email.data)
        if order is not None and order.user_id is None:
            guest_access.allow(order)
            return redirect(url_for("orders.detail", number=order.number), 303)
        if order is not None and current_user.is_authenticated and order.user_id == current_user.id:
            return redirect(url_for("orders.detail", number=order.number), 303)
        if order is not None:  # claimed since by an account: it is shown there
            flash("That order is now in an account: sign in to see it.", "info")
            return redirect(url_for("auth.login", next=url_for("orders.detail", number=order.number)), 303)
        not_found = True
    return render_template("orders/lookup.html", form=form, not_found=not_found, message=NOT_FOUND)


@bp.get("")
def index():
    return render_template("orders/index.html", orders=orders.for_user(current_user))


@bp.get("/<number>")
def detail(number: str):
    order = guest_access.order_or_404(number)
    events = timeline.for_customer(orders.timeline(order))
    if order.user_id is None:  # a guest's: read-only, no account links
        return render_template("orders/guest.html", order=order, events=events)
    return render_template("orders/detail.html", order=order, events=events)


@bp.get("/<number>/receipt")
def receipt(number: str):
    order = guest_access.order_or_404(number)
    if order.paid_at is None:
        abort(404, "There is no receipt until the order is paid.")
    return render_template("orders/receipt.html", order=order)


@bp.post("/<number>/cancel")
def cancel(number: str):
    order = guest_access.order_or_404(number)
    if order.user_id != current_user.id:  # a guest order this browser may see (lookup): read-only, staff cancel it
        abort(404)
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
