"""Admin panel: payment issues (payments that did not match, provider work that kept failing) and the state
of the outbox, so staff see what the shop could not settle by itself."""
from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from ..actions import attempt_flash
from ..clients import client_ip
from ..htmx import render_page_or_partial
from ..services.commerce import payment_issues
from ..services.platform import outbox
from ..utils import page_number
from . import bp

STATES = {"open": "To check", "resolved": "Resolved", "all": "All"}


class ResolveForm(FlaskForm):
    note = StringField("What was done", validators=[DataRequired(), Length(max=300)])


@bp.get("/payments")
def payments():
    state = request.args.get("state", "open")
    state = state if state in STATES else "open"
    result = payment_issues.listing(state, page_number(request.args.get("page")))
    return render_page_or_partial("admin/payments.html", "admin/_payments_table.html", result=result, state=state,
                                  states=STATES, labels=payment_issues.KIND_LABELS, form=ResolveForm(formdata=None),
                                  outbox=outbox.summary())


@bp.post("/payments/<int:issue_id>/resolve")
def payment_issue_resolve(issue_id: int):
    form = ResolveForm()
    if not form.validate_on_submit():
        flash("Say what was done about it (up to 300 characters).", "error")
    else:
        attempt_flash(lambda: payment_issues.resolve(issue_id, actor=current_user, note=form.note.data,
                                                     ip=client_ip()),
                      payment_issues.IssueError, lambda issue: ("Marked resolved.", "success"))
    return redirect(url_for("admin.payments"), 303)
