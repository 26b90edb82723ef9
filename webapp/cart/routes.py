"""The cart: its page and the header's mini cart, adding and changing lines (htmx or plain posts), discount
codes, and buy-now (one book, straight to checkout, the cart kept)."""
from __future__ import annotations

from dataclasses import replace

from flask import flash, make_response, redirect, render_template, request, session, url_for
from flask_login import current_user

from .. import cart_store
from ..htmx import is_htmx, render_page_or_partial, trigger
from ..services.commerce import cart, pricing
from ..utils import safe_next
from . import bp
from .forms import AddForm, DiscountForm, LineForm


def _user():
    return current_user if current_user.is_authenticated else None


def _view(acknowledge: bool = False) -> cart.CartView:
    """Price the cart. What pricing changed in it (lines dropped, quantities lowered, prices seen) is saved
    through cart_store.change(), priced again there under the lock, and only when something did change."""
    items = cart_store.load()
    seen = [replace(i) for i in items]
    view = cart.view(items, user=_user(), code=cart_store.code(), acknowledge=acknowledge)
    if items == seen:
        return view
    with cart_store.change() as items:
        return cart.view(items, user=_user(), code=cart_store.code(), acknowledge=acknowledge)


def _cart_response(view: cart.CartView, notice: str | None = None, error: str | None = None, status: int = 200):
    rental_problem = cart.rental_problem([line.item for line in view.lines], _user())
    response = render_page_or_partial("cart/index.html", "cart/_cart.html", view=view, notice=notice, error=error,
                                      rental_problem=rental_problem,
                                      rent_days_max=cart.rental_days_limit(_user()),
                                      discount_form=DiscountForm(formdata=None, code=view.code), status=status)
    return trigger(response, "cartUpdated", {"count": view.count})


@bp.get("/cart")
def index():
    return _cart_response(_view(acknowledge=True))


@bp.get("/cart/mini")
def mini():
    return render_template("cart/_mini.html", count=cart_store.count())


@bp.post("/cart/add")
def add():
    form = AddForm()
    notice = error = None
    plan_problem = False
    if not form.validate() or form.book_id.data is None:
        error = "Please choose a valid quantity and rental length."
    else:
        try:
            with cart_store.change() as items:
                notice = cart.add(items, form.book_id.data, mode=form.mode.data, quantity=form.quantity.data or 1,
                                  days=form.days.data or 7, user=_user())
                problem = cart.rental_problem(items, _user()) if form.mode.data == "rent" else None
                if problem:  # the plan does not allow it: said now, beside the button, and nothing is added
                    plan_problem = True
                    raise cart.CartError(problem)
        except cart.CartError as exc:
            error = str(exc)
    if is_htmx():
        response = make_response(render_template("cart/_add_result.html", error=error, notice=notice, form=form,
                                                 plan_problem=plan_problem))
        return trigger(response, "cartUpdated", {"count": cart_store.count()})
    if error:
        flash(error, "error")
    else:
        flash(notice or ("Added to your cart." if form.mode.data == "buy" else "Rental added to your cart."),
              "info" if notice else "success")
    return redirect(safe_next(url_for("cart.index")), 303)


@bp.post("/cart/update")
def update():
    form = LineForm()
    notice = error = None
    if not form.validate() or form.book_id.data is None:
        error = "Please enter a quantity (a whole number, 0 removes the book) and a valid rental length."
    else:
        try:
            with cart_store.change() as items:
                notice = cart.update(items, form.book_id.data, form.mode.data, quantity=form.quantity.data,
                                     days=form.days.data, new_mode=form.new_mode.data or None, user=_user())
        except cart.CartError as exc:
            error = str(exc)
    if not is_htmx():
        message = error or notice
        if message:
            flash(message, "error" if error else "info")
        return redirect(url_for("cart.index"), 303)
    return _cart_response(_view(acknowledge=True), notice=notice, error=error)


@bp.post("/cart/remove")
def remove():
    form = LineForm()
    if form.book_id.data and form.mode.data:
        with cart_store.change() as items:
            cart.remove(items, form.book_id.data, form.mode.data)
    if not is_htmx():
        flash("Removed from your cart.", "info")
        return redirect(url_for("cart.index"), 303)
    return _cart_response(_view(acknowledge=True), notice="Removed from your cart.")


@bp.post("/cart/discount")
def apply_discount():
    form = DiscountForm()
    error = None
    if form.validate():
        code = pricing.normalise_code(form.code.data)
        cart_store.set_code(code)
        view = _view()
        if view.quote.discount is None:
            error = view.quote.discount_error
            cart_store.set_code(None)
            view = _view()
    else:
        error = "; ".join(form.code.errors) or "Please try again."
        view = _view()
    if not is_htmx():
        flash(error or "Discount applied.", "error" if error else "success")
        return redirect(url_for("cart.index"), 303)
    return _cart_response(view, error=error, notice=None if error else "Discount applied.")


@bp.post("/cart/discount/remove")
def remove_discount():
    cart_store.set_code(None)
    if not is_htmx():
        return redirect(url_for("cart.index"), 303)
    return _cart_response(_view(), notice="Discount removed.")


@bp.post("/buy-now")
def buy_now():
    """Buy one book straight away, skipping (and keeping) the cart."""
    form = AddForm()
    if not form.validate() or form.book_id.data is None:
        flash("Please try again.", "error")
        return redirect(url_for("catalog.books"), 303)
    items: list[cart.CartItem] = []
    try:
        cart.add(items, form.book_id.data, mode=form.mode.data, quantity=form.quantity.data or 1,
                 days=form.days.data or 7, user=_user())
    except cart.CartError as exc:
        flash(str(exc), "error")
        return redirect(request.referrer or url_for("catalog.books"), 303)
    session["buy_now"] = cart.to_session(items)
    return redirect(url_for("checkout.index", buy_now=1), 303)
