"""API: your fees (late, lost-book and hold no-show fees still due) and paying them from your wallet.

The rules are services.circulation.fees, as in the fees box on /account/rentals: a fee due blocks renting;
money added to the wallet pays fees first; "pay" takes what is due from the wallet as far as it goes (all fees,
oldest first, or the one you name)."""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_smorest import Blueprint

from ..extensions import db
from ..services.circulation import fees
from ..services.circulation import wallet as wallet_service
from .auth import current_user, token_required
from .errors import fail
from .schemas import ApiSchema, ErrorSchema, Id, Money, money

blp = Blueprint("api_fees", __name__, url_prefix="/api/v1",
                description="Your fees (late returns, lost books, uncollected holds) and paying them.")


class FeeSchema(ma.Schema):
    kind = ma.fields.String(required=True, metadata={"description": "rental or hold."})
    id = ma.fields.Integer(required=True, metadata={"description": "The rental's or the hold's id."})
    title = ma.fields.String(required=True, metadata={"description": "The book."})
    reason = ma.fields.String(required=True, metadata={"description": "What the fee is for, in words."})
    fee = Money(required=True)
    paid = Money(required=True)
    waived = Money(required=True, metadata={"description": "Let off by staff."})
    due = Money(required=True, metadata={"description": "Still to pay: fee - paid - waived."})
    since = ma.fields.DateTime(required=True, allow_none=True, metadata={"description": "When the fee arose."})


class FeesSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(FeeSchema), required=True, metadata={"description": "Oldest first."})
    total = Money(required=True, metadata={"description": "All that is due; while above zero you cannot rent."})
    wallet = Money(required=True, metadata={"description": "Your wallet balance."})


class PayFeesSchema(ApiSchema):
    kind = ma.fields.String(validate=ma.validate.OneOf(list(fees.KINDS)),
                            metadata={"description": "Optional, with `id`: pay this one fee only."})
    id = Id(metadata={"description": "Optional, with `kind`: the rental's or the hold's id."})

    @ma.validates_schema
    def _both_or_neither(self, data: dict[str, Any], **_: Any) -> None:
        if ("kind" in data) != ("id" in data):
            raise ma.ValidationError("Send both kind and id, or neither.", "kind" if "kind" not in data else "id")


class PaidFeesSchema(FeesSchema):
    paid = Money(required=True, metadata={"description": "Taken from your wallet by this call (zero if the "
                                                         "wallet is empty or nothing was due)."})


def _fees(user_id: int) -> dict[str, Any]:
    return {"items": [{"kind": f.kind, "id": f.id, "title": f.title, "reason": f.reason, "fee": money(f.fee_cents),
                       "paid": money(f.paid_cents), "waived": money(f.waived_cents), "due": money(f.due_cents),
                       "since": f.when} for f in fees.outstanding(user_id)],
            "total": money(fees.total_due(user_id)), "wallet": money(wallet_service.balance(user_id))}


@blp.get("/fees")
@token_required()
@blp.response(200, FeesSchema)
def list_fees() -> dict[str, Any]:
    """Your fees with something still due, oldest first, and their total."""
    return _fees(current_user().id)


@blp.post("/fees/pay")
@token_required()
@blp.arguments(PayFeesSchema)
@blp.response(200, PaidFeesSchema)
@blp.alt_response(404, schema=ErrorSchema, description="No fee due with that kind and id among yours.")
def pay_fees(data: dict[str, Any]) -> dict[str, Any]:
    """Pay your fees from your wallet, as far as the balance goes (all, oldest first, or the one named); what
    is left stays due: top up your wallet (a top-up pays fees first) or pay on the website by card."""
    user_id = current_user().id
    if "kind" in data and fees.item(user_id, data["kind"], data["id"]) is None:
        fail(404, "not_found", "No fee is due with that kind and id among yours.")
    try:
        paid, _left = fees.pay_now(user_id, data.get("kind"), data.get("id"))
    except fees.FeeError:
        db.session.rollback()
        fail(404, "not_found", "No fee is due with that kind and id among yours.")
    db.session.commit()
    return _fees(user_id) | {"paid": money(paid)}
