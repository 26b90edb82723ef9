"""API: your cart (lines to buy or rent, the discount code). Checkout and buy now: webapp.api.shopping.

The cart is the signed-in customer's saved cart in the database, the very one the website shows them: read with
services.commerce.cart.load_user_items, changed through webapp.cart_store.user_cart (their row locked, only the
difference saved), priced by services.commerce.cart.view (pricing: the same totals, shipping, discounts and
"what changed" as the cart page).

The discount code. The website keeps it in the browser's session cookie, for that browser only. The API has no
cookie: its equivalent of one browser is one sign-in (a token family, a user_sessions row), so the code applied
with PUT /cart/code is kept in Redis under that sign-in's id for CODE_TTL (renewed on each apply). It is a
convenience, not a record, like the cookie: a sign-in that ends (or a Redis that loses it) forgets it, and the
cart then shows no code; it is checked again at every view and at checkout, and the order records the discount
it got. A Redis that cannot be reached answers 503 (never a checkout made silently without the code)."""
from __future__ import annotations

from typing import Any

import marshmallow as ma
import redis
from flask_smorest import Blueprint

from .. import cart_store
from ..extensions import db
from ..services.circulation import rentals
from ..services.commerce import cart, pricing
from ..services.platform import queues
from .auth import current_session, current_user, token_required
from .catalog import book_on_sale
from .errors import ApiError, fail, not_found
from .schemas import ApiSchema, Count, ErrorSchema, Id, Money, Text, money

blp = Blueprint("api_cart", __name__, url_prefix="/api/v1", description="Your cart: lines to buy or rent, and a "
                                                                          "discount code.")

CODE_TTL = 30 * 86_400  # seconds a sign-in's applied discount code is kept after it was last applied
MODE = "<any(buy, rent):mode>"


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


# ---- the sign-in's discount code (see the module docstring) ----

def _code_key() -> str:
    return f"folio:api:cart-code:{current_session().id}"


def _redis_down(exc: redis.RedisError) -> ApiError:
    return ApiError(503, "unavailable", "Your discount code cannot be read or kept just now; try again in a "
                                        f"moment. ({type(exc).__name__})")


def applied_code() -> str | None:
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


def cart_refused(exc: cart.CartError) -> ApiError:
    db.session.rollback()
    return ApiError(409, "cart_refused", str(exc))


@blp.get("/cart")
@token_required()
@blp.response(200, CartSchema)
def get_cart() -> dict[str, Any]:
    """Your cart, priced now (the same totals as the website's cart). `problems` says once what changed since
    you last looked: lines removed, quantities lowered to what is left, prices that moved."""
    return _cart_body(_view(applied_code()))


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
    book_on_sale(data["book_id"])
    if data["mode"] == "rent":
        blocked = rentals.rental_block_reason(user)
        if blocked:
            fail(409, "rental_blocked", blocked)
    try:
        with cart_store.user_cart(user.id) as items:
            notice = cart.add(items, data["book_id"], mode=data["mode"], quantity=data["quantity"],
                              days=data["days"], user=user)
    except cart.CartError as exc:
        raise cart_refused(exc) from None
    return _cart_body(_view(applied_code(), notice))


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
        raise cart_refused(exc) from None
    return _cart_body(_view(applied_code(), notice))


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
    return _cart_body(_view(applied_code()))


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
