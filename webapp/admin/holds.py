"""Admin panel: holds (copies set aside for readers, the queues still waiting, closed holds, and one book's
queue) and managing them: cancel with a reason, move a waiting hold up or down, extend a pick-up window.

Each action posts a plain form (no JavaScript: flash and 303 back to the list or the queue). With htmx the list
swaps the hold's row, and the book's queue page swaps the whole queue (a move or a cancel renumbers it)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from ..clients import client_ip
from ..extensions import db
from ..htmx import is_htmx, render_page_or_partial
from ..models import Book, Hold
from ..services.circulation import hold_staff
from ..services.circulation import holds as hold_service
from ..services.platform.errors import RuleError
from ..utils import page_number
from . import bp
from .hold_forms import HoldCancelForm, HoldExtendForm, HoldMoveForm


def _forms() -> dict[str, Any]:
    """What the action forms of the rows need (they are written out in the templates, CSRF token included)."""
    return {"extend_max": hold_staff.extend_limit_days()}


@bp.get("/holds")
def holds_list():
    view = request.args.get("view", "ready")
    view = view if view in hold_service.ADMIN_VIEWS else "ready"
    page = request.args.get("page", "1")
    result = hold_service.admin_list(view, page_number(page))
    return render_page_or_partial("admin/holds.html", "admin/_holds_table.html", result=result, view=view,
                                  views=hold_service.ADMIN_VIEWS, positions=hold_service.positions(result.items),
                                  customers=hold_staff.customers(result.items), **_forms())


def _queue_context(book: Book, page: int) -> dict[str, Any]:
    result = hold_staff.book_queue(book.id, page)
    return {"book": book, "result": result, "positions": hold_service.positions(result.items),
            "customers": hold_staff.customers(result.items), "edges": hold_staff.tier_edges(result.items),
            **_forms()}


def _book(book_id: int) -> Book:
    book = db.session.get(Book, book_id)
    if book is None:
        abort(404)
    return book


@bp.get("/holds/books/<int:book_id>")
def hold_queue(book_id: int):
    book = _book(book_id)
    return render_page_or_partial("admin/hold_queue.html", "admin/_hold_queue.html",
                                  **_queue_context(book, page_number(request.args.get("page"))))


def _act(hold_id: int, form_class: type, action: Callable[[Hold, Any], object], done: Callable[[Hold], str]):
    """Run one staff action on a hold and answer: the queue (view=queue) or the row (htmx), else flash + 303."""
    hold = db.session.get(Hold, hold_id)
    if hold is None:
        abort(404)
    form = form_class()
    message, ok = None, False
    if form.validate():
        try:
            action(hold, form)
        except (hold_service.HoldError, RuleError) as exc:
            db.session.rollback()
            message = str(exc)
        else:
            db.session.commit()
            message, ok = done(hold), True
    else:
        if "csrf_token" in form.errors:
            abort(400)
        message = " ".join(e for errors in form.errors.values() for e in errors)
    db.session.refresh(hold)
    view = request.args.get("view", "ready")
    view = view if view in hold_service.ADMIN_VIEWS or view == "queue" else "ready"
    page = page_number(request.args.get("page"))
    if is_htmx():
        if view == "queue":
            html = render_template("admin/_hold_queue.html", status_message=message, status_ok=ok,
                                   **_queue_context(_book(hold.book_id), page))
        else:
            html = render_template("admin/_hold_row.html", h=hold, view=view, row_message=message, row_ok=ok,
                                   positions=hold_service.positions([hold]), customers=hold_staff.customers([hold]),
                                   **_forms())
        response = make_response(html)
        response.vary.add("HX-Request")
        return response
    flash(message or "", "success" if ok else "error")
    shown = page if page > 1 else None  # page 1 is the plain address
    if view == "queue":
        return redirect(url_for("admin.hold_queue", book_id=hold.book_id, page=shown), 303)
    return redirect(url_for("admin.holds_list", view=view, page=shown), 303)


@bp.post("/holds/<int:hold_id>/cancel")
def hold_cancel(hold_id: int):
    return _act(hold_id, HoldCancelForm,
                lambda hold, form: hold_staff.cancel(hold.id, reason=form.reason.data, actor=current_user,
                                                     ip=client_ip()),
                lambda hold: f"Cancelled the hold of {_who(hold)} on “{hold.book.title}”; they are emailed.")


@bp.post("/holds/<int:hold_id>/move")
def hold_move(hold_id: int):
    return _act(hold_id, HoldMoveForm,
                lambda hold, form: hold_staff.move(hold.id, form.direction.data, actor=current_user, ip=client_ip()),
                lambda hold: f"Moved {_who(hold)} to number {hold_service.position(hold)} in the queue for "
                             f"“{hold.book.title}”; they are emailed.")


@bp.post("/holds/<int:hold_id>/extend")
def hold_extend(hold_id: int):
    return _act(hold_id, HoldExtendForm,
                lambda hold, form: hold_staff.extend(hold.id, form.days.data, actor=current_user, ip=client_ip()),
                lambda hold: f"“{hold.book.title}” now waits for {_who(hold)} until "
                             f"{hold.expires_at:%-d %b %H:%M} UTC; they are emailed.")


def _who(hold: Hold) -> str:
    customer = hold_staff.customers([hold]).get(hold.user_id)
    return customer.display_name if customer is not None else "the customer"
