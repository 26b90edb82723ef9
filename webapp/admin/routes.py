from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..auth import session as auth_session
from ..extensions import db
from ..htmx import render_page_or_partial
from ..links import public_url
from ..models import User
from ..services.people import staff
from ..services.people.accounts import AccountError
from ..utils import attempt_flash, page_number
from . import bp
from .forms import ActionForm, RoleForm, UserFilterForm


@bp.get("/users")
def users():
    form = UserFilterForm(request.args)
    form.validate()
    result = staff.list_users(q=form.q.data or "", role=form.role.data or "", status=form.status.data or "",
                              page=(form.page.data if not form.page.errors else None) or 1)
    return render_page_or_partial("admin/users.html", "admin/_users_table.html", form=form, result=result)


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.get("/users/<int:user_id>")
def user(user_id: int):
    found = _user_or_404(user_id)
    from ..services.people import sessions

    return render_template("admin/user.html", user=found, role_form=RoleForm(role=found.role),
                           action_form=ActionForm(), history=staff.audit_for(found),
                           devices=sessions.active(found.id), device=sessions.device)


def _act(user_id: int, action, success: str):
    found = _user_or_404(user_id)
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        action(found)
    except AccountError as exc:  # includes ThrottledError
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(success, "success")
    return redirect(url_for("admin.user", user_id=found.id), 303)


@bp.post("/users/<int:user_id>/role")
def change_role(user_id: int):
    found = _user_or_404(user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        flash("Choose a valid role.", "error")
        return redirect(url_for("admin.user", user_id=found.id), 303)
    try:
        staff.change_role(current_user, found, form.role.data, ip=auth_session.client_ip())
    except AccountError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(f"{found.username} is now {found.role}.", "success")
    return redirect(url_for("admin.user", user_id=found.id), 303)


@bp.post("/users/<int:user_id>/deactivate")
def deactivate(user_id: int):
    return _act(user_id, lambda u: staff.set_active(current_user, u, False, ip=auth_session.client_ip()),
                "Account deactivated and signed out everywhere.")


@bp.post("/users/<int:user_id>/reactivate")
def reactivate(user_id: int):
    return _act(user_id, lambda u: staff.set_active(current_user, u, True, ip=auth_session.client_ip()),
                "Account reactivated.")


@bp.post("/users/<int:user_id>/resend-verification")
def resend_verification(user_id: int):
    return _act(user_id, lambda u: staff.resend_verification(current_user, u, ip=auth_session.client_ip()),
                "A new verification code is on its way.")


@bp.post("/users/<int:user_id>/force-password-reset")
def force_password_reset(user_id: int):
    return _act(user_id, lambda u: staff.force_password_reset(
        current_user, u, lambda token: public_url("auth.reset_password", token=token),
        ip=auth_session.client_ip()), "The password is locked and a reset link was emailed.")


@bp.post("/users/<int:user_id>/end-sessions")
def end_sessions(user_id: int):
    return _act(user_id, lambda u: staff.end_sessions(current_user, u, ip=auth_session.client_ip()),
                "Signed out on every device.")


@bp.get("/rentals")
def rentals_list():
    from ..services.circulation import rentals as rental_service

    view = request.args.get("view", "active")
    view = view if view in rental_service.ADMIN_VIEWS else "active"
    page = request.args.get("page", "1")
    result = rental_service.admin_list(view, page_number(page))
    return render_page_or_partial("admin/rentals.html", "admin/_rentals_table.html", result=result, view=view,
                                  views=rental_service.ADMIN_VIEWS, rentals=rental_service,
                                  action_form=ActionForm())


@bp.post("/rentals/<int:rental_id>/return")
def return_rental(rental_id: int):
    from ..models import Rental
    from ..services.circulation import holds as hold_service
    from ..services.circulation import rentals as rental_service
    from ..services.platform.money import money

    rental = db.session.get(Rental, rental_id)
    if rental is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    waiting = hold_service.queue_length(rental.book_id)

    def returned(fee: int):
        note = f" Late fee {money(fee)}" + (f", {money(rental.fee_due_cents)} still due." if rental.fee_due_cents
                                              else ", paid from the wallet.") if fee else ""
        where = ("set aside for the next reader in its holds queue (an email to them is on its way)" if waiting
                 else "back on the shelf")
        return f"“{rental.book.title}” is {where}.{note}", "success"

    attempt_flash(lambda: rental_service.mark_returned(rental, actor=current_user, ip=auth_session.client_ip()),
                  rental_service.RentalError, returned)
    return redirect(url_for("admin.rentals_list", view=request.args.get("view", "active")), 303)


HOLD_VIEWS = {"ready": "Set aside", "waiting": "Waiting", "closed": "Closed"}


@bp.get("/holds")
def holds_list():
    from ..services.circulation import holds as hold_service

    view = request.args.get("view", "ready")
    view = view if view in HOLD_VIEWS else "ready"
    page = request.args.get("page", "1")
    result = hold_service.admin_list(view, page_number(page))
    return render_page_or_partial("admin/holds.html", "admin/_holds_table.html", result=result, view=view,
                                  views=HOLD_VIEWS, positions=hold_service.positions(result.items))


# ---- background tasks (imports, reports): progress polling and downloads ----

# kind prefix -> template included under a finished task (import errors, report chart ...)
TASK_OUTPUT_TEMPLATES: dict[str, str] = {
    "report:": "admin/_report_outputs.html",
    "import:books": "admin/_import_errors.html",
}


def task_context(task) -> dict:
    template = next((t for prefix, t in TASK_OUTPUT_TEMPLATES.items() if task.kind.startswith(prefix)), None)
    return {"task": task, "task_outputs_template": template or "admin/_task_no_outputs.html"}


@bp.get("/tasks/<int:task_id>")
def task_status(task_id: int):
    from ..services.platform import background

    task = background.get(task_id)
    if task is None:
        abort(404)
    response = render_page_or_partial("admin/task.html", "admin/_task.html", **task_context(task))
    if task.done and request.headers.get("HX-Request") == "true":
        response.status_code = 286  # htmx: stop polling
    return response


@bp.get("/tasks/<int:task_id>/output.csv")
def task_csv(task_id: int):
    from ..services.platform import background

    task = background.get(task_id)
    if task is None or not task.output_csv:
        abort(404)
    stem = "".join(ch if ch.isalnum() else "-" for ch in task.title.lower()).strip("-")[:60] or "export"
    return Response(task.output_csv, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{stem}-{task.id}.csv"'})
