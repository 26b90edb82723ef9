"""API: Your orders: the list (newest first, cursor pages), one order with its timeline, and cancelling it before
it ships. Anyone else's order is a 404, exactly like one that does not exist.

The rules are services.commerce.orders (cancel: stock back, the payment refunded as on the website) and
services.commerce.checkout (confirm: a payment that went through before the page closed keeps the order)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import marshmallow as ma
from flask_smorest import Blueprint

from ..clients import client_ip
from ..extensions import db
from ..links import absolute
from ..models import Order, OrderStatus
from ..services.commerce import checkout, orders, payments, timeline
from ..services.commerce.order_state import OrderStateError
from .account import ShippingAddressSchema
from .auth import current_user, token_required
from .errors import ApiError, not_found, refusals
from .schemas import ApiSchema, ErrorSchema, KeysetArgs, Money, PageInfoSchema

blp = Blueprint("api_orders", __name__, url_prefix="/api/v1", description="Your orders.")


# ---- the Order shape (also what checkout and buy-now answer: webapp.api.shopping) ----

class OrderLineSchema(ma.Schema):
    book_id = ma.fields.Integer(required=True, allow_none=True,
                                metadata={"description": "Null if the book was deleted since."})
    title = ma.fields.String(required=True)
    isbn13 = ma.fields.String(required=True)
    mode = ma.fields.String(required=True, metadata={"enum": ["buy", "rent"]})
    quantity = ma.fields.Integer(required=True)
    days = ma.fields.Integer(required=True, allow_none=True, metadata={"description": "Rental days; null to buy."})
    unit_price = Money(required=True, metadata={"description": "Per copy (for the whole loan when renting)."})
    total = Money(required=True)


class OrderTimelineEntrySchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"description": "The order's status when this happened."})
    note = ma.fields.String(required=True, allow_none=True)
    at = ma.fields.DateTime(required=True)


class OrderSchema(ma.Schema):
    number = ma.fields.String(required=True, metadata={"example": "FO-ABCD-EFGH-JKLM"})
    status = ma.fields.String(required=True, metadata={"enum": [s.value for s in OrderStatus]})
    created_at = ma.fields.DateTime(required=True)
    paid_at = ma.fields.DateTime(required=True, allow_none=True)
    subtotal = Money(required=True)
    discount = Money(required=True, metadata={"description": "Member discount and discount code together."})
    shipping = Money(required=True)
    tax = Money(required=True)
    total = Money(required=True)
    paid_from_wallet = Money(required=True)
    lines = ma.fields.List(ma.fields.Nested(OrderLineSchema), required=True)
    delivery_method = ma.fields.String(required=True, metadata={
        "enum": ["post", "collect"], "description": "post, or collect (in store: shipping_address is the shop's)."})
    shipping_address = ma.fields.Nested(ShippingAddressSchema, required=True)
    timeline = ma.fields.List(ma.fields.Nested(OrderTimelineEntrySchema), required=True,
                              metadata={"description": "Oldest first; absent from list items (empty there)."})
    can_cancel = ma.fields.Boolean(required=True, metadata={"description": "You may still cancel it (before it "
                                                                           "ships)."})
    payment_url = ma.fields.String(required=True, allow_none=True,
                                   metadata={"description": "Where to pay while it is pending payment; else null."})


class OrderPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(OrderSchema), required=True)
    page = ma.fields.Nested(PageInfoSchema, required=True)


class OrderCancelSchema(ApiSchema):
    refund_to = ma.fields.String(load_default="card", validate=ma.validate.OneOf(["card", "wallet"]),
                                 metadata={"description": "For a paid order: back to the card (through the payment "
                                                          "provider) or to your wallet at once. What the wallet paid "
                                                          "always goes back to the wallet."})


def order_money(order: Order, cents: int) -> dict[str, Any]:
    """An amount of this order, in the currency it was charged in (whatever the shop's is now)."""
    return {"cents": int(cents), "currency": order.currency.upper()}


def shipping_address(order: Order) -> dict[str, Any]:
    """Where the order goes (its own copy of the address), as account.ShippingAddressSchema shows it."""
    return {"full_name": order.ship_name, "line1": order.ship_line1, "line2": order.ship_line2,
            "city": order.ship_city, "region": order.ship_region, "postcode": order.ship_postcode,
            "country": order.ship_country, "phone": order.ship_phone}


def order_body(order: Order, *, with_timeline: bool = True) -> dict[str, Any]:
    """An order as the API shows it to its customer (the same facts as the website's order page)."""
    events = timeline.for_customer(orders.timeline(order)) if with_timeline else []  # the customer's wording
    pending = order.status == OrderStatus.PENDING_PAYMENT
    return {
        "number": order.number, "status": order.status, "created_at": order.created_at, "paid_at": order.paid_at,
        **{name: order_money(order, cents) for name, cents in (
            ("subtotal", order.subtotal_cents), ("discount", order.discount_cents),
            ("shipping", order.shipping_cents), ("tax", order.tax_cents), ("total", order.total_cents),
            ("paid_from_wallet", order.wallet_cents))},
        "lines": [{"book_id": line.book_id, "title": line.title, "isbn13": line.isbn13, "mode": line.mode,
                   "quantity": line.quantity, "days": line.rental_days,
                   "unit_price": order_money(order, line.unit_cents), "total": order_money(order, line.line_cents)}
                  for line in order.lines],
        "delivery_method": order.delivery_method, "shipping_address": shipping_address(order),
        "timeline": [{"status": e.status, "note": e.note, "at": e.created_at} for e in events],
        "can_cancel": order.cancellable,
        "payment_url": absolute(order.payment_url) if pending and order.payment_url else None,
    }


@contextmanager
def order_refusals(*more: type[Exception]) -> Iterator[None]:
    """An order action the services refused, answered alike to its customer and to staff (after a rollback):
    409 order_state (its status does not allow it now, or it changed meanwhile; also the classes in `more`),
    409 payment_refused (the payment provider refused, as for a plan's payment)."""
    try:
        with refusals(payments.PaymentError, code="payment_refused"), \
                refusals(OrderStateError, *more, code="order_state"):
            yield
    except ApiError:
        db.session.rollback()
        raise


def own_order(number: str) -> Order:
    """The caller's order; 404 for anyone else's, exactly as for one that does not exist."""
    order = orders.by_number(number)
    if order is None or order.user_id != current_user().id:
        not_found("That order")
    return order


# ---- routes ----

@blp.get("/orders")
@token_required()
@blp.arguments(KeysetArgs, location="query")
@blp.response(200, OrderPageSchema)
@blp.alt_response(422, schema=ErrorSchema, description="A cursor this API did not give.")
def list_orders(args: dict[str, Any]) -> dict[str, Any]:
    """Your orders, newest first, `limit` at a time (each without its timeline: GET /orders/{number} has it)."""
    page = orders.page_for_user(current_user(), args["cursor"], args["limit"])
    return {"items": [order_body(o, with_timeline=False) for o in page.items],
            "page": {"next_cursor": page.next_cursor, "limit": args["limit"]}}


@blp.get("/orders/<string:number>")
@token_required()
@blp.response(200, OrderSchema)
@blp.alt_response(404, schema=ErrorSchema, description="No such order of yours.")
def get_order(number: str) -> dict[str, Any]:
    """One of your orders, with its lines, amounts, shipping address and status timeline."""
    return order_body(own_order(number))


@blp.post("/orders/<string:number>/cancel")
@token_required()
@blp.arguments(OrderCancelSchema, required=False)
@blp.response(200, OrderSchema)
@blp.alt_response(404, schema=ErrorSchema, description="No such order of yours.")
@blp.alt_response(409, schema=ErrorSchema, description="It cannot be cancelled now (order_state: shipped, "
                                                       "already cancelled, changed meanwhile; payment_refused: the "
                                                       "payment provider refused the refund; already_paid: the "
                                                       "payment went through before the payment page closed, the "
                                                       "order stands and can be cancelled now).")
def cancel_order(data: dict[str, Any], number: str) -> dict[str, Any]:
    """Cancel before it ships: an unpaid order's payment page closes and its copies go back; a paid one is
    refunded (to the card through the payment provider, or with `refund_to: wallet` to your wallet at once)."""
    order = own_order(number)
    with order_refusals():
        try:
            orders.cancel(order, actor=current_user(), ip=client_ip(),
                          refund_to=(data or {}).get("refund_to", "card"))
        except payments.AlreadyPaid:  # paid just before the page closed (as the website's orders page)
            db.session.rollback()
            try:
                checkout.confirm(order)
            except payments.PaymentError:
                db.session.rollback()  # the webhook or the reconciler applies it
            raise ApiError(409, "already_paid", "Your payment had already gone through, so the order stands. You "
                                                "can cancel it now if you wish.") from None
    db.session.commit()
    db.session.refresh(order)
    return order_body(order)
