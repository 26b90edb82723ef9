"""What an out-of-stock book card offers: "Place hold" (books for rent) and "Notify me" (every book).

Both are plain form posts answered with a 303 back to the page (and a flash), or, for htmx, the card's action
box swapped in place. A visitor is sent to sign in first and comes back to the "Notify me" page of the book
(or the book page for a hold), where one press finishes what they started. The rules live in
services.catalog.back_in_stock and services.circulation.holds.
"""
from __future__ import annotations

from flask import Response, abort, flash, make_response, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from ..extensions import db
from ..htmx import is_htmx
from ..models import Book
from ..services.catalog import back_in_stock
from ..services.circulation import holds
from ..services.inventory import stock
from ..utils import safe_next
from . import bp


def _book(book_id: int) -> Book:
    book = db.session.get(Book, book_id)
    if book is None or not book.active:
        abort(404, "We couldn't find that book. It may have been removed from the catalog.")
    return book


def _box(book: Book, state: str, message: str = "", back: str = "") -> Response:
    """The card's action box after a press (htmx): the same partial the card starts from, in a new state."""
    response = make_response(render_template(
        "catalog/_card_action.html", book=book, state=state, message=message, csrf_mark=generate_csrf(),
        next_mark=back))
    response.vary.add("HX-Request")
    return response


def _answer(book: Book, state: str, message: str, back: str, category: str) -> ResponseReturnValue:
    """After a press: the card's box in its new state for htmx, else the message flashed on the page it came from."""
    if is_htmx():
        return _box(book, state, message, back)
    flash(message, category)
    return redirect(back, 303)


def _sign_in_first(then: str) -> ResponseReturnValue:
    login = url_for("auth.login", next=then)
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = login
        return response
    flash("Sign in first, then we can email you.", "info")
    return redirect(login, 303)


@bp.get("/books/<int:book_id>/notify")
def notify_page(book_id: int):
    """The no-JS home of "Notify me": where a visitor lands after signing in, one press away from done."""
    book = _book(book_id)
    waiting = current_user.is_authenticated and back_in_stock.is_waiting(current_user.id, book.id)
    available = stock.state(book.id).available
    return render_template("catalog/notify.html", book=book, waiting=waiting, available=available)


@bp.post("/books/<int:book_id>/notify")
def notify_me(book_id: int):
    book = _book(book_id)
    back = safe_next(url_for("catalog.book", book_id=book.id, slug=book.slug))
    if not current_user.is_authenticated:
        return _sign_in_first(url_for("catalog.notify_page", book_id=book.id))
    try:
        made = back_in_stock.ask(current_user, book)
    except back_in_stock.NotifyError as exc:
        db.session.rollback()
        return _answer(book, "refused", str(exc), back, "error")
    db.session.commit()
    message = (f"We'll email you when “{book.title}” is back in stock." if made
               else f"You're already on the list: we'll email you when “{book.title}” is back.")
    return _answer(book, "waiting", message, back, "success")


@bp.post("/books/<int:book_id>/notify/cancel")
def notify_cancel(book_id: int):
    book = _book(book_id)
    back = safe_next(url_for("account.index"))
    if not current_user.is_authenticated:
        return _sign_in_first(url_for("catalog.notify_page", book_id=book.id))
    back_in_stock.cancel(current_user.id, book.id)
    db.session.commit()
    message = f"We won't email you about “{book.title}”."
    return _answer(book, "cancelled", message, back, "info")


@bp.post("/books/<int:book_id>/hold")
def card_hold(book_id: int):
    """"Place hold" on a card: the same hold as the book page's button (services.circulation.holds.place)."""
    book = _book(book_id)
    page = url_for("catalog.book", book_id=book.id, slug=book.slug)
    back = safe_next(page)
    if not current_user.is_authenticated:
        return _sign_in_first(page)
    try:
        hold = holds.place(current_user, book)
    except holds.HoldError as exc:
        db.session.rollback()
        return _answer(book, "refused", str(exc), back, "error")
    db.session.commit()
    if hold.status == "ready":
        message = f"Good timing: a copy of “{book.title}” is set aside for you."
    else:
        message = (f"You're number {holds.position(hold)} in the queue for “{book.title}”. "
                   "We'll email you when a copy is set aside for you.")
    return _answer(book, "held", message, back, "success")
