"""Checkout pages: the form (address, wallet, one-time token), the way to the payment page, the success page
(confirmed with the provider, never trusting the redirect) and the page the provider sends a shopper back to.
The work is services.commerce.checkout; these views only read the request and say what happened.

Visitors check out as guests (an email instead of an account; buying only) through the same form and path;
they see their order through this browser's session (webapp.guest_access). What was typed survives a bounce
(sold out, a price change, a failed check, signing in): kept in the session until the order is paid."""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user

from .. import cart_store as store
from .. import guest_access
from ..clients import client_ip
from ..extensions import db, limiter
from ..links import checkout_cancel_url, checkout_success_url
from ..models import Address, Book, Order, OrderStatus
from ..models.orders import DELIVERY_METHODS, DeliveryMethod
from ..services.circulation import wallet
from ..services.commerce import cart, checkout, guests, payments, pricing
from ..services.commerce.checkout import CheckoutError, ShippingAddress
from ..services.inventory.stock import SoldOut
from ..services.people import accounts
from . import bp
from .forms import DRAFT_FIELDS, CheckoutForm

BUY_NOW_KEY = "buy_now"
DRAFT_KEY = "checkout_draft"


def _items() -> tuple[list[cart.CartItem], bool]:
    if request.args.get("buy_now") and session.get(BUY_NOW_KEY):
        return cart.from_session(session[BUY_NOW_KEY]), True
    return store.load(), False


_GUEST_STARTED = "guest_checkout_started"  # in `g`: this request started a guest checkout


def _guest_checkout_started(response) -> bool:
    return bool(g.get(_GUEST_STARTED))


# A guest checkout reserves copies for half an hour with no account behind it: started ones are counted per
# address, so a script with a fresh cookie for each order cannot keep the shop's stock reserved. (A customer
# has one pending checkout at a time already.)
@bp.route("/checkout", methods=["GET", "POST"])
@limiter.limit("30 per hour", methods=["POST"], scope="guest-checkouts", deduct_when=_guest_checkout_started,
               exempt_when=lambda: current_user.is_authenticated)
def index():
    guest = not current_user.is_authenticated
    if not guest and not current_user.is_verified:
        _keep_draft()
        flash("Please confirm your email address before checking out. Your cart is saved.", "info")
        return redirect(url_for("auth.verify", next=request.full_path), 302)
    if guest and request.method == "POST" and request.form.get("then") == "sign_in":
        _keep_draft()  # "Have an account? Sign in": what was typed is back after signing in
        back = url_for("checkout.index", buy_now=1 if request.args.get("buy_now") else None)
        return redirect(url_for("auth.login", next=back), 303)
    resubmitted = _resubmitted(guest)
    if resubmitted is not None:
        return resubmitted
    items, buy_now = _items()
    if guest and guests.rentals_in(items):
        _keep_draft()
        return render_template("checkout/account_needed.html", message=guests.RENTALS_NEED_AN_ACCOUNT,
                               buy_now=buy_now)
    code = None if buy_now else store.code()
    delivery = _delivery_method()
    shopper = None if guest else current_user
    view = cart.view([cart.CartItem(**vars(i)) for i in items], user=shopper, code=code, delivery_method=delivery)
    code_problem = guests.code_problem(view.quote.discount) if guest else None
    if code_problem:  # a code limited per customer needs an account: priced and ordered without it
        code = None
        view = cart.view([cart.CartItem(**vars(i)) for i in items], user=None, code=None, delivery_method=delivery)
    if not view.lines:
        flash("Your cart is empty.", "info")
        return redirect(url_for("cart.index"))
    if view.changes:
        _keep_draft()
        for change in view.changes:
            flash(change, "info")
        return redirect(url_for("cart.index") if not buy_now else request.referrer or url_for("catalog.books"))
    form = CheckoutForm(for_guest=guest)
    saved = [] if guest else current_user.addresses
    form.address_id.choices = [(str(a.id), a.one_line()) for a in saved] + [("new", "A new address")]
    if request.method == "GET":
        default = next((a for a in saved if a.is_default), None)
        form.address_id.data = str(default.id) if default else "new"
        form.token.data = checkout.new_token()
        form.delivery_method.data = delivery
        _restore_draft(form)
    if form.validate_on_submit():
        _keep_draft()  # until the order is paid: a sold-out bounce or leaving the payment page keeps it
        address = None if form.collect else _address_from(form)
        # Not actions.attempt_flash: a sold-out book gets its own message, and both failures go back to the cart
        try:
            order, pay_url = checkout.start_checkout(
                shopper, items, address, code=code,
                success_url=checkout_success_url, cancel_url=checkout_cancel_url,
                use_wallet=bool(form.use_wallet.data) and not guest, token=form.token.data or None,
                delivery_method=delivery, guest_email=form.email.data if guest else None,
                guest_previous=(session.get("checkout_order") or {}).get("number") if guest else None)
        except SoldOut as exc:
            db.session.rollback()
            book = db.session.get(Book, exc.book_id)
            title = book.title if book else "a book"
            flash(f"Sorry, “{title}” sold out while you were checking out: only {exc.available} left. "
                  "Please review your cart." if exc.available else
                  f"Sorry, “{title}” just sold out. Please review your cart.", "error")
            return redirect(url_for("cart.index"), 303)
        except (CheckoutError, payments.PaymentError) as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(url_for("cart.index"), 303)
        if not guest and address is not None and form.save_address.data and form.new_address:
            accounts.save_address(current_user, vars(address))
            db.session.commit()
        if guest:
            guest_access.allow(order)
            g.setdefault(_GUEST_STARTED, True)
        session["checkout_order"] = {"number": order.number, "buy_now": buy_now}
        return redirect(pay_url, 303)
    if request.method == "POST":
        _keep_draft()
    return render_template("checkout/index.html", form=form, view=view, buy_now=buy_now, delivery=delivery,
                           delivery_prices=_delivery_prices(view.quote), shop_address=checkout.shop_address(),
                           wallet_cents=0 if guest else wallet.balance(current_user.id), guest=guest,
                           code_problem=code_problem)


def _delivery_method() -> str:
    """The delivery chosen on the page: the GET choice form's (or the POST's hidden copy of it); else the one
    chosen before a bounce; post if none."""
    chosen = request.values.get("delivery_method") or (session.get(DRAFT_KEY) or {}).get("delivery_method")
    return chosen if chosen in DELIVERY_METHODS else DeliveryMethod.POST


def _keep_draft() -> None:
    """Keep what the shopper typed (never a card: the provider's page takes that) for when they come back."""
    if request.method != "POST":
        return
    draft = {name: request.form.get(name, "")[:254] for name in DRAFT_FIELDS if name in request.form}
    if request.form.get("delivery_method") in DELIVERY_METHODS:
        draft["delivery_method"] = request.form["delivery_method"]
    session[DRAFT_KEY] = draft


def _restore_draft(form: CheckoutForm) -> None:
    """Put back what was typed before a bounce (a saved address only if it is still one of the choices)."""
    draft = session.get(DRAFT_KEY) or {}
    for name in DRAFT_FIELDS:
        if name not in draft:
            continue
        field = getattr(form, name)
        if name == "address_id" and draft[name] not in {value for value, _ in field.choices}:
            continue
        field.data = bool(draft[name]) if name in ("save_address", "use_wallet") else draft[name]


def _delivery_prices(quote: pricing.Quote) -> dict[str, int]:
    """The shipping each delivery choice would cost this cart, for the choice's labels."""
    goods = quote.subtotal_cents - quote.discount_cents
    return {str(m): pricing.shipping_cents(quote.subtotal_cents, goods, rentals_only=quote.rentals_only,
                                           delivery_method=m) for m in DELIVERY_METHODS}


def _resubmitted(guest: bool):
    """The checkout form sent again (back and resubmit, a double click after the cart emptied): go where the
    first submit went, instead of starting over or saying the cart is empty."""
    if request.method != "POST":
        return None
    prior = checkout.order_for_token(None if guest else current_user, request.form.get("token"))
    if prior is not None and guest:
        guest_access.allow(prior)  # the same browser sent the same one-time token
    url = checkout.destination(prior, checkout_success_url) if prior is not None else None
    return redirect(url, 303) if url else None


def _address_from(form: CheckoutForm) -> ShippingAddress:
    if not form.new_address:
        saved = db.session.get(Address, int(form.address_id.data))
        if saved is None or saved.user_id != current_user.id:
            abort(404)
        return ShippingAddress.of(saved)
    f = form
    return ShippingAddress(f.full_name.data.strip(), f.line1.data.strip(), f.city.data.strip(),
                           f.postcode.data.strip(), f.country.data.strip().upper(), (f.line2.data or "").strip() or None,
                           (f.region.data or "").strip() or None, (f.phone.data or "").strip() or None)


@bp.get("/checkout/success/<number>")
def success(number: str):
    order = guest_access.order_or_404(number)
    _confirm(order)  # a verified server-side check, never the redirect alone
    _forget_cart_if_paid(order)
    return render_template("checkout/success.html", order=order, guest=guest_access.may_see(order))


def _confirm(order: Order) -> None:
    """Ask the provider about a pending order; if it cannot answer now, the webhook or the poll will."""
    if order.status == OrderStatus.PENDING_PAYMENT:
        try:
            checkout.confirm(order)
        except payments.PaymentError:
            db.session.rollback()
        db.session.refresh(order)


@bp.get("/checkout/success/<number>/status")
def success_status(number: str):
    """Polled by the success page until the payment is confirmed (286 stops the polling)."""
    order = guest_access.order_or_404(number)
    _confirm(order)
    _forget_cart_if_paid(order)
    done = order.status != OrderStatus.PENDING_PAYMENT
    return render_template("checkout/_status.html", order=order, guest=guest_access.may_see(order)), \
        286 if done else 200


def _forget_cart_if_paid(order: Order) -> None:
    pending = session.get("checkout_order")
    if order.status == OrderStatus.PAID and pending and pending.get("number") == order.number:
        if pending.get("buy_now"):
            session.pop(BUY_NOW_KEY, None)
        else:
            store.clear({(line.book_id, line.mode) for line in order.lines if line.book_id is not None})
            store.set_code(None)
        session.pop("checkout_order", None)
        session.pop(DRAFT_KEY, None)  # placed and paid: nothing typed is needed again


@bp.route("/checkout/cancelled/<number>", methods=["GET", "POST"])
def cancelled(number: str):
    """Stripe's cancel_url: the shopper left the payment page. POST closes the page at the provider and gives
    the reserved copies back; if the payment went through first, the order is completed instead."""
    order = guest_access.order_or_404(number)
    if request.method == "POST":
        try:  # a provider error leaves the order as it was: say so and let the shopper try again
            actor = current_user if current_user.is_authenticated else None  # None: a guest
            status = checkout.abandon(order, actor=actor, ip=client_ip())
        except payments.PaymentError as exc:
            db.session.rollback()
            flash(f"We could not stop the payment just now ({exc}). Please try again.", "error")
            return redirect(url_for("checkout.cancelled", number=order.number), 303)
        if order.paid_at is not None:
            flash("Your payment has already gone through.", "info")
            return redirect(url_for("checkout.success", number=order.number), 303)
        if status == OrderStatus.CANCELLED:
            flash("No payment was taken. Your cart is as you left it.", "info")
        return redirect(url_for("cart.index"), 303)
    return render_template("checkout/cancelled.html", order=order)
