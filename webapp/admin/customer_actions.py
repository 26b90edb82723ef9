"""Admin panel: the customer page's money and plan actions (wallet credit/debit with a reason, comp a plan, cancel
a plan). Each validates its form, calls one service (services.circulation.adjustments / plan_staff, which audit
and email), commits, and goes back to its tab (303); a refused form shows the tab again with the reasons."""
from __future__ import annotations

from flask import flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from ..actions import FAILED, attempt, attempt_flash
from ..clients import client_ip
from ..services.circulation import adjustments, plan_staff, subscriptions
from ..services.circulation.subscriptions import SubscriptionError
from ..services.platform.money import MoneyError, money, parse
from . import bp
from .customer import customer_or_404, plan_tab, wallet_tab
from .user_forms import CancelPlanForm, CompPlanForm, WalletAdjustForm


@bp.post("/users/<int:user_id>/wallet")
def user_wallet_adjust(user_id: int) -> ResponseReturnValue:
    user = customer_or_404(user_id)
    form = WalletAdjustForm()
    cents = None
    if form.validate_on_submit():
        try:
            cents = parse(form.amount.data, what="Amount", maximum=adjustments.max_cents())
        except MoneyError as exc:
            form.amount.errors = [str(exc)]
    if cents is None:
        if not form.reference.data:
            form.reference.data = adjustments.new_reference()
        return wallet_tab(user, form, page=1)
    done = attempt(form, lambda: adjustments.adjust(current_user, user, form.kind.data, cents, form.reason.data,
                                                    form_reference=form.reference.data, ip=client_ip()))
    if done is FAILED:
        return wallet_tab(user, form, page=1)
    if done.applied:
        verb = "Credited" if done.entry.amount_cents > 0 else "Debited"
        paid = f" ({money(done.settled_cents)} of it paid fees due)" if done.settled_cents else ""
        flash(f"{verb} {money(abs(done.entry.amount_cents))}{paid}; the balance is now "
              f"{money(done.balance_cents)}. {user.username} was emailed.", "success")
    else:
        flash("This adjustment was already applied (the form was sent twice); nothing more was changed.", "info")
    return redirect(url_for("admin.user_wallet", user_id=user.id), 303)


@bp.post("/users/<int:user_id>/plan/comp")
def user_plan_comp(user_id: int) -> ResponseReturnValue:
    user = customer_or_404(user_id)
    form = CompPlanForm()
    form.tier.choices = [t.name.value for t in subscriptions.all_tiers() if not t.is_free]
    if not form.validate_on_submit():
        return plan_tab(user, comp_form=form)
    attempt_flash(lambda: plan_staff.comp(current_user, user, form.tier.data, form.periods.data,
                                          seen=form.stamp.data or "", ip=client_ip()),
                  SubscriptionError,
                  lambda done: f"{user.username} has {done.tier.label} free until {done.ends:%Y-%m-%d}"
                               + (f" ({money(done.refund_cents)} refunded to the wallet)" if done.refund_cents else "")
                               + "; they were emailed.")
    return redirect(url_for("admin.user_plan", user_id=user.id), 303)


@bp.post("/users/<int:user_id>/plan/cancel")
def user_plan_cancel(user_id: int) -> ResponseReturnValue:
    user = customer_or_404(user_id)
    form = CancelPlanForm()
    if not form.validate_on_submit():
        return plan_tab(user, cancel_form=form)
    attempt_flash(lambda: plan_staff.cancel(current_user, user, form.when.data, seen=form.stamp.data or "",
                                            ip=client_ip()),
                  SubscriptionError,
                  lambda done: ("The plan ended now" if form.when.data == "now" else "The plan ends at the period end")
                               + (f"; {money(done.refund_cents)} refunded to the wallet" if done.refund_cents else "")
                               + f". {user.username} was emailed.")
    return redirect(url_for("admin.user_plan", user_id=user.id), 303)
