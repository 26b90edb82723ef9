"""API: Your cart, buy now and checkout.

The cart is the signed-in customer's saved cart in the database, the very one the website shows them: read with
services.commerce.cart.load_user_items, changed through webapp.cart_store.user_cart (their row locked, only the
difference saved), priced by services.commerce.cart.view (pricing: the same totals, shipping, discounts and
"what changed" as the cart page).

The discount code. The website keeps it in the browser's session cookie, for that browser only. The API has no
cookie: its equivalent of one browser is one sign-in (a token family, a user_sessions row), so the code applied
with PUT /cart/code is kept in Redis under that sign-in's id for CODE_TTL (renewed on each apply). It is a
convenience, not a record, like the cookie: a sign-in that ends (or a Redis that loses it) forgets it, and the
cart then shows no code; it is checked again at every view and at checkout, and the order records the discount
it got. A Redis that cannot be reached answers 503 (never a checkout made silently without the code).

Checkout and buy now are services.commerce.checkout.start_checkout, called as webapp.checkout.routes calls it:
the same reservation (all lines or none), limits, one pending checkout per customer and idempotency (the same
cart, address, code and wallet choice resume the same pending order; an `Idempotency-Key` header plays the
web form's one-time token). The payment provider's return addresses come from PUBLIC_URL (webapp.links)."""
from __future__ import annotations

import re
from typing import Any

import marshmallow as ma
import redis
from flask import request
from flask_smorest import Blueprint

from .. import cart_store
from ..extensions import db
from ..links import absolute, checkout_cancel_url, checkout_success_url
from ..models import Address, Book, Order, OrderStatus
from ..services.circulation import rentals
from ..services.commerce import cart, checkout, payments, pricing
from ..services.commerce.checkout import CheckoutError, ShippingAddress
from ..services.inventory.stock import SoldOut
from ..services.people.accounts import ADDRESS_FIELDS, ADDRESS_PATTERNS
from ..services.platform import queues
from .auth import current_session, current_user, token_required
from .errors import ApiError, fail, not_found
from .orders import OrderSchema, order_body
from .schemas import ApiSchema, Count, ErrorSchema, Id, Money, Text, money

blp = Blueprint("api_shopping", __name__, url_prefix="/api/v1", description="Your cart, buy now and checkout.")

CODE_TTL = 30 * 86_400  # seconds a sign-in's applied discount code is kept after it was last applied
MODE = "<any(buy, rent):mode>"
_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_\-]{16,64}", re.ASCII)  # as the web form's token (CheckoutForm.token)


# ---- schemas ----

class CartLineSchema(ma.Schema):
    book_id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    mode = ma.fields.String(required=True, metadata={"enum": ["buy", "rent"]})
    quantity = ma.fields.Integer(required=True)
    days = ma.fields.Integer(required=True, allow_none=True, metadata={"description": "Rental days; null to buy."})
    unit_price = Money(required=True, metadata={"description": "Per copy (for the whole loan when renting)."})
    total = Money(required=True)
    available = ma.fields.Integer(required=True, metadata={"description": "Copies you could have now."})


class CartSchema(ma.Schema):
    lines = ma.fields.List(ma.fields.Nested(CartLineSchema), required=True)
    count = ma.fields.Integer(required=True, metadata={"description": "Copies in the cart."})
    subtotal = Money(required=True)
    discount = Money(required=True, metadata={"description": "Member discount and discount code together."})
    shipping = Money(required=True)
    tax = Money(required=True)
    total = Money(required=True)
    code = ma.fields.String(required=True, allow_none=True, metadata={"description": "The discount code applied."})
    problems = ma.fields.List(ma.fields.String(), required=True,
                              metadata={"description": "What changed since you last looked (prices, stock, lines "
                                                       "removed), a quantity lowered, a code that no longer applies."})


class AddItemSchema(ApiSchema):
    book_id = Id(required=True)
    mode = ma.fields.String(load_default="buy", validate=ma.validate.OneOf(cart.MODES))
    quantity = Count(1, 99, load_default=1)
    days = Count(1, 365, load_default=7, metadata={"description": "Rental days (your plan sets the longest)."})


class UpdateItemSchema(ApiSchema):
    quantity = Count(0, 99, metadata={"description": "0 removes the line."})
    days = Count(1, 365, metadata={"description": "Rental days (rent lines only)."})


class CartCodeSchema(ApiSchema):
    code = Text(40, 1, required=True)


def _column(name: str) -> Any:
    return Address.__table__.c[name]


def _address_field(name: str, **kwargs: Any) -> ma.fields.String:
    """An address field as the saved addresses' column holds it: its length; required unless it may be empty."""
    column = _column(name)
    if column.nullable:
        return Text(column.type.length, allow_none=True, **kwargs)
    return Text(column.type.length, required=True, **kwargs)


class ShipToSchema(ApiSchema):
    """A new address to ship to, checked as the website's checkout form checks one (the column sizes, the fields
    an address needs, services.people.accounts.ADDRESS_PATTERNS)."""

    full_name = _address_field("full_name")
    line1 = _address_field("line1")
    line2 = _address_field("line2")
    city = _address_field("city")
    region = _address_field("region")
    postcode = _address_field("postcode")
    country = _address_field("country", metadata={"example": "US"})
    phone = _address_field("phone")

    @ma.post_load
    def _checked(self, data: dict[str, Any], **_: Any) -> ShippingAddress:
        values = {name: (value or "").strip() for name, value in data.items()}
        errors: dict[str, list[str]] = {}
        for name in ADDRESS_FIELDS:
            if not _column(name).nullable and not values.get(name):
                errors[name] = ["This field is required."]  # more than spaces, as the form
        for name, (pattern, message) in ADDRESS_PATTERNS.items():
            if values.get(name) and not re.match(pattern, values[name]):
                errors.setdefault(name, []).append(message)
        if errors:
            raise ma.ValidationError(errors)
        return ShippingAddress(values["full_name"], values["line1"], values["city"], values["postcode"],
                               values["country"].upper(), values.get("line2") or None, values.get("region") or None,
                               values.get("phone") or None)


class _ShipSchema(ApiSchema):
    address_id = Id(metadata={"description": "One of your saved addresses (GET /me/addresses)."})
    address = ma.fields.Nested(ShipToSchema, metadata={"description": "Or a new address."})
    use_wallet = ma.fields.Boolean(load_default=False, metadata={"description": "Pay from your wallet first (the "
                                                                               "card pays any rest)."})

    @ma.validates_schema
    def validate_one_address(self, data: dict[str, Any], **_: Any) -> None:
        if ("address_id" in data) == ("address" in data):
            raise ma.ValidationError("Give either address_id or address.", "address")


class CheckoutSchema(_ShipSchema):
    pass


class BuyNowSchema(_ShipSchema):
    book_id = Id(required=True)
    mode = ma.fields.String(load_default="buy", validate=ma.validate.OneOf(cart.MODES))
    quantity = Count(1, 99, load_default=1)
    days = Count(1, 365, load_default=7)


class CheckoutResultSchema(ma.Schema):
    order = ma.fields.Nested(OrderSchema, required=True)
    payment_url = ma.fields.String(required=True, allow_none=True,
                                   metadata={"description": "Open it to pay; null when your wallet paid it all."})


IDEMPOTENCY_DOC = {"parameters": [{
    "in": "header", "name": "Idempotency-Key", "required": False,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,64}$"},
    "description": "Optional, 16 to 64 letters, digits, _ or -: the same key again answers the order the first "
                   "request made (a retry after a lost answer), whatever the cart is by then."}]}


# ---- the sign-in's discount code (see the module docstring) ----

def _code_key() -> str:
    return f"folio:api:cart-code:{current_session().id}"


def _redis_down(exc: redis.RedisError) -> ApiError:
    return ApiError(503, "unavailable", "Your discount code cannot be read or kept just now; try again in a "
                                        f"moment. ({type(exc).__name__})")


def _code() -> str | None:
    try:
        raw = queues.connection().get(_code_key())
    except redis.RedisError as exc:
        raise _redis_down(exc) from None
    return raw.decode() if isinstance(raw, bytes) else raw


def _set_code(code: str | None) -> None:
    try:
        if code:
            queues.connection().set(_code_key(), code, ex=CODE_TTL)
        else:
            queues.connection().delete(_code_key())
    except redis.RedisError as exc:
        raise _redis_down(exc) from None


# ---- the cart ----

def _view(code: str | None, notice: str | None = None) -> cart.CartView:
    """Price the saved cart, as the cart page does: what pricing changed in it (lines dropped, quantities
    lowered, prices seen) is saved under the cart lock, priced again there, and only when something changed."""
    user = current_user()
    items = cart.load_user_items(user.id)
    seen = [cart.CartItem(**vars(i)) for i in items]
    view = cart.view(items, user=user, code=code, acknowledge=True)
    if items != seen:
        with cart_store.user_cart(user.id) as items:
            view = cart.view(items, user=user, code=code, acknowledge=True)
    if notice:
        view.changes.append(notice)
    return view


def _cart_body(view: cart.CartView) -> dict[str, Any]:
    quote = view.quote
    problems = list(view.changes)
    if view.code and quote.discount is None and quote.discount_error:
        problems.append(quote.discount_error)
    return {
        "lines": [{"book_id": line.book.id, "title": line.book.title, "mode": line.item.mode,
                   "quantity": line.item.quantity, "days": line.item.days if line.item.mode == "rent" else None,
                   "unit_price": money(line.unit_cents), "total": money(line.line_cents),
                   "available": line.available} for line in view.lines],
        "count": view.count, "subtotal": money(quote.subtotal_cents), "discount": money(quote.discount_cents),
        "shipping": money(quote.shipping_cents), "tax": money(quote.tax_cents), "total": money(quote.total_cents),
        "code": view.code, "problems": problems,
    }


def _refused(exc: cart.CartError) -> ApiError:
    db.session.rollback()
    return ApiError(409, "cart_refused", str(exc))


def _sold_book(book_id: int) -> Book:
    book = db.session.get(Book, book_id)
    if book is None or not book.active:
        not_found("That book")
    return book


@blp.get("/cart")
@token_required()
@blp.response(200, CartSchema)
def get_cart() -> dict[str, Any]:
    """Your cart, priced now (the same totals as the website's cart). `problems` says once what changed since
    you last looked: lines removed, quantities lowered to what is left, prices that moved."""
    return _cart_body(_view(_code()))


@blp.post("/cart/items")
@token_required()
@blp.arguments(AddItemSchema)
@blp.response(200, CartSchema)
@blp.alt_response(404, schema=ErrorSchema, description="No such book on sale.")
@blp.alt_response(409, schema=ErrorSchema, description="Not one more copy can be added (cart_refused: out of "
                                                       "stock, not for rent, rental length) or you cannot rent now "
                                                       "(rental_blocked: an overdue book or unpaid fees).")
def add_item(data: dict[str, Any]) -> dict[str, Any]:
    """Add copies to buy or rent (adds to a line already there). A quantity above what is left is lowered,
    and `problems` says so."""
    user = current_user()
    _sold_book(data["book_id"])
    if data["mode"] == "rent":
        blocked = rentals.rental_block_reason(user)
        if blocked:
            fail(409, "rental_blocked", blocked)
    try:
        with cart_store.user_cart(user.id) as items:
            notice = cart.add(items, data["book_id"], mode=data["mode"], quantity=data["quantity"],
                              days=data["days"], user=user)
    except cart.CartError as exc:
        raise _refused(exc) from None
    return _cart_body(_view(_code(), notice))


def _line_or_404(book_id: int, mode: str) -> None:
    if not any(i.key == (book_id, mode) for i in cart.load_user_items(current_user().id)):
        not_found("That line of your cart")


@blp.patch(f"/cart/items/<int:book_id>/{MODE}")
@token_required()
@blp.arguments(UpdateItemSchema)
@blp.response(200, CartSchema)
@blp.alt_response(404, schema=ErrorSchema, description="That book (in that mode) is not in your cart.")
@blp.alt_response(409, schema=ErrorSchema, description="The change was refused (cart_refused), e.g. a rental "
                                                       "length beyond your plan's.")
def update_item(data: dict[str, Any], book_id: int, mode: str) -> dict[str, Any]:
    """Change a line's quantity (0 removes it; above what is left is lowered) or its rental days."""
    user = current_user()
    _line_or_404(book_id, mode)
    try:
        with cart_store.user_cart(user.id) as items:
            notice = cart.update(items, book_id, mode, quantity=data.get("quantity"), days=data.get("days"),
                                 user=user)
    except cart.CartError as exc:
        raise _refused(exc) from None
    return _cart_body(_view(_code(), notice))


@blp.delete(f"/cart/items/<int:book_id>/{MODE}")
@token_required()
@blp.response(200, CartSchema)
@blp.alt_response(404, schema=ErrorSchema, description="That book (in that mode) is not in your cart.")
def remove_item(book_id: int, mode: str) -> dict[str, Any]:
    """Remove a line from your cart."""
    user = current_user()
    _line_or_404(book_id, mode)
    with cart_store.user_cart(user.id) as items:
        cart.remove(items, book_id, mode)
    return _cart_body(_view(_code()))


@blp.put("/cart/code")
@token_required()
@blp.arguments(CartCodeSchema)
@blp.response(200, CartSchema)
@blp.alt_response(422, schema=ErrorSchema, description="The code does not apply to this cart now (unknown, "
                                                       "expired, used up, minimum subtotal ...): fields.code says "
                                                       "why; the code is not kept.")
def apply_code(data: dict[str, Any]) -> dict[str, Any]:
    """Apply a discount code to your cart (kept for this sign-in; checked again at checkout)."""
    code = pricing.normalise_code(data["code"])
    view = _view(code) if code else None
    if view is None or view.quote.discount is None:
        message = (view.quote.discount_error if view else None) or "Enter a code."
        raise ApiError(422, "validation_failed", message, {"code": [message]})
    _set_code(code)
    return _cart_body(view)


@blp.delete("/cart/code")
@token_required()
@blp.response(200, CartSchema)
def remove_code() -> dict[str, Any]:
    """Remove the discount code from your cart."""
    _set_code(None)
    return _cart_body(_view(None))


# ---- checkout and buy now ----

def _ship_to(data: dict[str, Any]) -> ShippingAddress:
    if "address" in data:
        address: ShippingAddress = data["address"]
        return address
    saved = db.session.get(Address, data["address_id"])
    if saved is None or saved.user_id != current_user().id:
        not_found("That address")
    return ShippingAddress.of(saved)


def _idempotency_key() -> str | None:
    raw = request.headers.get("Idempotency-Key")
    if raw is None:
        return None
    if not _IDEMPOTENCY_KEY.fullmatch(raw):
        raise ApiError(422, "validation_failed", "Idempotency-Key: 16 to 64 letters, digits, _ or -.",
                       {"Idempotency-Key": ["16 to 64 letters, digits, _ or -."]})
    return raw


def _result(order: Order, url: str | None) -> tuple[dict[str, Any], int]:
    pending = order.status == OrderStatus.PENDING_PAYMENT
    return {"order": order_body(order), "payment_url": absolute(url) if pending and url else None}, 201


def _check_out(items: list[cart.CartItem], data: dict[str, Any], code: str | None) -> tuple[dict[str, Any], int]:
    """The website's checkout (webapp.checkout.routes.index) for these items, answered in JSON."""
    user = current_user()
    if not user.is_verified:
        fail(403, "email_unverified", "Please confirm your email address before checking out (on the website, "
                                      "or with the code we sent). Your cart is saved.")
    address = _ship_to(data)
    token = _idempotency_key()
    prior = checkout.order_for_token(user, token)
    if prior is not None and checkout.destination(prior, checkout_success_url) is not None:
        return _result(prior, prior.payment_url)  # a retry of a request that already made its order
    view = cart.view([cart.CartItem(**vars(i)) for i in items], user=user, code=code)
    if view.changes:  # as the website: what changed is shown before anything is reserved
        fail(409, "cart_changed", "Your cart changed since you last looked: " + " ".join(view.changes)
             + " Review it (GET /cart) and check out again.")
    if not view.lines:
        fail(409, "cart_empty", "Your cart is empty.")
    try:
        order, url = checkout.start_checkout(user, items, address, code=code, success_url=checkout_success_url,
                                             cancel_url=checkout_cancel_url, use_wallet=bool(data["use_wallet"]),
                                             token=token)
    except SoldOut as exc:
        db.session.rollback()
        book = db.session.get(Book, exc.book_id)
        title = book.title if book else "a book"
        fail(409, "sold_out", f"Sorry, “{title}” sold out while you were checking out: only {exc.available} left."
             if exc.available else f"Sorry, “{title}” just sold out.")
    except CheckoutError as exc:
        db.session.rollback()
        fail(409, "checkout_refused", str(exc))
    except payments.PaymentError as exc:
        db.session.rollback()
        fail(503, "payment_unavailable", f"The payment page could not be opened just now ({exc}); nothing was "
                                         "charged and the copies were released. Please try again.")
    return _result(order, url)


CHECKOUT_ERRORS = ("cart_empty, cart_changed (review GET /cart), sold_out (a copy went meanwhile: nothing was "
                   "reserved), checkout_refused (a rental limit, a code used up ...)")


@blp.post("/checkout")
@token_required()
@blp.doc(**IDEMPOTENCY_DOC)
@blp.arguments(CheckoutSchema)
@blp.response(201, CheckoutResultSchema)
@blp.alt_response(403, schema=ErrorSchema, description="email_unverified: confirm your email address first.")
@blp.alt_response(404, schema=ErrorSchema, description="address_id is not one of your addresses.")
@blp.alt_response(409, schema=ErrorSchema, description=CHECKOUT_ERRORS + ".")
@blp.alt_response(503, schema=ErrorSchema, description="The payment provider (or the store of your code) could "
                                                       "not be reached; nothing was charged.")
def check_out(data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Check out your cart (with its discount code): the copies are reserved for you (all lines or none) and
    the order waits for payment at `payment_url` (or is paid at once when your wallet covers it). The same cart,
    address, code and wallet choice again give the same pending order, not a second one. Paid lines leave the
    cart when the payment arrives."""
    return _check_out(cart.load_user_items(current_user().id), data, _code())


@blp.post("/buy-now")
@token_required()
@blp.doc(**IDEMPOTENCY_DOC)
@blp.arguments(BuyNowSchema)
@blp.response(201, CheckoutResultSchema)
@blp.alt_response(403, schema=ErrorSchema, description="email_unverified: confirm your email address first.")
@blp.alt_response(404, schema=ErrorSchema, description="No such book on sale, or address_id is not yours.")
@blp.alt_response(409, schema=ErrorSchema, description="cart_refused (out of stock, not for rent, rental "
                                                       "length), " + CHECKOUT_ERRORS + ".")
@blp.alt_response(503, schema=ErrorSchema, description="The payment provider could not be reached.")
def buy_now(data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Check out one book straight away, without the cart (your saved cart is kept as it is; no discount code)."""
    user = current_user()
    _sold_book(data["book_id"])
    items: list[cart.CartItem] = []
    try:
        notice = cart.add(items, data["book_id"], mode=data["mode"], quantity=data["quantity"], days=data["days"],
                          user=user)
    except cart.CartError as exc:
        raise _refused(exc) from None
    if notice:  # fewer copies than asked for: say so rather than buy fewer
        fail(409, "cart_refused", notice)
    return _check_out(items, data, None)
