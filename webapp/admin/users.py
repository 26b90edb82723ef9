"""Admin panel: accounts (list and search, one account's page, and the staff actions on it: role, deactivate,
reactivate, new verification code, forced password reset, sign out everywhere, revoke the API tokens).
services.people.staff audits every change. The account's page is the customer page's Profile tab; its other tabs
are in customer.py."""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from ..actions import Success, attempt_flash
from ..clients import client_ip
from ..htmx import render_page_or_partial
from ..links import public_url
from ..models import User
from ..services.people import staff
from ..services.people.accounts import AccountError
from . import bp
from .customer import customer_or_404, render_tab
from .forms import ActionForm
from .user_forms import RoleForm, UserFilterForm

T = TypeVar("T")


@bp.get("/users")
def users():
    form = UserFilterForm(request.args)
    form.validate()
    result = staff.list_users(q=form.q.data or "", role=form.role.data or "", status=form.status.data or "",
                              page=(form.page.data if not form.page.errors else None) or 1)
    return render_page_or_partial("admin/users.html", "admin/_users_table.html", form=form, result=result)


@bp.get("/users/<int:user_id>")
def user(user_id: int):
    found = customer_or_404(user_id)
    return render_tab(found, "admin/_user_profile.html", role_form=RoleForm(role=found.role),
                      action_form=ActionForm(), history=staff.audit_for(found))


def _act(user_id: int, action: Callable[[User], T], success: Success[T],
         back: str = "admin.user") -> ResponseReturnValue:
    """One button on an account's page: the action on that account, then back to its tab (`back`)."""
    found = customer_or_404(user_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    attempt_flash(lambda: action(found), AccountError, success)  # AccountError includes ThrottledError
    return redirect(url_for(back, user_id=found.id), 303)


@bp.post("/users/<int:user_id>/role")
def change_role(user_id: int):
    found = customer_or_404(user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        flash("Choose a valid role.", "error")
        return redirect(url_for("admin.user", user_id=found.id), 303)
    attempt_flash(lambda: staff.change_role(current_user, found, form.role.data, ip=client_ip()), AccountError,
                  lambda _: f"{found.username} is now {found.role}.")
    return redirect(url_for("admin.user", user_id=found.id), 303)


@bp.post("/users/<int:user_id>/deactivate")
def deactivate(user_id: int):
    return _act(user_id, lambda u: staff.set_active(current_user, u, False, ip=client_ip()),
                "Account deactivated and signed out everywhere.")


@bp.post("/users/<int:user_id>/reactivate")
def reactivate(user_id: int):
    return _act(user_id, lambda u: staff.set_active(current_user, u, True, ip=client_ip()),
                "Account reactivated.")


@bp.post("/users/<int:user_id>/resend-verification")
def resend_verification(user_id: int):
    return _act(user_id, lambda u: staff.resend_verification(current_user, u, ip=client_ip()),
                "A new verification code is on its way.")


@bp.post("/users/<int:user_id>/force-password-reset")
def force_password_reset(user_id: int):
    return _act(user_id, lambda u: staff.force_password_reset(
        current_user, u, lambda token: public_url("auth.reset_password", token=token),
        ip=client_ip()), "The password is locked and a reset link was emailed.")


@bp.post("/users/<int:user_id>/end-sessions")
def end_sessions(user_id: int):
    return _act(user_id, lambda u: staff.end_sessions(current_user, u, ip=client_ip()),
                "Signed out on every device.", back="admin.user_sessions")


@bp.post("/users/<int:user_id>/revoke-api-tokens")
def revoke_api_tokens(user_id: int):
    return _act(user_id, lambda u: staff.revoke_api_tokens(current_user, u, ip=client_ip()),
                lambda ended: f"Revoked {ended} API token{'s' if ended != 1 else ''}; browsers stay signed in."
                if ended else "There were no API tokens to revoke.", back="admin.user_sessions")
