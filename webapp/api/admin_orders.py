"""API: Staff: orders. The list (search, status, dates), one order with its timeline and what staff can do to it
now, and the staff actions: mark paid, ship, refund.

Each action is services.commerce.orders' own (the admin panel's buttons): it checks the order's status, moves
it with a conditional update, writes the timeline and the audit entry. When the order is not in a state that
allows the action (or someone else moved it first), 409 `order_state` says why and nothing changes.

Staff lists page by number: `cursor` is the `next_cursor` of the page before (opaque to clients)."""
from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import marshmallow as ma
from flask_smorest import Blueprint

from ..clients import client_ip
from ..extensions import db
from ..models import ORDER_STATUSES, Order, OrderEvent, User
from ..services.circulation import wallet
from ..services.commerce import orders as order_service
from ..services.platform import paging
from .account import ShippingAddressSchema
from .auth import current_user, token_required
from .errors import fail, not_found
from .orders import order_money, order_refusals, shipping_address
from .schemas import ApiSchema, CursorArgs, ErrorSchema, Money, PageInfoSchema, Text

blp = Blueprint("api_admin_orders", __name__, url_prefix="/api/v1", description="Staff: orders.")

MAX_PAGE = 100_000


# ---- staff list paging (shared by the staff areas) ----

class StaffPageArgs(CursorArgs):
    """A page of a staff list: `cursor` is the previous page's `next_cursor`, a page number (the admin panel's
    filtered lists with their capped totals, services.platform.paging.paginate: numbered pages, not keysets)."""


class StaffPageInfoSchema(PageInfoSchema):
    total = ma.fields.Integer(required=True, metadata={"description": "How many match (counted up to a cap)."})
    total_capped = ma.fields.Boolean(required=True, metadata={"description": "true: more than `total` match."})


def page_number(cursor: str | None) -> int:
    """The page a staff list's cursor names (1 without one); 422 for a cursor this API did not give."""
    if cursor is None:
        return 1
    raw = cursor.strip()
    if not (raw.isascii() and raw.isdecimal() and len(raw) <= 6) or not 1 <= int(raw) <= MAX_PAGE:
        fail(422, "validation_failed", "That cursor is not one this API gave.", {"cursor": ["Not a valid cursor."]})
    return int(raw)


def page_info(result: paging.Page, limit: int) -> dict[str, Any]:
    return {"next_cursor": str(result.page + 1) if result.has_next and result.page < MAX_PAGE else None,
            "limit": limit, "total": result.total, "total_capped": result.total_capped}


def no_items_past_the_end(result: paging.Page, asked: int) -> list[Any]:
    """The page's items, or none when the cursor pointed past the last page (paging.paginate answers the last
    page then, which a client following cursors would read twice)."""
    return result.items if result.page == asked else []


# ---- schemas ----

class OrderListArgs(StaffPageArgs):
    q = Text(100, load_default="", metadata={"description": "Order number, email or username (part of it)."})
    status = ma.fields.String(load_default="", validate=ma.validate.OneOf(["", "sales", *ORDER_STATUSES]),
                              metadata={"description": "An order status, or 'sales' (paid, shipped or delivered)."})
    dates = ma.fields.String(load_default="created", validate=ma.validate.OneOf(["created", "paid"]),
                             metadata={"description": "Which date date_from/date_to filter: placed or paid."})
    date_from = ma.fields.Date(load_default=None)
    date_to = ma.fields.Date(load_default=None)

    @ma.validates_schema
    def validate_dates(self, data: dict[str, Any], **_: Any) -> None:
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            raise ma.ValidationError("The end date is before the start date.", "date_to")


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ma.ValidationError("Must not be blank.")


def _note(maximum: int, **kwargs: Any) -> ma.fields.String:
    """Required text that is not only spaces (the service would refuse it as a state error otherwise)."""
    return ma.fields.String(required=True, validate=[ma.validate.Length(min=1, max=maximum), _not_blank], **kwargs)


class MarkPaidSchema(ApiSchema):
    reference = _note(200, metadata={"description": "The payment reference or a note (e.g. the bank transfer's)."})


class ShipSchema(ApiSchema):
    tracking = Text(200, allow_none=True, metadata={"description": "Tracking number or note (optional)."})


class RefundSchema(ApiSchema):
    reason = _note(200, metadata={"description": "Why (kept on the order's timeline and in the audit log)."})
    refund_to = ma.fields.String(required=True, validate=ma.validate.OneOf(list(order_service.REFUND_TO)),
                                 metadata={"description": "card (through the payment provider), wallet (at once) or "
                                                          "manual (record a refund made outside the shop)."})


class AdminOrderSummarySchema(ma.Schema):
    number = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    created_at = ma.fields.DateTime(required=True)
    paid_at = ma.fields.DateTime(required=True, allow_none=True)
    email = ma.fields.String(required=True)
    customer = ma.fields.String(required=True, allow_none=True, metadata={"description": "Username; null once "
                                                                                        "the account is gone."})
    total = Money(required=True)
    item_count = ma.fields.Integer(required=True)


class OrderListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(AdminOrderSummarySchema), required=True)
    page = ma.fields.Nested(StaffPageInfoSchema, required=True)


class AdminOrderLineSchema(ma.Schema):
    book_id = ma.fields.Integer(required=True, allow_none=True)
    title = ma.fields.String(required=True)
    isbn13 = ma.fields.String(required=True)
    mode = ma.fields.String(required=True, metadata={"description": "buy or rent"})
    days = ma.fields.Integer(required=True, allow_none=True, metadata={"description": "Rental days; null to buy."})
    quantity = ma.fields.Integer(required=True)
    unit_price = Money(required=True)
    total = Money(required=True)


class TimelineEntrySchema(ma.Schema):
    status = ma.fields.String(required=True)
    note = ma.fields.String(required=True, allow_none=True)
    at = ma.fields.DateTime(required=True)
    actor = ma.fields.String(required=True, allow_none=True, metadata={"description": "Who did it (username)."})


class AdminOrderSchema(AdminOrderSummarySchema):
    user_id = ma.fields.Integer(required=True, allow_none=True)
    guest = ma.fields.Boolean(required=True, metadata={
        "description": "Placed without an account (guest checkout); user_id is null until the buyer makes an "
                       "account with that email and verifies it."})
    subtotal = Money(required=True)
    discount = Money(required=True)
    shipping = Money(required=True)
    tax = Money(required=True)
    paid_from_wallet = Money(required=True)
    refunded = Money(required=True)
    payment_provider = ma.fields.String(required=True)
    shipped_at = ma.fields.DateTime(required=True, allow_none=True)
    delivered_at = ma.fields.DateTime(required=True, allow_none=True)
    cancelled_at = ma.fields.DateTime(required=True, allow_none=True)
    refunded_at = ma.fields.DateTime(required=True, allow_none=True)
    shipping_address = ma.fields.Nested(ShippingAddressSchema, required=True)
    lines = ma.fields.List(ma.fields.Nested(AdminOrderLineSchema), required=True)
    timeline = ma.fields.List(ma.fields.Nested(TimelineEntrySchema), required=True)
    allowed_actions = ma.fields.List(ma.fields.String(), required=True,
                                     metadata={"description": "What staff can do now: mark_paid, ship, deliver, "
                                                              "cancel, refund."})


# ---- building the bodies ----

def _summary(order: Order, username: str | None) -> dict[str, Any]:
    return {"number": order.number, "status": order.status, "created_at": order.created_at, "paid_at": order.paid_at,
            "email": order.email, "customer": username, "total": order_money(order, order.total_cents),
            "item_count": order.item_count}


def _timeline(events: list[OrderEvent]) -> list[dict[str, Any]]:
    names = order_service.actor_names(events)
    return [{"status": e.status, "note": e.note, "at": e.created_at, "actor": names.get(e.actor_id or 0)}
            for e in events]


def _detail(order: Order) -> dict[str, Any]:
    db.session.refresh(order)
    events = order_service.timeline(order)
    customer = db.session.get(User, order.user_id) if order.user_id else None
    body = _summary(order, customer.username if customer else None)
    body.update(
        user_id=order.user_id, guest=order.guest, subtotal=order_money(order, order.subtotal_cents),
        discount=order_money(order, order.discount_cents), shipping=order_money(order, order.shipping_cents),
        tax=order_money(order, order.tax_cents), paid_from_wallet=order_money(order, order.wallet_cents),
        refunded=order_money(order, order.refunded_cents), payment_provider=order.payment_provider,
        shipped_at=order.shipped_at, delivered_at=order.delivered_at, cancelled_at=order.cancelled_at,
        refunded_at=order.refunded_at,
        shipping_address=shipping_address(order),
        lines=[{"book_id": line.book_id, "title": line.title, "isbn13": line.isbn13, "mode": line.mode,
                "days": line.rental_days, "quantity": line.quantity,
                "unit_price": order_money(order, line.unit_cents), "total": order_money(order, line.line_cents)}
               for line in order.lines],
        timeline=_timeline(events), allowed_actions=sorted(order_service.allowed_actions(order)))
    return body


def _order(number: str) -> Order:
    found = order_service.by_number(number)
    if found is None:
        not_found("That order")
    return found


def _acting() -> AbstractContextManager[None]:
    """Service refusals of a staff action, as a customer's cancel answers them (409 order_state, or
    payment_refused from the payment provider), a wallet that cannot refund also order_state."""
    return order_refusals(wallet.WalletError)


NOT_FOUND = {"description": "No order has that number.", "schema": ErrorSchema}
CONFLICT = {"description": "The order's status does not allow this now, or it changed meanwhile (order_state); "
                           "the payment provider refused (payment_refused).",
            "schema": ErrorSchema}


# ---- routes ----

@blp.get("/admin/orders")
@token_required("admin")
@blp.arguments(OrderListArgs, location="query")
@blp.response(200, OrderListSchema)
def list_orders(args: dict[str, Any]) -> dict[str, Any]:
    """Orders, newest first, filtered as on the admin panel (search, status, placed or paid between dates)."""
    page = page_number(args["cursor"])
    result = order_service.admin_list(q=args["q"], status=args["status"], dates=args["dates"],
                                      date_from=args["date_from"], date_to=args["date_to"], page=page,
                                      per_page=args["limit"])
    return {"items": [_summary(order, username) for order, username in no_items_past_the_end(result, page)],
            "page": page_info(result, args["limit"])}


@blp.get("/admin/orders/<number>")
@token_required("admin")
@blp.response(200, AdminOrderSchema)
@blp.alt_response(404, **NOT_FOUND)
def get_order(number: str) -> dict[str, Any]:
    """One order: lines, amounts, address, payment, timeline and the actions staff can take now."""
    return _detail(_order(number))


@blp.post("/admin/orders/<number>/mark-paid")
@token_required("admin")
@blp.arguments(MarkPaidSchema)
@blp.response(200, AdminOrderSchema)
@blp.alt_response(404, **NOT_FOUND)
@blp.alt_response(409, **CONFLICT)
def mark_paid(data: dict[str, Any], number: str) -> dict[str, Any]:
    """Record a payment taken outside the checkout (bank transfer, cash): the sale completes as after a card
    payment (stock committed, receipt sent). Audited."""
    order = _order(number)
    with _acting():
        order_service.mark_paid(order, actor=current_user(), reference=data["reference"], ip=client_ip())
    db.session.commit()
    return _detail(order)


@blp.post("/admin/orders/<number>/ship")
@token_required("admin")
@blp.arguments(ShipSchema)
@blp.response(200, AdminOrderSchema)
@blp.alt_response(404, **NOT_FOUND)
@blp.alt_response(409, **CONFLICT)
def ship(data: dict[str, Any], number: str) -> dict[str, Any]:
    """Paid → shipped; the customer is emailed (with the tracking note, if any). Audited."""
    order = _order(number)
    with _acting():
        order_service.mark_shipped(order, actor=current_user(), tracking=data.get("tracking"), ip=client_ip())
    db.session.commit()
    return _detail(order)


@blp.post("/admin/orders/<number>/refund")
@token_required("admin")
@blp.arguments(RefundSchema)
@blp.response(200, AdminOrderSchema)
@blp.alt_response(404, **NOT_FOUND)
@blp.alt_response(409, **CONFLICT)
def refund(data: dict[str, Any], number: str) -> dict[str, Any]:
    """A full refund. Paid but not shipped: cancelled (stock returns) and refunded; shipped or delivered:
    refunded at once. The wallet part is credited now; a card part is refunded through the payment provider.
    Audited."""
    order = _order(number)
    with _acting():
        order_service.refund(order, actor=current_user(), reason=data["reason"], refund_to=data["refund_to"],
                             ip=client_ip())
    db.session.commit()
    return _detail(order)
