"""API: your plan (status, the plans with what choosing each would do, change) and your wallet (balance,
statement). The rules are services.circulation.subscriptions and .wallet, as on /account/subscription and
/account/wallet: subscribing or upgrading is paid now, from the wallet or by card (a payment page of
services.commerce.charges; the plan changes once the payment is confirmed); downgrading or cancelling takes
effect at the end of the period."""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import current_app
from flask_smorest import Blueprint

from ..clients import client_ip
from ..extensions import db
from ..links import absolute, charge_done_url, public_url
from ..models import User, WalletEntry
from ..services.circulation import subscriptions
from ..services.circulation import wallet as wallet_service
from ..services.commerce import charges, payments
from .auth import current_user, token_required
from .errors import ApiError, refusals
from .schemas import ApiSchema, ErrorSchema, KeysetArgs, Money, PageInfoSchema, money

blp = Blueprint("api_membership", __name__, url_prefix="/api/v1",
                description="Your plan (Free, Plus, Premium) and your wallet.")

PLAN_NAMES = [str(t) for t in subscriptions.ORDER]


class PlanSchema(ma.Schema):
    name = ma.fields.String(required=True, metadata={"description": "free, plus or premium."})
    label = ma.fields.String(required=True)
    price = Money(required=True, metadata={"description": "Per period."})
    period_days = ma.fields.Integer(required=True)
    max_rental_days = ma.fields.Integer(required=True)
    max_books = ma.fields.Integer(required=True, metadata={"description": "Rentals and holds at once."})
    discount_pct = ma.fields.Integer(required=True, metadata={"description": "Off purchases."})
    hold_window_days = ma.fields.Integer(required=True, metadata={"description": "How long a set-aside copy waits."})


class PlanQuoteSchema(ma.Schema):
    kind = ma.fields.String(required=True, metadata={
        "description": "What choosing the plan does: subscribe, upgrade (paid now), downgrade, cancel (at the end "
                       "of the period), resume (call off a scheduled change) or same (nothing)."})
    plan = ma.fields.String(required=True)
    charge = Money(required=True, metadata={"description": "Due now."})
    effective = ma.fields.DateTime(required=True, allow_none=True,
                                   metadata={"description": "When a downgrade or cancellation takes effect."})


class PlanOptionSchema(PlanSchema):
    current = ma.fields.Boolean(required=True)
    change = ma.fields.Nested(PlanQuoteSchema, required=True)


class SubscriptionSchema(ma.Schema):
    plan = ma.fields.Nested(PlanSchema, required=True)
    next_plan = ma.fields.String(required=True, allow_none=True,
                                 metadata={"description": "What the plan becomes at the end of the period (a "
                                                          "downgrade or cancellation), or null: it renews."})
    current_period_start = ma.fields.DateTime(required=True, allow_none=True)
    current_period_end = ma.fields.DateTime(required=True, allow_none=True,
                                            metadata={"description": "Renewal (from the wallet) or change date."})
    wallet = Money(required=True)


class PlanChangeSchema(ApiSchema):
    plan = ma.fields.String(required=True, validate=ma.validate.OneOf(PLAN_NAMES))
    pay_with = ma.fields.String(load_default="wallet", validate=ma.validate.OneOf(["wallet", "card"]),
                                metadata={"description": "For a change that costs something now: from the wallet "
                                                         "(default) or by card (answers 202 with a payment_url)."})


class PlanChangeResultSchema(ma.Schema):
    change = ma.fields.Nested(PlanQuoteSchema, required=True)
    subscription = ma.fields.Nested(SubscriptionSchema, required=True,
                                    metadata={"description": "After the change (unchanged while a card payment "
                                                             "is awaited)."})
    payment_url = ma.fields.String(required=True, allow_none=True,
                                   metadata={"description": "Pay here (by card) to finish the change; null when "
                                                            "the change is done."})


class WalletBalanceSchema(ma.Schema):
    balance = Money(required=True)


class WalletEntrySchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    created_at = ma.fields.DateTime(required=True)
    amount = Money(required=True, metadata={"description": "Positive: credit; negative: debit."})
    balance_after = Money(required=True)
    reason = ma.fields.String(required=True, metadata={"description": "top_up, order_payment, refund, "
                                                                      "cancellation, late_fee, hold_fee, "
                                                                      "subscription or adjustment."})
    reference = ma.fields.String(required=True, allow_none=True)
    description = ma.fields.String(required=True, metadata={"description": "As the statement on the website."})
    note = ma.fields.String(required=True, allow_none=True)


class WalletStatementSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(WalletEntrySchema), required=True, metadata={"description": "Newest first."})
    page = ma.fields.Nested(PageInfoSchema, required=True)


def _plan(plan: subscriptions.Plan) -> dict[str, Any]:
    return {"name": str(plan.name), "label": plan.label, "price": money(plan.price_cents),
            "period_days": current_app.config["SUBSCRIPTION_PERIOD_DAYS"], "max_rental_days": plan.max_rental_days,
            "max_books": plan.max_books, "discount_pct": plan.discount_pct, "hold_window_days": plan.hold_window_days}


def _quote(q: subscriptions.ChangeQuote) -> dict[str, Any]:
    return {"kind": str(q.kind), "plan": str(q.tier.name), "charge": money(q.charge_cents), "effective": q.effective}


def _subscription(user: User) -> dict[str, Any]:
    sub = subscriptions.subscription_of(user.id)
    return {"plan": _plan(subscriptions.tier_of(user)), "next_plan": sub.next_tier if sub else None,
            "current_period_start": sub.current_period_start if sub else None,
            "current_period_end": sub.current_period_end if sub else None,
            "wallet": money(wallet_service.balance(user.id))}


@blp.get("/subscription")
@token_required()
@blp.response(200, SubscriptionSchema)
def get_subscription() -> dict[str, Any]:
    """Your plan now, its period, and what it becomes at the end of the period."""
    return _subscription(current_user())


@blp.get("/subscription/plans")
@token_required()
@blp.response(200, PlanOptionSchema(many=True))
def list_plans() -> list[dict[str, Any]]:
    """Every plan, cheapest first, with what choosing it would do for you and cost now."""
    user = current_user()
    current = subscriptions.tier_of(user).name
    return [{**_plan(p), "current": p.name == current, "change": _quote(subscriptions.quote_change(user, p.name))}
            for p in subscriptions.all_tiers()]


@blp.post("/subscription")
@token_required()
@blp.arguments(PlanChangeSchema)
@blp.response(200, PlanChangeResultSchema)
@blp.alt_response(202, schema=PlanChangeResultSchema, description="Pay by card at `payment_url`: the plan changes "
                                                              "once the payment is confirmed.")
@blp.alt_response(409, schema=ErrorSchema, description="Refused: insufficient_funds (pay by card or top up), "
                                                       "plan_refused (already on that plan, ...), payment_refused.")
def change_subscription(data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Choose a plan: subscribe or upgrade (paid now, from the wallet or by card), downgrade or cancel (at the end
    of the period), or resume a plan whose change is scheduled."""
    user = current_user()
    q = subscriptions.quote_change(user, data["plan"])
    if q.charge_cents and data["pay_with"] == "card":
        with refusals(charges.ChargeError, payments.PaymentError, code="payment_refused"):
            _, url = charges.start(user, "subscription", q.charge_cents,
                                   success_url=lambda c: charge_done_url(c.reference),
                                   cancel_url=lambda c: public_url("account.subscription"), tier=q.tier.name)
        return {"change": _quote(q), "subscription": _subscription(user), "payment_url": absolute(url)}, 202
    try:
        done = subscriptions.change(user, data["plan"], ip=client_ip())
    except wallet_service.InsufficientFunds as exc:
        db.session.rollback()
        raise ApiError(409, "insufficient_funds", f"{exc} Pay by card (pay_with: card) or top up your wallet.",
                       {"pay_with": ["The wallet does not cover this: choose card."]}) from exc
    except subscriptions.SubscriptionError as exc:
        db.session.rollback()
        raise ApiError(409, "plan_refused", str(exc)) from exc
    db.session.commit()
    return {"change": _quote(done), "subscription": _subscription(user), "payment_url": None}, 200


@blp.get("/wallet")
@token_required()
@blp.response(200, WalletBalanceSchema)
def get_wallet() -> dict[str, Any]:
    """Your wallet balance (refunds, top-ups; spent on orders, plans and fees)."""
    return {"balance": money(wallet_service.balance(current_user().id))}


def _entry(entry: WalletEntry) -> dict[str, Any]:
    return {"id": entry.id, "created_at": entry.created_at, "amount": money(entry.amount_cents),
            "balance_after": money(entry.balance_after_cents), "reason": entry.reason, "reference": entry.reference,
            "description": wallet_service.describe(entry), "note": entry.note}


@blp.get("/wallet/statement")
@token_required()
@blp.arguments(KeysetArgs, location="query")
@blp.response(200, WalletStatementSchema)
def wallet_statement(args: dict[str, Any]) -> dict[str, Any]:
    """Your wallet's entries, newest first, each with the balance after it; page on with `next_cursor`."""
    page = wallet_service.statement_after(current_user().id, args["cursor"], args["limit"])
    return {"items": [_entry(e) for e in page.items], "page": {"next_cursor": page.next_cursor,
                                                               "limit": args["limit"]}}
