"""Admin panel: orders (list with filters, detail, and the staff actions on an order)."""
from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user

from ..actions import attempt_flash
from ..clients import client_ip
from ..extensions import db
from ..htmx import render_page_or_partial
from ..models import Order, User
from ..services.circulation import wallet
from ..services.commerce import orders as order_service
from ..services.commerce import payments
from ..services.commerce.order_state import OrderStateError
from . import bp
from .order_forms import CancelForm, DeliverForm, MarkPaidForm, OrderFilterForm, RefundForm, ShipForm

ACTION_ERRORS = (OrderStateError, payments.PaymentError, wallet.WalletError)


@bp.get("/orders")
def orders_list():
    form = OrderFilterForm(request.args)
    form.validate()
    result = order_service.admin_list(
        q=form.q.data or "", status=form.status.data or "", dates=form.dates.data or "created",
        date_from=form.date_from.data, date_to=form.date_to.data,
        page=(form.page.data if not form.page.errors else None) or 1)
    return render_page_or_partial("admin/orders.html", "admin/_orders_table.html", form=form, result=result)


def _order_or_404(number: str) -> Order:
    found = order_service.by_number(number)
    if found is None:
        abort(404)
    return found


def _detail(found: Order, **forms):
    events = order_service.timeline(found)
    customer = db.session.get(User, found.user_id) if found.user_id else None
    context = {"paid_form": MarkPaidForm(), "ship_form": ShipForm(), "deliver_form": DeliverForm(),
               "cancel_form": CancelForm(), "refund_form": RefundForm()} | forms
    if found.user_id is None:  # a guest's (or a closed account's) order has no wallet to refund to
        for form, name in ((context["cancel_form"], "cancel_refund_to"), (context["refund_form"], "refund_to")):
            getattr(form, name).choices = [c for c in getattr(form, name).choices if c.value != "wallet"]
    return render_template("admin/order.html", order=found, events=events, customer=customer,
                           actors=order_service.actor_names(events), allowed=order_service.allowed_actions(found),
                           refund_to=order_service.REFUND_TO, **context)


@bp.get("/orders/<number>")
def order(number: str):
    return _detail(_order_or_404(number))


# The order page's earlier endpoint name, kept so that existing url_for('admin.order_detail') calls still build.
bp.add_url_rule("/orders/<number>", endpoint="order_detail", view_func=order, methods=["GET"])


def _act(number: str, form_name: str, form, action, success: str):
    """One staff action: a valid form runs the service (commit + flash, or rollback + flash why not) and
    redirects to the order (303); an invalid form shows the page again with the field's message."""
    found = _order_or_404(number)
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)
        return _detail(found, **{form_name: form})
    attempt_flash(lambda: action(found), ACTION_ERRORS, lambda _: (success.format(number=found.number), "success"))
    return redirect(url_for("admin.order", number=found.number), 303)


@bp.post("/orders/<number>/mark-paid")
def order_mark_paid(number: str):
    form = MarkPaidForm()
    return _act(number, "paid_form", form, lambda o: order_service.mark_paid(
        o, actor=current_user, reference=form.reference.data, ip=client_ip()),
        "Order {number} is marked paid: the stock is committed and the receipt is on its way to the customer.")


@bp.post("/orders/<number>/ship")
def order_ship(number: str):
    form = ShipForm()
    return _act(number, "ship_form", form, lambda o: order_service.mark_shipped(
        o, actor=current_user, tracking=form.tracking.data, ip=client_ip()),
        "Order {number} is marked shipped and the customer was emailed.")


@bp.post("/orders/<number>/deliver")
def order_deliver(number: str):
    form = DeliverForm()
    return _act(number, "deliver_form", form, lambda o: order_service.mark_delivered(
        o, actor=current_user, ip=client_ip()), "Order {number} is marked delivered; any rental loans start now.")


@bp.post("/orders/<number>/collected")
def order_collected(number: str):
    form = DeliverForm()
    return _act(number, "deliver_form", form, lambda o: order_service.mark_collected(
        o, actor=current_user, ip=client_ip()), "Order {number} is marked collected; any rental loans start now.")


@bp.post("/orders/<number>/cancel")
def order_cancel(number: str):
    form = CancelForm()
    return _act(number, "cancel_form", form, lambda o: order_service.staff_cancel(
        o, actor=current_user, reason=form.cancel_reason.data, refund_to=form.cancel_refund_to.data,
        ip=client_ip()), "Order {number} is cancelled; its stock is back on the shelf "
        "(and a paid order is refunded: see the timeline).")


@bp.post("/orders/<number>/refund")
def order_refund(number: str):
    form = RefundForm()
    return _act(number, "refund_form", form, lambda o: order_service.refund(
        o, actor=current_user, reason=form.refund_reason.data, refund_to=form.refund_to.data,
        ip=client_ip()), "Order {number} is refunded in full (a card refund completes when the "
        "payment provider confirms it: see the timeline).")
