"""Admin panel: the customer page's tabs (/admin/users/<id>/<tab>): orders, rentals, holds, wallet, plan and
sessions; the Profile tab is admin.user (users.py) and the Fees tab admin.user_fees (fees.py).

Each tab has its own URL that renders the whole customer page with that tab open (works without JavaScript);
the tab links also carry hx-get + hx-push-url, and an htmx request gets only the tab's partial, swapped into
#customer-panel. The tab list (a nav with aria-current) rides along out of band with every tab partial, added
here once for all tabs (including the Fees tab, which lives in another module), so it always marks the open tab.
"""
from __future__ import annotations

from typing import Any

from flask import Response, abort, current_app, render_template, request

from ..extensions import db
from ..htmx import is_htmx, render_page_or_partial
from ..models import User
from ..services.circulation import adjustments, wallet
from ..services.commerce import customer_file
from ..services.people import sessions
from ..services.platform.money import money
from . import bp
from .forms import ActionForm
from .user_forms import CancelPlanForm, CompPlanForm, TabPageForm, WalletAdjustForm

# (endpoint, label) in the order the tabs show.
TABS = (("admin.user", "Profile"), ("admin.user_orders", "Orders"), ("admin.user_rentals", "Rentals"),
        ("admin.user_holds", "Holds"), ("admin.user_wallet", "Wallet"), ("admin.user_plan", "Plan"),
        ("admin.user_fees", "Fees"), ("admin.user_sessions", "Sessions"))
TAB_ENDPOINTS = frozenset(endpoint for endpoint, _ in TABS)


@bp.app_template_global("customer_tabs")
def tabs() -> list[tuple[str, str]]:
    """The tabs that exist in this build (the Fees tab comes with the fees module)."""
    return [(e, label) for e, label in TABS if e in current_app.view_functions]


def customer_or_404(user_id: int) -> User:
    """The account a customer-page view is about (any role: staff have a page too), or 404."""
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def render_tab(user: User, partial: str, **context: Any) -> Response:
    """The whole customer page with this tab open, or (htmx) only the tab's partial."""
    return render_page_or_partial("admin/user.html", partial, user=user, panel=partial, **context)


@bp.after_request
def _tab_nav_follows(response: Response) -> Response:
    """An htmx tab partial also carries the tab list, out of band, marking the tab now open."""
    if (request.endpoint in TAB_ENDPOINTS and request.method == "GET" and is_htmx()
            and response.status_code == 200 and response.mimetype == "text/html" and request.view_args):
        nav = render_template("admin/_user_tabnav.html", tab_user_id=request.view_args.get("user_id"), oob=True)
        response.set_data(response.get_data() + nav.encode())
    return response


@bp.get("/users/<int:user_id>/orders")
def user_orders(user_id: int):
    user = customer_or_404(user_id)
    result = customer_file.orders(user.id, TabPageForm(request.args).page_number())
    return render_tab(user, "admin/_user_orders.html", result=result)


@bp.get("/users/<int:user_id>/rentals")
def user_rentals(user_id: int):
    user = customer_or_404(user_id)
    return render_tab(user, "admin/_user_rentals.html", rentals=customer_file.rentals_of(user.id),
                      returned_shown=customer_file.RETURNED_SHOWN)


@bp.get("/users/<int:user_id>/holds")
def user_holds(user_id: int):
    user = customer_or_404(user_id)
    open_holds, closed_holds = customer_file.holds_of(user.id)
    return render_tab(user, "admin/_user_holds.html", open_holds=open_holds, closed_holds=closed_holds)


def wallet_tab(user: User, form: WalletAdjustForm | None = None, page: int | None = None) -> Response:
    """The Wallet tab (also shown again, with the messages, when an adjustment is refused)."""
    if form is None:
        form = WalletAdjustForm(formdata=None, reference=adjustments.new_reference())
    page = page or TabPageForm(request.args).page_number()
    return render_tab(user, "admin/_user_wallet.html", statement=wallet.statement(user.id, page), form=form,
                      describe=wallet.describe, max_cents=adjustments.max_cents())


@bp.get("/users/<int:user_id>/wallet")
def user_wallet(user_id: int):
    return wallet_tab(customer_or_404(user_id))


def plan_tab(user: User, comp_form: CompPlanForm | None = None,
             cancel_form: CancelPlanForm | None = None) -> Response:
    plan = customer_file.plan_of(user.id)
    comp_form = comp_form or CompPlanForm(formdata=None, periods=1, stamp=plan.stamp)
    cancel_form = cancel_form or CancelPlanForm(formdata=None, stamp=plan.stamp)
    comp_form.tier.choices = [(t.name.value, f"{t.label} ({money(t.price_cents)} a period)")
                              for t in plan.paid_tiers]
    return render_tab(user, "admin/_user_plan.html", plan=plan, comp_form=comp_form, cancel_form=cancel_form)


@bp.get("/users/<int:user_id>/plan")
def user_plan(user_id: int):
    return plan_tab(customer_or_404(user_id))


@bp.get("/users/<int:user_id>/sessions")
def user_sessions(user_id: int):
    user = customer_or_404(user_id)
    return render_tab(user, "admin/_user_sessions.html", devices=sessions.active(user.id), device=sessions.device,
                      action_form=ActionForm())

