"""API: checkout (your cart) and buy now (one book), each making an order that waits for its payment.

Checkout and buy now are services.commerce.checkout.start_checkout, called as webapp.checkout.routes calls it:
the same reservation (all lines or none), limits, one pending checkout per customer and idempotency (the same
cart, address, code and wallet choice resume the same pending order; an `Idempotency-Key` header plays the
web form's one-time token). The payment provider's return addresses come from PUBLIC_URL (webapp.links).
The cart and its discount code: webapp.api.cart; an address sent inline: webapp.api.account.PostalAddressSchema."""
from __future__ import annotations

import re
from typing import Any

import marshmallow as ma
from flask import request
from flask_smorest import Blueprint

from ..extensions import db
from ..links import absolute, checkout_cancel_url, checkout_success_url
from ..models import Address, Book, Order, OrderStatus
from ..models.orders import DELIVERY_METHODS, DeliveryMethod
from ..services.commerce import cart, checkout, payments
from ..services.commerce.checkout import CheckoutError, ShippingAddress
from ..services.inventory.stock import SoldOut
from .account import PostalAddressSchema, ship_to
from .auth import current_user, own, token_required
from .cart import applied_code, cart_refused
from .catalog import book_on_sale
from .errors import ApiError, fail
from .orders import OrderSchema, order_body
from .schemas import ApiSchema, Count, ErrorSchema, Id

blp = Blueprint("api_shopping", __name__, url_prefix="/api/v1", description="Checkout and buy now.")

_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_\-]{16,64}", re.ASCII)  # as the web form's token (CheckoutForm.token)


# ---- schemas ----

class _ShipSchema(ApiSchema):
    delivery_method = ma.fields.String(
        load_default=DeliveryMethod.POST, validate=ma.validate.OneOf(DELIVERY_METHODS),
        metadata={"description": "post (default: shipped to address_id or address; rentals-only orders pay the "
                                 "lower rental shipping) or collect (collect in store: no shipping charge and no "
                                 "address; the loan of a rental starts when you collect it)."})
    address_id = Id(metadata={"description": "One of your saved addresses (GET /me/addresses); for post."})
    address = ma.fields.Nested(PostalAddressSchema, metadata={"description": "Or a new address; for post."})
    use_wallet = ma.fields.Boolean(load_default=False, metadata={"description": "Pay from your wallet first (the "
                                                                               "card pays any rest)."})

    @ma.validates_schema
    def validate_one_address(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("delivery_method") == DeliveryMethod.COLLECT:
            if "address_id" in data or "address" in data:
                raise ma.ValidationError("Collect in store needs no address: leave address_id and address out.",
                                         "address")
            return
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


# ---- checkout and buy now ----

def _ship_to(data: dict[str, Any]) -> ShippingAddress | None:
    if data["delivery_method"] == DeliveryMethod.COLLECT:
        return None  # the order records the shop's address (checkout.shop_address)
    if "address" in data:
        return ship_to(data["address"])
    return ShippingAddress.of(own(Address, data["address_id"], "That address"))


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
    view = cart.view([cart.CartItem(**vars(i)) for i in items], user=user, code=code,
                     delivery_method=data["delivery_method"])
    if view.changes:  # as the website: what changed is shown before anything is reserved
        fail(409, "cart_changed", "Your cart changed since you last looked: " + " ".join(view.changes)
             + " Review it (GET /cart) and check out again.")
    if not view.lines:
        fail(409, "cart_empty", "Your cart is empty.")
    try:
        order, url = checkout.start_checkout(user, items, address, code=code, success_url=checkout_success_url,
                                             cancel_url=checkout_cancel_url, use_wallet=bool(data["use_wallet"]),
                                             token=token, delivery_method=data["delivery_method"])
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
    return _check_out(cart.load_user_items(current_user().id), data, applied_code())


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
    book_on_sale(data["book_id"])
    items: list[cart.CartItem] = []
    try:
        notice = cart.add(items, data["book_id"], mode=data["mode"], quantity=data["quantity"], days=data["days"],
                          user=user)
    except cart.CartError as exc:
        raise cart_refused(exc) from None
    if notice:  # fewer copies than asked for: say so rather than buy fewer
        fail(409, "cart_refused", notice)
    return _check_out(items, data, None)
